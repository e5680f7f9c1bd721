//! v2 pids controller: `pids.max` and the pid count. The file names match v1's, so the v1
//! manager uses this module too.

use oci_spec::runtime::LinuxPids;

use crate::error::Result;
use crate::fs::CgroupDir;
use crate::stats::PidsStats;

/// Whether the spec sets a limit (0 means unset, as in runc).
pub fn wants(p: &LinuxPids) -> bool {
    p.limit() != 0
}

/// Write `pids.max` ("max" for a negative limit).
pub fn apply(dir: &CgroupDir, p: &LinuxPids) -> Result<()> {
    match p.limit() {
        0 => Ok(()),
        l if l < 0 => dir.write("pids.max", "max"),
        l => dir.write("pids.max", l.to_string()),
    }
}

/// Read `pids.current` and `pids.max`.
pub fn stats(dir: &CgroupDir) -> Result<PidsStats> {
    Ok(PidsStats {
        current: dir.read_u64_opt("pids.current")?.unwrap_or(0),
        limit: dir.read_limit("pids.max")?,
    })
}
