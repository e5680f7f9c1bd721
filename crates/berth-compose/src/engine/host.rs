//! The `HostConfig` of a service's container.

use serde_json::{json, Map, Value};

use super::{network_name, restart_policy, service_networks, volume_name, ContainerSpec};
use crate::load::Loaded;
use crate::model::{Mount, Service};
use crate::units;

type R<T> = std::result::Result<T, String>;

pub(super) fn host_config(l: &Loaded, s: &Service, c: &ContainerSpec<'_>) -> R<Value> {
    let (binds, mounts) = storage(l, s)?;
    let mut hc = json!({
        "Binds": binds,
        "Mounts": mounts,
        "PortBindings": port_bindings(s),
        "RestartPolicy": restart_policy(if c.oneoff { None } else { s.restart.as_deref() })?,
        "Privileged": s.privileged,
        "ReadonlyRootfs": s.read_only,
        "CapAdd": s.cap_add,
        "CapDrop": s.cap_drop,
        "SecurityOpt": s.security_opt,
        "Sysctls": s.sysctls,
        "ExtraHosts": s.extra_hosts,
        "Dns": s.dns,
        "DnsSearch": s.dns_search,
        "Tmpfs": tmpfs(s),
        "Ulimits": s.ulimits.iter().map(|(k, u)| json!({"Name": k, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
        "Devices": devices(s)?,
    });
    if let Some(i) = s.init {
        hc["Init"] = json!(i);
    }
    hc["NetworkMode"] = json!(match (&s.network_mode, &c.net_container) {
        (Some(m), Some(id)) if m.starts_with("service:") => format!("container:{id}"),
        (Some(m), _) => m.clone(),
        (None, _) => service_networks(s)
            .first()
            .map(|k| network_name(&l.project.name, k, l.project.networks.get(k)))
            .unwrap_or_default(),
    });
    if let Some(p) = &s.pid {
        hc["PidMode"] = json!(p);
    }
    if let Some(i) = &s.ipc {
        hc["IpcMode"] = json!(i);
    }
    if let Some(log) = &s.logging {
        hc["LogConfig"] = json!({"Type": log.driver.clone().unwrap_or_else(|| "json-file".into()), "Config": log.options});
    }
    if !s.group_add.is_empty() {
        let groups: Vec<String> = s
            .group_add
            .iter()
            .filter_map(crate::normalize::scalar_text)
            .collect();
        hc["GroupAdd"] = json!(groups);
    }
    resources(s, &mut hc)?;
    Ok(hc)
}

/// `mem_limit`/`cpus`/`pids_limit` and `deploy.resources` (limits, reservations).
fn resources(s: &Service, hc: &mut Value) -> R<()> {
    let limits = s.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let lim = limits.and_then(|r| r.limits.as_ref());
    let res = limits.and_then(|r| r.reservations.as_ref());
    if let Some(m) = lim.and_then(|l| l.memory.as_ref()).or(s.mem_limit.as_ref()) {
        hc["Memory"] = json!(units::bytes(m)?);
    }
    if let Some(c) = lim.and_then(|l| l.cpus.as_ref()).or(s.cpus.as_ref()) {
        hc["NanoCpus"] = json!(units::nano_cpus(c)?);
    }
    if let Some(p) = lim.and_then(|l| l.pids).or(s.pids_limit) {
        hc["PidsLimit"] = json!(p);
    }
    if let Some(m) = res.and_then(|r| r.memory.as_ref()) {
        hc["MemoryReservation"] = json!(units::bytes(m)?);
    }
    if let Some(m) = &s.shm_size {
        hc["ShmSize"] = json!(units::bytes(m)?);
    }
    Ok(())
}

fn devices(s: &Service) -> R<Vec<Value>> {
    s.devices
        .iter()
        .map(|d| {
            let parts: Vec<&str> = d.split(':').collect();
            let (host, cont, perms) = match parts.as_slice() {
                [h] => (*h, *h, "rwm"),
                [h, c] => (*h, *c, "rwm"),
                [h, c, p] => (*h, *c, *p),
                _ => return Err(format!("invalid device {d:?}")),
            };
            Ok(json!({"PathOnHost": host, "PathInContainer": cont, "CgroupPermissions": perms}))
        })
        .collect()
}

fn tmpfs(s: &Service) -> Map<String, Value> {
    s.tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_owned(), json!(o)),
            None => (t.clone(), json!("")),
        })
        .collect()
}

