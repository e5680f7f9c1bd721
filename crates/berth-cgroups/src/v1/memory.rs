//! v1 memory controller: limits (keeping memory ≤ memory+swap at every step), soft limit,
//! kernel memory (best effort: recent kernels refuse it), swappiness, OOM killer switch, and
//! the memory stats including `oom_kill` from `memory.oom_control`.

use oci_spec::runtime::LinuxMemory;

use crate::error::{Error, Result};
use crate::fs::CgroupDir;
use crate::stats::MemoryStats;

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// Whether the spec sets anything this controller writes.
pub fn wants(m: &LinuxMemory) -> bool {
    m.limit().is_some()
        || m.reservation().is_some()
        || m.swap().is_some()
        || m.kernel().is_some()
        || m.kernel_tcp().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
}

/// The order to write the two limits in: memory+swap first when the new total is above the
/// current memory limit (or unlimited), else memory first, so memsw ≥ memory always holds.
pub fn swap_first(current_limit: Option<u64>, new_total: i64) -> bool {
    match current_limit {
        _ if new_total < 0 => true,
        None => false,
        Some(cur) => (new_total as u64) > cur,
    }
}

/// Write the memory settings the spec sets.
pub fn apply(dir: &CgroupDir, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    // An unlimited memory limit with swap unset means both unlimited (runc's rule).
    if limit == -1 && swap == 0 {
        swap = -1;
    }
    if swap != 0 && !dir.has(MEMSW) {
        if swap != -1 {
            return Err(Error::Unsupported(
                "a swap limit (the kernel does not account swap)".into(),
            ));
        }
        swap = 0;
    }
    if limit != 0 && swap != 0 {
        if swap > 0 && limit > 0 && swap < limit {
            return Err(Error::InvalidResources(format!(
                "memory+swap limit {swap} is below the memory limit {limit}"
            )));
        }
        if swap_first(dir.read_limit(LIMIT)?, swap) {
            dir.write(MEMSW, swap.to_string())?;
            dir.write(LIMIT, limit.to_string())?;
        } else {
            dir.write(LIMIT, limit.to_string())?;
            dir.write(MEMSW, swap.to_string())?;
        }
    } else if limit != 0 {
        dir.write(LIMIT, limit.to_string())?;
    } else if swap != 0 {
        dir.write(MEMSW, swap.to_string())?;
    }
    if let Some(r) = m.reservation() {
        dir.write("memory.soft_limit_in_bytes", r.to_string())?;
    }
    // Kernel memory limits are deprecated and refused by kernels ≥ 6.1: try, warn on failure.
    for (file, v) in [
        ("memory.kmem.limit_in_bytes", m.kernel()),
        ("memory.kmem.tcp.limit_in_bytes", m.kernel_tcp()),
    ] {
        if let Some(v) = v {
            if let Err(e) = dir.write(file, v.to_string()) {
                tracing::warn!(error = %e, "kernel memory limit not set");
            }
        }
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::InvalidResources(format!(
                "memory swappiness {s} is above 100"
            )));
        }
        dir.write("memory.swappiness", s.to_string())?;
    }
    if let Some(d) = m.disable_oom_killer() {
        dir.write("memory.oom_control", if d { "1" } else { "0" })?;
    }
    Ok(())
}

/// Read the memory stats.
pub fn stats(dir: &CgroupDir) -> Result<MemoryStats> {
    let stat = dir.read_keyed("memory.stat")?;
    let oom = dir.read_keyed("memory.oom_control")?;
    let usage = dir.read_u64_opt("memory.usage_in_bytes")?.unwrap_or(0);
    let memsw = dir.read_u64_opt("memory.memsw.usage_in_bytes")?;
    let pick = |hier: &str, local: &str| {
        stat.get(hier)
            .or_else(|| stat.get(local))
            .copied()
            .unwrap_or(0)
    };
    let oom_kill = oom.get("oom_kill").copied().unwrap_or(0);
    Ok(MemoryStats {
        usage,
        max_usage: dir.read_u64_opt("memory.max_usage_in_bytes")?.unwrap_or(0),
        limit: dir.read_limit(LIMIT)?,
        cache: pick("total_cache", "cache"),
        rss: pick("total_rss", "rss"),
        swap_usage: memsw.map_or(0, |t| t.saturating_sub(usage)),
        swap_limit: dir.read_limit(MEMSW)?,
        failcnt: dir.read_u64_opt("memory.failcnt")?.unwrap_or(0),
        oom_kill,
        oom_events: oom_kill,
        under_oom: oom.get("under_oom").copied().unwrap_or(0) != 0,
        stat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_order() {
        assert!(swap_first(Some(100), 200), "raising: memsw first");
        assert!(!swap_first(Some(300), 200), "lowering: memory first");
        assert!(swap_first(Some(100), -1), "unlimited memsw first");
        assert!(!swap_first(None, 200), "from unlimited: memory first");
    }
}
