//! `run`/`create` flags for devices, ulimits, `/dev/shm` and confinement (`--cap-add`,
//! `--privileged`, `--security-opt`, `--read-only`, `--group-add`, `--sysctl`), parsed as the
//! docker CLI does; `--security-opt seccomp=FILE` sends the file's content, as docker does.

use clap::Args;
use serde_json::{json, Map, Value};

use super::limits::{invalid, ram_in_bytes, size};
use crate::Failure;

/// Resource and confinement flags `update` cannot change.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfineFlags {
    /// Disable OOM Killer.
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// Tune container memory swappiness (0 to 100).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Limit read rate (bytes per second) from a device (/dev/sda:1mb).
    #[arg(long)]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device.
    #[arg(long)]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device.
    #[arg(long)]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device.
    #[arg(long)]
    pub device_write_iops: Vec<String>,
    /// Ulimit options (nofile=1024:2048).
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Add a host device to the container (/dev/x[:/dev/y][:rwm]).
    #[arg(long)]
    pub device: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Security Options (seccomp=FILE|unconfined, no-new-privileges).
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    pub read_only: bool,
    /// Add additional groups to join.
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Sysctl options (KEY=VALUE).
    #[arg(long)]
    pub sysctl: Vec<String>,
}

fn throttle(list: &[String], flag: &str, iops: bool) -> Result<Vec<Value>, Failure> {
    let mut out = Vec::new();
    for v in list {
        let fmt = if iops {
            "<device-path>:<number>. Number must be a positive integer"
        } else {
            "<device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        };
        let (path, rate) = v
            .split_once(':')
            .ok_or_else(|| invalid(v, flag, format!("bad format: {v}")))?;
        if !path.starts_with("/dev/") {
            return Err(invalid(v, flag, format!("bad format for device path: {v}")));
        }
        let rate = if iops {
            rate.parse::<u64>().ok()
        } else {
            ram_in_bytes(rate).and_then(|n| u64::try_from(n).ok())
        }
        .ok_or_else(|| {
            invalid(
                v,
                flag,
                format!("invalid rate for device: {v}. The correct format is {fmt}"),
            )
        })?;
        out.push(json!({"Path": path, "Rate": rate}));
    }
    Ok(out)
}

fn ulimit(v: &str) -> Result<Value, Failure> {
    let bad = || invalid(v, "--ulimit", format!("invalid ulimit argument: {v}"));
    let (name, limits) = v.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (s.parse::<i64>(), h.parse::<i64>()),
        None => (limits.parse::<i64>(), limits.parse::<i64>()),
    };
    let (soft, hard) = (soft.map_err(|_| bad())?, hard.map_err(|_| bad())?);
    if soft > hard {
        return Err(invalid(
            v,
            "--ulimit",
            format!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"),
        ));
    }
    Ok(json!({"Name": name, "Soft": soft, "Hard": hard}))
}

fn device(v: &str) -> Result<Value, Failure> {
    let mode_ok = |m: &str| !m.is_empty() && m.len() <= 3 && m.chars().all(|c| "rwm".contains(c));
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, perms) = match parts.as_slice() {
        [s] => (*s, *s, "rwm"),
        [s, m] if mode_ok(m) => (*s, *s, *m),
        [s, d] => (*s, *d, "rwm"),
        [s, d, m] => {
            if !mode_ok(m) {
                return Err(invalid(v, "--device", format!("invalid device mode: {m}")));
            }
            (*s, *d, *m)
        }
        _ => {
            return Err(invalid(
                v,
                "--device",
                format!("invalid device specification: {v}"),
            ))
        }
    };
    Ok(json!({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}))
}

/// `seccomp=FILE` → `seccomp=<the file's JSON>`; other options pass unchanged.
fn security_opt(v: &str) -> Result<String, Failure> {
    let Some(file) = v
        .strip_prefix("seccomp=")
        .or_else(|| v.strip_prefix("seccomp:"))
    else {
        return Ok(v.to_owned());
    };
    if file == "unconfined" {
        return Ok(v.to_owned());
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::daemon(format!("opening seccomp profile ({file}) failed: {e}")))?;
    let parsed: Value = serde_json::from_str(&text).map_err(|e| {
        Failure::daemon(format!(
            "compacting json for seccomp profile ({file}) failed: {e}"
        ))
    })?;
    Ok(format!("seccomp={parsed}"))
}

