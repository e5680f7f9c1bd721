//! Resource limits: docker's `Resources` (the part of `HostConfig` that `update` may change,
//! plus `ShmSize`), checked with docker's messages, turned into the spec's `linux.resources`,
//! `process.rlimits`, device nodes and `/dev/shm` size, and applied live by [`Containers::update`](crate::Containers::update)
//! to the container's cgroup (`/berth/<id>` in whichever hierarchy holds each controller).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::{EngineError, Result};
use crate::model::{DeviceMapping, Resources, ThrottleDevice};

mod validate;

use validate::rlimit_name;
pub use validate::{host_cpus, parse_cpuset, validate};

pub(crate) fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidParameter(msg.into())
}

/// Docker's smallest memory limit (`linuxMinMemory`).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// `/dev/shm` size when `ShmSize` is 0.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;
/// The CFS period docker uses for `--cpus` (100 ms, in µs).
const NANO_CPU_PERIOD: i64 = 100_000;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Ulimit;
    use berth_runtime::oci_spec::runtime::LinuxResources;

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
}
