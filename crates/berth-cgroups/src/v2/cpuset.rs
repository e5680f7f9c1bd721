//! v2 cpuset controller: `cpuset.cpus` and `cpuset.mems`.

use oci_spec::runtime::LinuxCpu;

use crate::error::Result;
use crate::fs::CgroupDir;

/// Whether the spec sets a CPU or memory-node list.
pub fn wants(c: &LinuxCpu) -> bool {
    c.cpus().as_deref().is_some_and(|s| !s.is_empty())
        || c.mems().as_deref().is_some_and(|s| !s.is_empty())
}

/// Write the lists the spec sets.
pub fn apply(dir: &CgroupDir, c: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        dir.write("cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        dir.write("cpuset.mems", mems)?;
    }
    Ok(())
}
