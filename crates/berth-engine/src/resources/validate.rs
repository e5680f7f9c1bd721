//! Checking `Resources` as docker's daemon does, with its messages, and filling in its
//! defaults.

use super::{bad, device_nodes, MIN_MEMORY};
use crate::error::Result;
use crate::model::Resources;

/// Parses a cpuset list (`0-2,4`) into its members; `None` when malformed.
pub fn parse_cpuset(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

fn online(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "0".into())
}

fn check_cpuset(value: &str, what: &str, available_file: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    let wanted = parse_cpuset(value)
        .ok_or_else(|| bad(format!("Invalid value {value} for cpuset {what}")))?;
    let available = online(available_file);
    let have = parse_cpuset(&available).unwrap_or_default();
    if wanted.iter().any(|c| !have.contains(c)) {
        let noun = if what == "cpus" {
            "CPUs"
        } else {
            "memory nodes"
        };
        return Err(bad(format!(
            "Requested {noun} are not available - requested {value}, available: {available}"
        )));
    }
    Ok(())
}

/// Online CPUs of the host.
pub fn host_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Checks `r` as docker's daemon does (same messages) and fills in docker's defaults
/// (memory+swap = twice the memory when only the memory is set). Returns warnings.
pub fn validate(r: &mut Resources, update: bool) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return Err(bad("Minimum memory limit allowed is 6MB"));
    }
    if !update && r.memory > 0 && r.memory_swap == 0 {
        r.memory_swap = r.memory * 2;
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(bad(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if r.memory == 0 && r.memory_swap > 0 && !update {
        return Err(bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if let Some(s) = r.memory_swappiness {
        if !(-1..=100).contains(&s) {
            return Err(bad(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if r.memory_reservation != 0 && r.memory_reservation < MIN_MEMORY {
        return Err(bad("Minimum memory reservation allowed is 6MB"));
    }
    if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
        return Err(bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if r.oom_kill_disable == Some(true) && r.memory == 0 {
        warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
    }
    if r.nano_cpus > 0 && r.cpu_period > 0 {
        return Err(bad(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if r.nano_cpus > 0 && r.cpu_quota > 0 {
        return Err(bad(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let cpus = host_cpus() as i64;
    if r.nano_cpus < 0 || r.nano_cpus > cpus * 1_000_000_000 {
        return Err(bad(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if r.cpu_shares < 0 {
        return Err(bad("invalid CPU shares: must be positive"));
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return Err(bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return Err(bad("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
    }
    check_cpuset(&r.cpuset_cpus, "cpus", "/sys/devices/system/cpu/online")?;
    check_cpuset(&r.cpuset_mems, "mems", "/sys/devices/system/node/online")?;
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return Err(bad("Range of blkio weight is from 10 to 1000"));
    }
    for d in r.blkio_weight_device.iter().flatten() {
        if !(10..=1000).contains(&d.weight) {
            return Err(bad("Range of blkio weight is from 10 to 1000"));
        }
    }
    if r.shm_size < 0 {
        return Err(bad("SHM size can not be less than 0"));
    }
    for u in r.ulimits.iter().flatten() {
        rlimit_name(&u.name)?;
        if u.soft > u.hard {
            return Err(bad(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            )));
        }
    }
    for d in r.devices.iter().flatten() {
        device_nodes(d)?;
    }
    Ok(warnings)
}

/// `nofile` → `RLIMIT_NOFILE`, for the names docker accepts.
pub(super) fn rlimit_name(name: &str) -> Result<String> {
    const NAMES: [&str; 16] = [
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    if NAMES.contains(&name) {
        Ok(format!("RLIMIT_{}", name.to_ascii_uppercase()))
    } else {
        Err(bad(format!("invalid ulimit type: {name}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn docker_messages_for_bad_limits() {
        let err = |r: Resources| validate(&mut r.clone(), false).unwrap_err().to_string();
        let r = |f: fn(&mut Resources)| {
            let mut r = Resources::default();
            f(&mut r);
            r
        };
        assert_eq!(
            err(r(|r| r.memory = 1 << 20)),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(
            err(r(|r| {
                r.memory = 64 << 20;
                r.memory_swap = 32 << 20
            })),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        assert_eq!(
            err(r(|r| r.blkio_weight = 5)),
            "Range of blkio weight is from 10 to 1000"
        );
        assert!(err(r(|r| r.nano_cpus = 1_000_000_000_000)).starts_with("Range of CPUs"));
        assert!(err(r(|r| r.cpuset_cpus = "999".into())).starts_with("Requested CPUs"));
        assert_eq!(
            err(r(|r| r.cpuset_cpus = "x".into())),
            "Invalid value x for cpuset cpus"
        );
        let mut ok = r(|r| r.memory = 32 << 20);
        validate(&mut ok, false).unwrap();
        assert_eq!(ok.memory_swap, 64 << 20);
    }

    #[test]
    fn cpusets() {
        assert_eq!(parse_cpuset("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_cpuset("2-1"), None);
    }
}
