//! Resource limits: docker's `Resources` (the part of `HostConfig` that `update` may change,
//! plus `ShmSize`), checked with docker's messages, turned into the spec's `linux.resources`,
//! `process.rlimits`, device nodes and `/dev/shm` size, and applied live by [`Engine::update`]
//! to the container's cgroup (`/berth/<id>` in whichever hierarchy holds each controller).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_runtime::oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{EngineError, Result};
use crate::record::RestartPolicy;
use crate::Engine;

/// Docker's smallest memory limit (`linuxMinMemory`).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// `/dev/shm` size when `ShmSize` is 0.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;
/// The CFS period docker uses for `--cpus` (100 ms, in µs).
const NANO_CPU_PERIOD: i64 = 100_000;

/// `null` in a request reads as the default value.
pub(crate) fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Docker's `WeightDevice` (`--blkio-weight-device`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    /// Block device path on the host.
    pub path: String,
    /// Relative weight, 10–1000.
    pub weight: u16,
}

/// Docker's `ThrottleDevice` (`--device-read-bps` and friends).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    /// Block device path on the host.
    pub path: String,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// Docker's `DeviceMapping` (`--device /dev/x[:/dev/y[:rwm]]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    /// The node on the host.
    pub path_on_host: String,
    /// Where it appears in the container (default: the same path).
    pub path_in_container: String,
    /// Device cgroup access: some of `r`, `w`, `m`.
    pub cgroup_permissions: String,
}

/// Docker's `Ulimit` (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// Lower-case resource name without `RLIMIT_` (`nofile`).
    pub name: String,
    /// Hard limit.
    pub hard: i64,
    /// Soft limit.
    pub soft: i64,
}

/// Docker's `Resources` (embedded in `HostConfig`) plus `ShmSize`. Zero means "not set",
/// as in docker.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// Relative CPU weight (`--cpu-shares`).
    pub cpu_shares: i64,
    /// Memory limit in bytes.
    pub memory: i64,
    /// Block I/O weight, 10–1000.
    pub blkio_weight: u16,
    /// Per-device block I/O weights.
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    /// Read bytes/s limits.
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    /// Write bytes/s limits.
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    /// Read operations/s limits.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    /// Write operations/s limits.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// CFS period in µs.
    pub cpu_period: i64,
    /// CFS quota in µs per period.
    pub cpu_quota: i64,
    /// CPUs the container may use (`0-2,4`).
    #[serde(deserialize_with = "nullable")]
    pub cpuset_cpus: String,
    /// NUMA nodes the container may use.
    #[serde(deserialize_with = "nullable")]
    pub cpuset_mems: String,
    /// Host devices to add.
    pub devices: Option<Vec<DeviceMapping>>,
    /// Soft memory limit.
    pub memory_reservation: i64,
    /// Memory+swap limit (-1: unlimited swap).
    pub memory_swap: i64,
    /// Swappiness 0–100.
    pub memory_swappiness: Option<i64>,
    /// CPUs in units of 10⁻⁹ (`--cpus 0.5` = 500000000).
    pub nano_cpus: i64,
    /// Turn the OOM killer off (only sensible with a memory limit).
    pub oom_kill_disable: Option<bool>,
    /// Process limit (≤ 0: unlimited).
    pub pids_limit: Option<i64>,
    /// Resource limits of the process.
    pub ulimits: Option<Vec<Ulimit>>,
    /// Size of `/dev/shm` in bytes (0: 64 MiB).
    pub shm_size: i64,
}

/// Docker's `UpdateConfig`: the resources to change plus the restart policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateConfig {
    /// New limits; zero fields keep the current value.
    #[serde(flatten)]
    pub resources: Resources,
    /// A new restart policy (empty name: unchanged).
    pub restart_policy: Option<RestartPolicy>,
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(msg.into())
}

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
fn rlimit_name(name: &str) -> Result<String> {
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

/// A host device node: (type, major, minor, mode, uid, gid).
fn node_of(path: &Path) -> Option<(&'static str, u64, u64, u32, u32, u32)> {
    let m = std::fs::metadata(path).ok()?;
    let ft = m.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return None;
    };
    let rdev = m.rdev();
    Some((
        kind,
        libc::major(rdev) as u64,
        libc::minor(rdev) as u64,
        m.mode() & 0o7777,
        m.uid(),
        m.gid(),
    ))
}

