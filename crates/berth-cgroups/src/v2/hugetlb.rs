//! v2 hugetlb controller: `hugetlb.<size>.max` and usage. Also used on hybrid hosts, where
//! hugetlb is often left to the unified hierarchy.

use std::collections::BTreeMap;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::error::Result;
use crate::fs::{v2_limit, CgroupDir};
use crate::hugepages;
use crate::stats::HugetlbStats;

/// Write each page size's limit, checking the size exists first.
pub fn apply(dir: &CgroupDir, limits: &[LinuxHugepageLimit]) -> Result<()> {
    let sizes = hugepages::page_sizes();
    for l in limits {
        hugepages::check_page_size(l.page_size(), &sizes)?;
        dir.write(
            &format!("hugetlb.{}.max", l.page_size()),
            v2_limit(l.limit()),
        )?;
    }
    Ok(())
}

/// Read usage and limit failures per page size.
pub fn stats(dir: &CgroupDir) -> Result<BTreeMap<String, HugetlbStats>> {
    let mut out = BTreeMap::new();
    for size in hugepages::page_sizes() {
        let Some(usage) = dir.read_u64_opt(&format!("hugetlb.{size}.current"))? else {
            continue;
        };
        let events = dir.read_keyed(&format!("hugetlb.{size}.events"))?;
        out.insert(
            size,
            HugetlbStats {
                usage,
                max_usage: 0,
                failcnt: events.get("max").copied().unwrap_or(0),
            },
        );
    }
    Ok(out)
}
