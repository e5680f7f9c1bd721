//! v2 memory controller: `memory.max`, `memory.low`, `memory.swap.max`, and the memory stats.

use oci_spec::runtime::LinuxMemory;

use crate::error::{Error, Result};
use crate::fs::{v2_limit, CgroupDir};
use crate::stats::MemoryStats;

/// Whether the spec sets anything this controller writes.
pub fn wants(m: &LinuxMemory) -> bool {
    m.limit().is_some() || m.reservation().is_some() || m.swap().is_some()
}

/// v2's swap limit from the spec's memory+swap total, as runc computes it: `-1` means
/// unlimited, `0` means unset (`None`), an unlimited memory limit with swap unset means
/// unlimited swap, and otherwise swap = total − memory.
pub fn swap_max(limit: Option<i64>, swap: Option<i64>) -> Result<Option<i64>> {
    let memory = limit.unwrap_or(0);
    let total = swap.unwrap_or(0);
    if memory == -1 && total == 0 {
        return Ok(Some(-1));
    }
    if total == -1 {
        return Ok(Some(-1));
    }
    if total == 0 {
        return Ok(None);
    }
    if memory <= 0 {
        return Err(Error::InvalidResources(
            "a swap limit needs a memory limit".into(),
        ));
    }
    if total < memory {
        return Err(Error::InvalidResources(format!(
            "memory+swap limit {total} is below the memory limit {memory}"
        )));
    }
    Ok(Some(total - memory))
}

/// Write the memory settings the spec sets.
pub fn apply(dir: &CgroupDir, m: &LinuxMemory) -> Result<()> {
    let swap = swap_max(m.limit(), m.swap())?;
    if let Some(s) = swap {
        if dir.has("memory.swap.max") {
            dir.write("memory.swap.max", v2_limit(s))?;
        } else if s != -1 {
            return Err(Error::Unsupported(
                "a swap limit (the kernel does not account swap)".into(),
            ));
        }
    }
    if let Some(l) = m.limit() {
        dir.write("memory.max", v2_limit(l))?;
    }
    if let Some(r) = m.reservation() {
        dir.write("memory.low", v2_limit(r))?;
    }
    if m.kernel().is_some() || m.kernel_tcp().is_some() {
        tracing::warn!("kernel memory limits do not exist in cgroup v2; ignored");
    }
    if m.swappiness().is_some() {
        tracing::warn!("memory swappiness does not exist in cgroup v2; ignored");
    }
    if m.disable_oom_killer() == Some(true) {
        tracing::warn!("disabling the OOM killer is not possible in cgroup v2; ignored");
    }
    Ok(())
}

/// Read the memory stats.
pub fn stats(dir: &CgroupDir) -> Result<MemoryStats> {
    let stat = dir.read_keyed("memory.stat")?;
    let events = dir.read_keyed("memory.events")?;
    Ok(MemoryStats {
        usage: dir.read_u64_opt("memory.current")?.unwrap_or(0),
        max_usage: dir.read_u64_opt("memory.peak")?.unwrap_or(0),
        limit: dir.read_limit("memory.max")?,
        cache: stat.get("file").copied().unwrap_or(0),
        rss: stat.get("anon").copied().unwrap_or(0),
        swap_usage: dir.read_u64_opt("memory.swap.current")?.unwrap_or(0),
        swap_limit: dir.read_limit("memory.swap.max")?,
        failcnt: events.get("max").copied().unwrap_or(0),
        oom_kill: events.get("oom_kill").copied().unwrap_or(0),
        oom_events: events.get("oom").copied().unwrap_or(0),
        under_oom: false,
        stat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_arithmetic() {
        assert_eq!(swap_max(Some(100), Some(300)).ok(), Some(Some(200)));
        assert_eq!(swap_max(Some(100), Some(100)).ok(), Some(Some(0)));
        assert_eq!(swap_max(Some(100), Some(-1)).ok(), Some(Some(-1)));
        assert_eq!(swap_max(Some(-1), None).ok(), Some(Some(-1)));
        assert_eq!(swap_max(Some(100), None).ok(), Some(None));
        assert_eq!(swap_max(None, None).ok(), Some(None));
        assert!(swap_max(None, Some(100)).is_err());
        assert!(swap_max(Some(200), Some(100)).is_err());
    }
}
