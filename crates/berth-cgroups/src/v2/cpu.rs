//! v2 cpu controller: `cpu.weight` (converted from shares), `cpu.max`, `cpu.max.burst`,
//! `cpu.idle`, and the CPU stats from `cpu.stat`.

use oci_spec::runtime::LinuxCpu;

use crate::error::{Error, Result};
use crate::fs::CgroupDir;
use crate::stats::{CpuStats, ThrottlingStats};

/// Whether the spec sets anything this controller writes.
pub fn wants(c: &LinuxCpu) -> bool {
    c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || c.realtime_period().is_some()
        || c.realtime_runtime().is_some()
}

/// Convert v1 shares (2..=262144, default 1024) to a v2 weight (1..=10000, default 100) with
/// the log-quadratic mapping runc ≥ 1.3.2 and crun use, which keeps the defaults aligned:
/// weight = ⌈10^((l² + 125·l) / 612 − 7/34)⌉ with l = log2(shares). `0` means unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let shares = shares.clamp(2, 262_144) as f64;
    let l = shares.log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    // The small epsilon keeps exact powers of ten (shares 2, 1024, 262144) from rounding up.
    let w = (10f64.powf(exponent) - 1e-9).ceil();
    (w as u64).clamp(1, 10_000)
}

/// The `cpu.max` line: "QUOTA PERIOD" with "max" for no quota; a missing half keeps the
/// current value (`current` is the file's content).
pub fn cpu_max(quota: Option<i64>, period: Option<u64>, current: &str) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let mut cur = current.split_whitespace();
    let cur_quota = cur.next().unwrap_or("max").to_string();
    let cur_period = cur.next().unwrap_or("100000").to_string();
    let q = match quota {
        Some(q) if q > 0 => q.to_string(),
        Some(_) => "max".to_string(),
        None => cur_quota,
    };
    let p = match period {
        Some(p) if p > 0 => p.to_string(),
        _ => cur_period,
    };
    Some(format!("{q} {p}"))
}

/// Write the CPU settings the spec sets.
pub fn apply(dir: &CgroupDir, c: &LinuxCpu) -> Result<()> {
    if c.realtime_runtime().unwrap_or(0) != 0 || c.realtime_period().unwrap_or(0) != 0 {
        return Err(Error::Unsupported("realtime CPU scheduling".into()));
    }
    if let Some(shares) = c.shares() {
        let w = shares_to_weight(shares);
        if w != 0 {
            dir.write("cpu.weight", w.to_string())?;
        }
    }
    let current = if c.quota().is_none() || c.period().is_none() {
        dir.read_opt("cpu.max")?.unwrap_or_default()
    } else {
        String::new()
    };
    if let Some(line) = cpu_max(c.quota(), c.period(), &current) {
        dir.write("cpu.max", line)?;
    }
    if let Some(b) = c.burst() {
        dir.write("cpu.max.burst", b.to_string())?;
    }
    if let Some(idle) = c.idle() {
        dir.write("cpu.idle", idle.to_string())?;
    }
    Ok(())
}

/// Read the CPU stats (v2 has no per-CPU usage).
pub fn stats(dir: &CgroupDir) -> Result<CpuStats> {
    let s = dir.read_keyed("cpu.stat")?;
    let us = |k: &str| s.get(k).copied().unwrap_or(0).saturating_mul(1000);
    Ok(CpuStats {
        usage_total_ns: us("usage_usec"),
        usage_user_ns: us("user_usec"),
        usage_system_ns: us("system_usec"),
        per_cpu_ns: Vec::new(),
        throttling: ThrottlingStats {
            periods: s.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: s.get("nr_throttled").copied().unwrap_or(0),
            throttled_time_ns: us("throttled_usec"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1), 1, "clamped up");
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1_000_000), 10_000, "clamped down");
        // Published data points of the formula.
        assert_eq!(shares_to_weight(2000), 170);
        assert_eq!(shares_to_weight(512), 59);
        let mut last = 0;
        for s in (2..=262_144).step_by(97) {
            let w = shares_to_weight(s);
            assert!(w >= last, "monotonic at {s}");
            last = w;
        }
    }

    #[test]
    fn cpu_max_line() {
        assert_eq!(cpu_max(None, None, "max 100000"), None);
        assert_eq!(
            cpu_max(Some(50_000), Some(100_000), "").as_deref(),
            Some("50000 100000")
        );
        assert_eq!(
            cpu_max(Some(-1), None, "20000 50000\n").as_deref(),
            Some("max 50000")
        );
        assert_eq!(
            cpu_max(None, Some(200_000), "20000 50000\n").as_deref(),
            Some("20000 200000")
        );
    }
}
