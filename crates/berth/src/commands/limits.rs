//! The resource flags `run`, `create` and `update` share (docker's names and parsing), and
//! the value parsers behind them: sizes (`32m`), CPUs (`0.5`).

use clap::Args;
use serde_json::{json, Map, Value};

use crate::Failure;

/// Limits `update` can change on a running container; `run`/`create` take them too.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitFlags {
    /// Memory limit (e.g. 32m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

/// docker's "invalid argument" usage error.
pub fn invalid(value: &str, flag: &str, why: impl std::fmt::Display) -> Failure {
    Failure::daemon(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}"
    ))
}

/// Docker's `units.RAMInBytes`: `32m`, `1.5g`, `512k`, `1024`, `64MiB` (binary units).
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: i64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((n * mult as f64) as i64)
}

/// A size flag value, with docker's error for a bad one.
pub fn size(value: &str, flag: &str) -> Result<i64, Failure> {
    ram_in_bytes(value).ok_or_else(|| invalid(value, flag, format!("invalid size: '{value}'")))
}

/// `--cpus 0.5` → nano CPUs.
pub fn nano_cpus(value: &str) -> Result<i64, Failure> {
    let n: f64 = value.trim().parse().map_err(|_| {
        invalid(
            value,
            "--cpus",
            format!("failed to parse {value} as a rational number"),
        )
    })?;
    let nano = (n * 1e9).round();
    if !(0.0..=i64::MAX as f64).contains(&nano) {
        return Err(invalid(value, "--cpus", "value is too precise"));
    }
    Ok(nano as i64)
}

impl LimitFlags {
    /// The `Resources` fields these flags set.
    pub fn resources(&self) -> Result<Map<String, Value>, Failure> {
        let mut m = Map::new();
        if let Some(v) = &self.memory {
            m.insert("Memory".into(), json!(size(v, "-m, --memory")?));
        }
        if let Some(v) = &self.memory_reservation {
            m.insert(
                "MemoryReservation".into(),
                json!(size(v, "--memory-reservation")?),
            );
        }
        if let Some(v) = &self.memory_swap {
            let n = if v.trim() == "-1" {
                -1
            } else {
                size(v, "--memory-swap")?
            };
            m.insert("MemorySwap".into(), json!(n));
        }
        if let Some(v) = &self.cpus {
            m.insert("NanoCpus".into(), json!(nano_cpus(v)?));
        }
        for (k, v) in [
            ("CpuShares", self.cpu_shares),
            ("CpuPeriod", self.cpu_period),
            ("CpuQuota", self.cpu_quota),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if let Some(v) = &self.cpuset_cpus {
            m.insert("CpusetCpus".into(), json!(v));
        }
        if let Some(v) = &self.cpuset_mems {
            m.insert("CpusetMems".into(), json!(v));
        }
        if let Some(v) = self.pids_limit {
            m.insert("PidsLimit".into(), json!(v));
        }
        if let Some(v) = self.blkio_weight {
            m.insert("BlkioWeight".into(), json!(v));
        }
        Ok(m)
    }

    /// Whether any flag was given (`update` needs at least one).
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.cpus.is_some()
            || self.cpu_shares.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.pids_limit.is_some()
            || self.blkio_weight.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(ram_in_bytes("32m"), Some(32 << 20));
        assert_eq!(ram_in_bytes("32MB"), Some(32 << 20));
        assert_eq!(ram_in_bytes("1.5g"), Some(3 << 29));
        assert_eq!(ram_in_bytes("64MiB"), Some(64 << 20));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("lots"), None);
        assert_eq!(ram_in_bytes("3x"), None);
        assert_eq!(nano_cpus("0.5").ok(), Some(500_000_000));
        assert!(nano_cpus("half").is_err());
        let f = LimitFlags {
            memory: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(
            f.resources().err().map(|e| e.message),
            Some("invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'".into())
        );
    }
}