impl ConfineFlags {
    /// Sets the `HostConfig` fields these flags give.
    pub fn host_config(&self) -> Result<Map<String, Value>, Failure> {
        let mut m = Map::new();
        if self.oom_kill_disable {
            m.insert("OomKillDisable".into(), json!(true));
        }
        if let Some(s) = self.memory_swappiness {
            m.insert("MemorySwappiness".into(), json!(s));
        }
        for (key, list, flag, iops) in [
            (
                "BlkioDeviceReadBps",
                &self.device_read_bps,
                "--device-read-bps",
                false,
            ),
            (
                "BlkioDeviceWriteBps",
                &self.device_write_bps,
                "--device-write-bps",
                false,
            ),
            (
                "BlkioDeviceReadIOps",
                &self.device_read_iops,
                "--device-read-iops",
                true,
            ),
            (
                "BlkioDeviceWriteIOps",
                &self.device_write_iops,
                "--device-write-iops",
                true,
            ),
        ] {
            if !list.is_empty() {
                m.insert(key.into(), Value::Array(throttle(list, flag, iops)?));
            }
        }
        if !self.ulimit.is_empty() {
            let l = self
                .ulimit
                .iter()
                .map(|u| ulimit(u))
                .collect::<Result<Vec<_>, _>>()?;
            m.insert("Ulimits".into(), Value::Array(l));
        }
        if let Some(s) = &self.shm_size {
            m.insert("ShmSize".into(), json!(size(s, "--shm-size")?));
        }
        if !self.device.is_empty() {
            let l = self
                .device
                .iter()
                .map(|d| device(d))
                .collect::<Result<Vec<_>, _>>()?;
            m.insert("Devices".into(), Value::Array(l));
        }
        if !self.cap_add.is_empty() {
            m.insert("CapAdd".into(), json!(self.cap_add));
        }
        if !self.cap_drop.is_empty() {
            m.insert("CapDrop".into(), json!(self.cap_drop));
        }
        if self.privileged {
            m.insert("Privileged".into(), json!(true));
        }
        if !self.security_opt.is_empty() {
            let l = self
                .security_opt
                .iter()
                .map(|o| security_opt(o))
                .collect::<Result<Vec<_>, _>>()?;
            m.insert("SecurityOpt".into(), json!(l));
        }
        if self.read_only {
            m.insert("ReadonlyRootfs".into(), json!(true));
        }
        if !self.group_add.is_empty() {
            m.insert("GroupAdd".into(), json!(self.group_add));
        }
        if !self.sysctl.is_empty() {
            let mut s = Map::new();
            for kv in &self.sysctl {
                let (k, v) = kv.split_once('=').ok_or_else(|| {
                    invalid(kv, "--sysctl", format!("sysctl '{kv}' is not allowed"))
                })?;
                s.insert(k.to_owned(), json!(v));
            }
            m.insert("Sysctls".into(), Value::Object(s));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_parse_like_docker() {
        assert_eq!(
            ulimit("nofile=10:20").ok(),
            Some(json!({"Name": "nofile", "Soft": 10, "Hard": 20}))
        );
        assert!(ulimit("nofile=30:20").is_err());
        assert_eq!(
            device("/dev/fuse:r").ok(),
            Some(
                json!({"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "r"})
            )
        );
        assert_eq!(
            device("/dev/a:/dev/b")
                .ok()
                .map(|v| v["PathInContainer"].clone()),
            Some(json!("/dev/b"))
        );
        assert!(device("/dev/a:/dev/b:xyz").is_err());
        assert_eq!(
            throttle(&["/dev/sda:1mb".into()], "--device-read-bps", false).ok(),
            Some(vec![json!({"Path": "/dev/sda", "Rate": 1 << 20})])
        );
        assert!(throttle(&["sda:1".into()], "--device-read-iops", true).is_err());
        assert_eq!(
            security_opt("seccomp=unconfined").ok().as_deref(),
            Some("seccomp=unconfined")
        );
        assert!(security_opt("seccomp=/nonexistent.json").is_err());
    }
}