fn port_bindings(s: &Service) -> Map<String, Value> {
    let mut m = Map::new();
    for p in &s.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        let b = json!({
            "HostIp": p.host_ip.clone().unwrap_or_default(),
            "HostPort": p.published.clone().unwrap_or_default(),
        });
        if let Some(Value::Array(list)) = m.get_mut(&key) {
            list.push(b);
        } else {
            m.insert(key, json!([b]));
        }
    }
    m
}

/// Binds for short-syntax host paths (the daemon creates a missing source, as docker
/// compose asks), `Mounts` for the rest; secrets and configs are read-only binds of their
/// files.
fn storage(l: &Loaded, s: &Service) -> R<(Vec<String>, Vec<Value>)> {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for m in &s.volumes {
        mount(l, m, &mut binds, &mut mounts);
    }
    for (refs, defs, base) in [
        (&s.secrets, &l.project.secrets, "/run/secrets/"),
        (&s.configs, &l.project.configs, "/"),
    ] {
        for r in refs {
            let def = defs
                .get(&r.source)
                .ok_or_else(|| format!("undefined {}", r.source))?;
            let file = def.file.as_ref().ok_or_else(|| {
                format!(
                    "{}: only file-based secrets and configs are supported",
                    r.source
                )
            })?;
            let target = match &r.target {
                Some(t) if t.starts_with('/') => t.clone(),
                Some(t) => format!("{base}{t}"),
                None => format!("{base}{}", r.source),
            };
            mounts
                .push(json!({"Type": "bind", "Source": file, "Target": target, "ReadOnly": true}));
        }
    }
    Ok((binds, mounts))
}

fn mount(l: &Loaded, m: &Mount, binds: &mut Vec<String>, mounts: &mut Vec<Value>) {
    let create = m
        .bind
        .as_ref()
        .and_then(|b| b.get("create_host_path"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match m.kind.as_str() {
        "bind" if create => {
            let ro = if m.read_only { ":ro" } else { "" };
            binds.push(format!(
                "{}:{}{ro}",
                m.source.clone().unwrap_or_default(),
                m.target
            ));
        }
        "volume" => {
            let source = m
                .source
                .as_ref()
                .map(|k| volume_name(&l.project.name, k, l.project.volumes.get(k)))
                .unwrap_or_default();
            let mut v = json!({"Type": "volume", "Source": source, "Target": m.target, "ReadOnly": m.read_only});
            if let Some(nocopy) = m.volume.as_ref().and_then(|v| v.get("nocopy")) {
                v["VolumeOptions"] = json!({"NoCopy": nocopy});
            }
            mounts.push(v);
        }
        "tmpfs" => {
            let mut v = json!({"Type": "tmpfs", "Target": m.target, "ReadOnly": m.read_only});
            if let Some(t) = &m.tmpfs {
                let mut o = Map::new();
                if let Some(size) = t.size.as_ref().and_then(|s| units::bytes(s).ok()) {
                    o.insert("SizeBytes".into(), json!(size));
                }
                if let Some(mode) = t.mode {
                    o.insert("Mode".into(), json!(mode));
                }
                v["TmpfsOptions"] = Value::Object(o);
            }
            mounts.push(v);
        }
        _ => mounts.push(json!({
            "Type": m.kind, "Source": m.source.clone().unwrap_or_default(),
            "Target": m.target, "ReadOnly": m.read_only,
        })),
    }
}
