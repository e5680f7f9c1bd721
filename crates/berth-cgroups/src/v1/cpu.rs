//! v1 cpu and cpuacct controllers: shares, CFS quota/period/burst, realtime budget, idle,
//! and CPU usage (cpuacct) with throttling (cpu.stat).

use oci_spec::runtime::LinuxCpu;

use crate::error::{Error, Result};
use crate::fs::CgroupDir;
use crate::stats::{CpuStats, ThrottlingStats};

/// Whether the spec sets anything the cpu controller writes.
pub fn wants(c: &LinuxCpu) -> bool {
    crate::v2::cpu::wants(c)
}

/// Write the CPU settings the spec sets.
pub fn apply(dir: &CgroupDir, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        dir.write("cpu.shares", s.to_string())?;
        // The kernel clamps silently; say so instead.
        let got = dir.read_u64("cpu.shares")?;
        if got != s {
            return Err(Error::InvalidResources(format!(
                "cpu shares {s} out of range (the kernel set {got})"
            )));
        }
    }
    let period = c.period().filter(|p| *p != 0);
    let quota = c.quota().filter(|q| *q != 0);
    if period.is_some() || quota.is_some() {
        // Period first, quota second; if the kernel refuses the pair in that order (the old
        // quota does not fit the new period), the other order.
        let write_period = || match period {
            Some(p) => dir.write("cpu.cfs_period_us", p.to_string()),
            None => Ok(()),
        };
        let write_quota = || match quota {
            Some(q) => dir.write("cpu.cfs_quota_us", q.max(-1).to_string()),
            None => Ok(()),
        };
        if write_period().and_then(|_| write_quota()).is_err() {
            write_quota()?;
            write_period()?;
        }
    }
    if let Some(b) = c.burst() {
        dir.write("cpu.cfs_burst_us", b.to_string())?;
    }
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        dir.write("cpu.rt_period_us", p.to_string())?;
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        dir.write("cpu.rt_runtime_us", r.to_string())?;
    }
    if let Some(i) = c.idle() {
        dir.write("cpu.idle", i.to_string())?;
    }
    Ok(())
}

/// Clock ticks per second for `cpuacct.stat`.
fn user_hz() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Usage from cpuacct (`cpuacct` may be `None` when unmounted), throttling from cpu.
pub fn stats(cpuacct: Option<&CgroupDir>, cpu: Option<&CgroupDir>) -> Result<CpuStats> {
    let mut out = CpuStats::default();
    if let Some(d) = cpuacct {
        out.usage_total_ns = d.read_u64_opt("cpuacct.usage")?.unwrap_or(0);
        match (
            d.read_u64_opt("cpuacct.usage_user")?,
            d.read_u64_opt("cpuacct.usage_sys")?,
        ) {
            (Some(u), Some(s)) => {
                out.usage_user_ns = u;
                out.usage_system_ns = s;
            }
            _ => {
                let st = d.read_keyed("cpuacct.stat")?;
                let ns = 1_000_000_000 / user_hz();
                out.usage_user_ns = st.get("user").copied().unwrap_or(0) * ns;
                out.usage_system_ns = st.get("system").copied().unwrap_or(0) * ns;
            }
        }
        if let Some(text) = d.read_opt("cpuacct.usage_percpu")? {
            out.per_cpu_ns = text
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
        }
    }
    if let Some(d) = cpu {
        let s = d.read_keyed("cpu.stat")?;
        out.throttling = ThrottlingStats {
            periods: s.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: s.get("nr_throttled").copied().unwrap_or(0),
            throttled_time_ns: s.get("throttled_time").copied().unwrap_or(0),
        };
    }
    Ok(out)
}
