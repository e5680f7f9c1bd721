//! Checks made before anything is created: references to services, networks, volumes,
//! secrets and configs exist, `depends_on` has no cycle, host ports do not conflict.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::model::{Project, Service};
use crate::plan;

/// Validates a loaded project. `disabled`: services left out by profiles (a required
/// dependency on one is an error).
pub fn project(p: &Project, disabled: &BTreeSet<String>) -> Result<()> {
    for (name, s) in &p.services {
        service(p, name, s, disabled)?;
    }
    plan::order(p)?;
    ports(p)
}

fn service(p: &Project, name: &str, s: &Service, disabled: &BTreeSet<String>) -> Result<()> {
    let path = format!("services.{name}");
    if s.image.is_none() && s.build.is_none() {
        return Err(Error::invalid(
            path,
            format!("service {name:?} has neither an image nor a build context specified: invalid compose project"),
        ));
    }
    for (dep, d) in &s.depends_on {
        if !p.services.contains_key(dep) && (d.required || !disabled.contains(dep)) {
            let why = if disabled.contains(dep) {
                format!(
                    "service {name:?} depends on service {dep:?} which is disabled by its profiles"
                )
            } else {
                format!("service {name:?} depends on undefined service {dep:?}: invalid compose project")
            };
            return Err(Error::invalid(format!("{path}.depends_on.{dep}"), why));
        }
    }
    for net in s.networks.keys() {
        if net != "default" && !p.networks.contains_key(net) {
            return Err(Error::invalid(
                format!("{path}.networks.{net}"),
                format!(
                    "service {name:?} refers to undefined network {net}: invalid compose project"
                ),
            ));
        }
    }
    if let Some(mode) = &s.network_mode {
        if !s.networks.is_empty() {
            return Err(Error::invalid(
                format!("{path}.network_mode"),
                "'network_mode' and 'networks' cannot be combined",
            ));
        }
        if let Some(other) = mode.strip_prefix("service:") {
            if !p.services.contains_key(other) {
                return Err(Error::invalid(
                    format!("{path}.network_mode"),
                    format!("service {other:?} not found for network_mode 'service:{other}'"),
                ));
            }
        }
    }
    for (i, m) in s.volumes.iter().enumerate() {
        let mp = format!("{path}.volumes[{i}]");
        match m.kind.as_str() {
            "volume" => {
                if let Some(src) = &m.source {
                    if !p.volumes.contains_key(src) {
                        return Err(Error::invalid(
                            mp,
                            format!("service {name:?} refers to undefined volume {src}: invalid compose project"),
                        ));
                    }
                }
            }
            "bind" if m.source.is_none() => {
                return Err(Error::invalid(mp, "a bind mount needs a source"))
            }
            "bind" | "tmpfs" => {}
            other => {
                return Err(Error::invalid(
                    mp,
                    format!("unsupported volume type {other:?}"),
                ))
            }
        }
    }
    for (kind, refs, defs) in [
        ("secret", &s.secrets, &p.secrets),
        ("config", &s.configs, &p.configs),
    ] {
        for (i, r) in refs.iter().enumerate() {
            if !defs.contains_key(&r.source) {
                return Err(Error::invalid(
                    format!("{path}.{kind}s[{i}]"),
                    format!(
                        "service {name:?} refers to undefined {kind} {}: invalid compose project",
                        r.source
                    ),
                ));
            }
        }
    }
    if s.container_name.is_some() && s.replicas() > 1 {
        return Err(Error::invalid(
            format!("{path}.container_name"),
            format!("services.{name}: can't set container_name and {name} as container name must be unique"),
        ));
    }
    Ok(())
}

/// Two services (or two containers of one scaled service) cannot publish the same host
/// address and port.
fn ports(p: &Project) -> Result<()> {
    let mut taken: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (name, s) in &p.services {
        for (i, port) in s.ports.iter().enumerate() {
            let Some(published) = port.published.as_ref().filter(|x| !x.contains('-')) else {
                continue;
            };
            let ip = port.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into());
            let key = (ip, published.clone(), port.protocol.clone());
            let path = format!("services.{name}.ports[{i}]");
            if s.replicas() > 1 {
                return Err(Error::invalid(
                    path,
                    format!("service {name:?} has {} replicas but publishes the fixed host port {published}", s.replicas()),
                ));
            }
            let any = |ip: &str| {
                taken.iter().find(|((i, p, pr), _)| {
                    (i == ip || i == "0.0.0.0" || ip == "0.0.0.0") && *p == key.1 && *pr == key.2
                })
            };
            if let Some((_, other)) = any(&key.0) {
                return Err(Error::invalid(
                    path,
                    format!(
                        "services {other:?} and {name:?} both publish host port {published}/{}",
                        key.2
                    ),
                ));
            }
            taken.insert(key, name.clone());
        }
    }
    Ok(())
}