/// The spec's `linux.devices` entries and device cgroup rules for one `--device`.
fn device_nodes(d: &DeviceMapping) -> Result<(Vec<Value>, Vec<Value>)> {
    let perms = if d.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        d.cgroup_permissions.as_str()
    };
    if !perms.chars().all(|c| "rwm".contains(c)) {
        return Err(bad(format!("invalid device mode: {perms}")));
    }
    let host = Path::new(&d.path_on_host);
    let target = if d.path_in_container.is_empty() {
        d.path_on_host.as_str()
    } else {
        d.path_in_container.as_str()
    };
    let mut pairs = Vec::new();
    if host.is_dir() {
        collect_dir(host, Path::new(target), &mut pairs);
    } else {
        let node = node_of(host).ok_or_else(|| {
            bad(format!(
                "error gathering device information while adding custom device \"{}\": not a device node",
                d.path_on_host
            ))
        })?;
        pairs.push((target.to_owned(), node));
    }
    let mut devices = Vec::new();
    let mut rules = Vec::new();
    for (path, (kind, major, minor, mode, uid, gid)) in pairs {
        devices.push(
            json!({"path": path, "type": kind, "major": major, "minor": minor,
                            "fileMode": mode, "uid": uid, "gid": gid}),
        );
        rules.push(
            json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": perms}),
        );
    }
    Ok((devices, rules))
}

type Node = (&'static str, u64, u64, u32, u32, u32);

/// Device nodes under a host directory, mapped below `target` (docker's directory `--device`).
fn collect_dir(dir: &Path, target: &Path, out: &mut Vec<(String, Node)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let t = target.join(e.file_name());
        if e.file_type().is_ok_and(|f| f.is_dir()) {
            collect_dir(&p, &t, out);
        } else if let Some(n) = node_of(&p) {
            out.push((t.display().to_string(), n));
        }
    }
}

fn throttle(list: &Option<Vec<ThrottleDevice>>) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for t in list.iter().flatten() {
        let (_, major, minor, ..) = node_of(Path::new(&t.path))
            .ok_or_else(|| bad(format!("{}: not a block device", t.path)))?;
        out.push(json!({"major": major, "minor": minor, "rate": t.rate}));
    }
    Ok(out)
}

