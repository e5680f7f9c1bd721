//! v1 hugetlb controller: `hugetlb.<size>.limit_in_bytes` and usage counters.

use std::collections::BTreeMap;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::error::Result;
use crate::fs::CgroupDir;
use crate::hugepages;
use crate::stats::HugetlbStats;

/// Write each page size's limit, checking the size exists first.
pub fn apply(dir: &CgroupDir, limits: &[LinuxHugepageLimit]) -> Result<()> {
    let sizes = hugepages::page_sizes();
    for l in limits {
        hugepages::check_page_size(l.page_size(), &sizes)?;
        dir.write(
            &format!("hugetlb.{}.limit_in_bytes", l.page_size()),
            l.limit().to_string(),
        )?;
    }
    Ok(())
}

/// Read usage, peak and failures per page size.
pub fn stats(dir: &CgroupDir) -> Result<BTreeMap<String, HugetlbStats>> {
    let mut out = BTreeMap::new();
    for size in hugepages::page_sizes() {
        let Some(usage) = dir.read_u64_opt(&format!("hugetlb.{size}.usage_in_bytes"))? else {
            continue;
        };
        out.insert(
            size.clone(),
            HugetlbStats {
                usage,
                max_usage: dir
                    .read_u64_opt(&format!("hugetlb.{size}.max_usage_in_bytes"))?
                    .unwrap_or(0),
                failcnt: dir
                    .read_u64_opt(&format!("hugetlb.{size}.failcnt"))?
                    .unwrap_or(0),
            },
        );
    }
    Ok(out)
}