/// `linux.resources` for `r` without device rules (also what `update` writes). `update`:
/// values meaning "unlimited" are written as such instead of being left out.
pub fn oci_resources(r: &Resources, update: bool) -> Result<Map<String, Value>> {
    let mut res = Map::new();
    let mut mem = Map::new();
    let set = |m: &mut Map<String, Value>, k: &str, v: i64| {
        if v != 0 {
            m.insert(k.into(), json!(v));
        }
    };
    set(&mut mem, "limit", r.memory);
    set(&mut mem, "reservation", r.memory_reservation);
    set(&mut mem, "swap", r.memory_swap);
    if let Some(s) = r.memory_swappiness.filter(|s| *s >= 0) {
        mem.insert("swappiness".into(), json!(s));
    }
    if let Some(d) = r.oom_kill_disable.filter(|_| !update) {
        mem.insert("disableOOMKiller".into(), json!(d));
    }
    let mut cpu = Map::new();
    set(&mut cpu, "shares", r.cpu_shares);
    if r.nano_cpus > 0 {
        cpu.insert("period".into(), json!(NANO_CPU_PERIOD));
        cpu.insert(
            "quota".into(),
            json!(r.nano_cpus * NANO_CPU_PERIOD / 1_000_000_000),
        );
    } else {
        set(&mut cpu, "period", r.cpu_period);
        set(&mut cpu, "quota", r.cpu_quota);
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    match r.pids_limit {
        Some(n) if n > 0 => {
            res.insert("pids".into(), json!({"limit": n}));
        }
        Some(_) if update => {
            res.insert("pids".into(), json!({"limit": -1}));
        }
        _ => {}
    }
    let mut blkio = Map::new();
    if r.blkio_weight > 0 {
        blkio.insert("weight".into(), json!(r.blkio_weight));
    }
    let mut weights = Vec::new();
    for w in r.blkio_weight_device.iter().flatten() {
        let (_, major, minor, ..) = node_of(Path::new(&w.path))
            .ok_or_else(|| bad(format!("{}: not a block device", w.path)))?;
        weights.push(json!({"major": major, "minor": minor, "weight": w.weight}));
    }
    for (key, list) in [
        ("weightDevice", weights),
        ("throttleReadBpsDevice", throttle(&r.blkio_device_read_bps)?),
        (
            "throttleWriteBpsDevice",
            throttle(&r.blkio_device_write_bps)?,
        ),
        (
            "throttleReadIOPSDevice",
            throttle(&r.blkio_device_read_iops)?,
        ),
        (
            "throttleWriteIOPSDevice",
            throttle(&r.blkio_device_write_iops)?,
        ),
    ] {
        if !list.is_empty() {
            blkio.insert(key.into(), Value::Array(list));
        }
    }
    for (key, m) in [("memory", mem), ("cpu", cpu), ("blockIO", blkio)] {
        if !m.is_empty() {
            res.insert(key.into(), Value::Object(m));
        }
    }
    Ok(res)
}

/// Edits the spec for `r`: limits, docker's device cgroup (deny all, then the runtime's
/// defaults and each `--device`), device nodes, rlimits and the `/dev/shm` size.
pub fn apply(spec: &mut Value, r: &Resources) -> Result<()> {
    let mut res = oci_resources(r, false)?;
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    let mut nodes = Vec::new();
    for d in r.devices.iter().flatten() {
        let (n, rl) = device_nodes(d)?;
        nodes.extend(n);
        rules.extend(rl);
    }
    res.insert("devices".into(), Value::Array(rules));
    spec["linux"]["resources"] = Value::Object(res);
    if !nodes.is_empty() {
        spec["linux"]["devices"] = Value::Array(nodes);
    }
    let mut rlimits = Vec::new();
    for u in r.ulimits.iter().flatten() {
        rlimits.push(json!({"type": rlimit_name(&u.name)?, "soft": u.soft, "hard": u.hard}));
    }
    if !rlimits.is_empty() {
        spec["process"]["rlimits"] = Value::Array(rlimits);
    }
    let shm = if r.shm_size > 0 {
        r.shm_size
    } else {
        DEFAULT_SHM_SIZE
    };
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| !o.as_str().is_some_and(|s| s.starts_with("size=")));
                opts.push(json!(format!("size={shm}")));
            }
        }
    }
    Ok(())
}

/// Docker's update rule: non-zero fields of `new` replace those of `cur`, with docker's
/// conflict messages.
fn merge(cur: &mut Resources, new: &Resources) -> Result<()> {
    let conflict = |m: &str| {
        Err(EngineError::Conflict(format!(
            "Cannot update container: {m}"
        )))
    };
    if new.nano_cpus > 0 && cur.cpu_period > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        );
    }
    if new.nano_cpus > 0 && cur.cpu_quota > 0 {
        return conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        );
    }
    if new.cpu_period > 0 && cur.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        );
    }
    if new.cpu_quota > 0 && cur.nano_cpus > 0 {
        return conflict(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        );
    }
    if new.memory != 0
        && new.memory > cur.memory_swap
        && cur.memory_swap > 0
        && new.memory_swap == 0
    {
        return conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
    }
    let pick = |c: &mut i64, n: i64| {
        if n != 0 {
            *c = n;
        }
    };
    pick(&mut cur.cpu_shares, new.cpu_shares);
    pick(&mut cur.nano_cpus, new.nano_cpus);
    pick(&mut cur.cpu_period, new.cpu_period);
    pick(&mut cur.cpu_quota, new.cpu_quota);
    pick(&mut cur.memory, new.memory);
    pick(&mut cur.memory_swap, new.memory_swap);
    pick(&mut cur.memory_reservation, new.memory_reservation);
    if new.blkio_weight != 0 {
        cur.blkio_weight = new.blkio_weight;
    }
    if !new.cpuset_cpus.is_empty() {
        cur.cpuset_cpus.clone_from(&new.cpuset_cpus);
    }
    if !new.cpuset_mems.is_empty() {
        cur.cpuset_mems.clone_from(&new.cpuset_mems);
    }
    if new.pids_limit.is_some() {
        cur.pids_limit = new.pids_limit;
    }
    Ok(())
}

impl Engine {
    /// `docker update`: changes the limits (and restart policy) of a container, live when it
    /// runs. Returns docker's warnings.
    pub fn update(&self, key: &str, upd: UpdateConfig) -> Result<Vec<String>> {
        let id = {
            let mut inner = self.lock();
            let id = Self::find_id(&inner, key)?;
            let rec = inner
                .containers
                .get_mut(&id)
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
            let mut merged = rec.host_config.resources.clone();
            merge(&mut merged, &upd.resources)?;
            let warnings = validate(&mut merged, true)?;
            let policy = upd.restart_policy.filter(|p| !p.name.is_empty());
            if let Some(p) = &policy {
                p.validate()?;
                if rec.host_config.auto_remove && p.name != "no" {
                    return Err(bad("Restart policy cannot be updated because AutoRemove is enabled for the container"));
                }
            }
            if rec.state.running {
                let res: LinuxResources =
                    serde_json::from_value(Value::Object(oci_resources(&merged, true)?))
                        .map_err(|e| EngineError::Internal(format!("resources: {e}")))?;
                berth_runtime::container::Container::load(&self.runtime_root(), &id)
                    .and_then(|c| c.cgroup())
                    .map_err(|e| {
                        EngineError::Internal(format!("Cannot update container {id}: {e}"))
                    })?
                    .update(&res)
                    .map_err(|e| {
                        EngineError::Internal(format!("Cannot update container {id}: {e}"))
                    })?;
            }
            rec.host_config.resources = merged;
            if let Some(p) = policy {
                rec.host_config.restart_policy = p;
            }
            self.records.save(rec)?;
            if !warnings.is_empty() {
                tracing::info!("update {id}: {warnings:?}");
            }
            (id, warnings)
        };
        self.emit_container(&id.0, "update", &[]);
        Ok(id.1)
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
    fn limits_map_to_the_spec() {
        let r = Resources {
            memory: 32 << 20,
            memory_swap: 64 << 20,
            nano_cpus: 500_000_000,
            pids_limit: Some(20),
            cpu_shares: 512,
            ulimits: Some(vec![Ulimit {
                name: "nofile".into(),
                soft: 10,
                hard: 20,
            }]),
            shm_size: 1 << 20,
            devices: Some(vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mynull".into(),
                cgroup_permissions: "rw".into(),
            }]),
            ..Default::default()
        };
        let mut spec = json!({"process": {}, "linux": {},
            "mounts": [{"destination": "/dev/shm", "options": ["mode=1777", "size=67108864"]}]});
        apply(&mut spec, &r).unwrap();
        let res = &spec["linux"]["resources"];
        assert_eq!(res["memory"]["limit"], 32 << 20);
        assert_eq!(res["cpu"]["quota"], 50_000);
        assert_eq!(res["cpu"]["period"], 100_000);
        assert_eq!(res["pids"]["limit"], 20);
        assert_eq!(res["devices"][0], json!({"allow": false, "access": "rwm"}));
        assert_eq!(res["devices"][1]["access"], "rw");
        assert_eq!(spec["linux"]["devices"][0]["path"], "/dev/mynull");
        assert_eq!(spec["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(spec["mounts"][0]["options"][1], "size=1048576");
        let parsed: LinuxResources = serde_json::from_value(res.clone()).unwrap();
        assert_eq!(parsed.pids().unwrap().limit(), 20);
    }

    #[test]
    fn update_merges_like_docker() {
        let mut cur = Resources {
            memory: 32 << 20,
            memory_swap: 64 << 20,
            ..Default::default()
        };
        let new = Resources {
            memory: 128 << 20,
            ..Default::default()
        };
        assert!(merge(&mut cur.clone(), &new).is_err());
        let new = Resources {
            memory: 48 << 20,
            pids_limit: Some(5),
            ..Default::default()
        };
        merge(&mut cur, &new).unwrap();
        assert_eq!((cur.memory, cur.memory_swap), (48 << 20, 64 << 20));
        assert_eq!(cur.pids_limit, Some(5));
        assert_eq!(parse_cpuset("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_cpuset("2-1"), None);
    }
}
