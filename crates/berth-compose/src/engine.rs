//! Engine API request bodies for a project's networks, volumes and containers, with the
//! labels docker compose puts on them (so docker compose, docker-compose 1.29 and `berth ps`
//! see the same project).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::labels;
use crate::load::Loaded;
use crate::model::{is_external, Network, Service, Volume};
use crate::plan::config_hash;
use crate::units;

/// `<project>-<service>-<n>` (or `container_name`).
pub fn container_name(project: &str, service: &str, s: &Service, number: u32) -> String {
    match &s.container_name {
        Some(n) => n.clone(),
        None => format!("{project}-{service}-{number}"),
    }
}

/// The image a service runs: `image`, else the one `build` makes, `<project>-<service>`.
pub fn image_name(project: &str, service: &str, s: &Service) -> String {
    match &s.image {
        Some(i) => i.clone(),
        None => format!("{project}-{service}"),
    }
}

/// The daemon's name of a project network: `name`, else `<project>_<key>` (external: key).
pub fn network_name(project: &str, key: &str, n: Option<&Network>) -> String {
    match n {
        Some(n) if n.name.is_some() => n.name.clone().unwrap_or_default(),
        Some(n) if is_external(&n.external) => key.to_owned(),
        _ => format!("{project}_{key}"),
    }
}

/// The daemon's name of a project volume: `name`, else `<project>_<key>` (external: key).
pub fn volume_name(project: &str, key: &str, v: Option<&Volume>) -> String {
    match v {
        Some(v) if v.name.is_some() => v.name.clone().unwrap_or_default(),
        Some(v) if is_external(&v.external) => key.to_owned(),
        _ => format!("{project}_{key}"),
    }
}

/// The networks a service joins, in order (`default` when it names none).
pub fn service_networks(s: &Service) -> Vec<String> {
    if s.network_mode.is_some() {
        return vec![];
    }
    if s.networks.is_empty() {
        return vec!["default".into()];
    }
    let mut nets: Vec<(i64, &String)> = s
        .networks
        .iter()
        .map(|(k, v)| (v.as_ref().and_then(|n| n.priority).unwrap_or(0), k))
        .collect();
    nets.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    nets.into_iter().map(|(_, k)| k.clone()).collect()
}

/// `POST /networks/create` for a project network.
pub fn network_body(project: &str, key: &str, n: &Network) -> Value {
    let mut lab: Map<String, Value> = n
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    lab.insert(labels::PROJECT.into(), json!(project));
    lab.insert(labels::NETWORK.into(), json!(key));
    lab.insert(labels::VERSION.into(), json!("2.20.0"));
    let mut body = json!({
        "Name": network_name(project, key, Some(n)),
        "Driver": n.driver.clone().unwrap_or_else(|| "bridge".into()),
        "Options": n.driver_opts,
        "Internal": n.internal,
        "Attachable": n.attachable,
        "EnableIPv6": n.enable_ipv6,
        "Labels": lab,
        "CheckDuplicate": true,
    });
    if let Some(ipam) = &n.ipam {
        let config: Vec<Value> = ipam
            .config
            .iter()
            .map(|c| {
                let mut m = Map::new();
                for (k, v) in [
                    ("Subnet", &c.subnet),
                    ("Gateway", &c.gateway),
                    ("IPRange", &c.ip_range),
                ] {
                    if let Some(v) = v {
                        m.insert(k.into(), json!(v));
                    }
                }
                Value::Object(m)
            })
            .collect();
        body["IPAM"] = json!({"Driver": ipam.driver.clone().unwrap_or_else(|| "default".into()), "Config": config});
    }
    body
}

/// `POST /volumes/create` for a project volume.
pub fn volume_body(project: &str, key: &str, v: &Volume) -> Value {
    let mut lab: Map<String, Value> = v
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    lab.insert(labels::PROJECT.into(), json!(project));
    lab.insert(labels::VOLUME.into(), json!(key));
    lab.insert(labels::VERSION.into(), json!("2.20.0"));
    json!({
        "Name": volume_name(project, key, Some(v)),
        "Driver": v.driver.clone().unwrap_or_else(|| "local".into()),
        "DriverOpts": v.driver_opts,
        "Labels": lab,
    })
}

/// One container of a service.
pub struct ContainerSpec<'a> {
    pub service: &'a str,
    pub number: u32,
    /// `run`'s one-off containers.
    pub oneoff: bool,
    /// For `network_mode: service:X`: the id of X's container.
    pub net_container: Option<String>,
}

/// `POST /containers/create` for one container of a service.
pub fn container_body(l: &Loaded, s: &Service, c: &ContainerSpec<'_>) -> Result<Value> {
    let project = &l.project.name;
    let path = format!("services.{}", c.service);
    let err = |key: &str, m: String| Error::invalid(format!("{path}.{key}"), m).at(&l.lines);
    let mut lab: Map<String, Value> = s
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let files: Vec<String> = l
        .config_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    for (k, v) in [
        (labels::PROJECT, project.clone()),
        (labels::SERVICE, c.service.to_owned()),
        (labels::NUMBER, c.number.to_string()),
        (
            labels::ONEOFF,
            if c.oneoff { "True" } else { "False" }.to_owned(),
        ),
        (labels::CONFIG_HASH, config_hash(s)),
        (labels::WORKING_DIR, l.working_dir.display().to_string()),
        (labels::CONFIG_FILES, files.join(",")),
        (labels::VERSION, "2.20.0".to_owned()),
        (labels::IMAGE, image_name(project, c.service, s)),
    ] {
        lab.insert(k.into(), json!(v));
    }
    let mut body = json!({
        "Image": image_name(project, c.service, s),
        "Env": environment(l, s).map_err(|m| err("env_file", m))?,
        "Labels": lab,
        "Tty": s.tty,
        "OpenStdin": s.stdin_open,
        "AttachStdout": false,
        "AttachStderr": false,
        "ExposedPorts": exposed(s),
    });
    for (k, v) in [
        ("Cmd", s.command.as_ref().map(|v| json!(v))),
        ("Entrypoint", s.entrypoint.as_ref().map(|v| json!(v))),
        ("User", s.user.as_ref().map(|v| json!(v))),
        ("WorkingDir", s.working_dir.as_ref().map(|v| json!(v))),
        ("Domainname", s.domainname.as_ref().map(|v| json!(v))),
        ("StopSignal", s.stop_signal.as_ref().map(|v| json!(v))),
    ] {
        if let Some(v) = v {
            body[k] = v;
        }
    }
    // Docker compose leaves the hostname to the daemon (the container id) unless set.
    if let Some(h) = &s.hostname {
        body["Hostname"] = json!(h);
    }
    if let Some(g) = &s.stop_grace_period {
        let ns = units::duration_ns(g).map_err(|m| err("stop_grace_period", m))?;
        body["StopTimeout"] = json!(ns / 1_000_000_000);
    }
    if let Some(h) = &s.healthcheck {
        body["Healthcheck"] = healthcheck(h).map_err(|m| err("healthcheck", m))?;
    }
    body["HostConfig"] = host_config(l, s, c).map_err(|m| err("", m))?;
    if s.network_mode.is_none() {
        body["NetworkingConfig"] = networking(l, s, c);
    }
    Ok(body)
}

/// `environment` over `env_file`s; a variable without a value comes from the shell (or
/// `.env`), and is left out when unset there, as docker compose does.
fn environment(l: &Loaded, s: &Service) -> std::result::Result<Vec<String>, String> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for f in &s.env_file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        let lookup = |k: &str| l.env.get(k).cloned();
        env.extend(crate::interp::parse_env_file(&text, &lookup).map_err(|e| format!("{f}: {e}"))?);
    }
    for (k, v) in &s.environment {
        match v {
            Some(v) => {
                env.insert(k.clone(), v.clone());
            }
            None => {
                if let Some(v) = l.env.get(k) {
                    env.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

fn exposed(s: &Service) -> Value {
    let mut m = Map::new();
    for p in &s.ports {
        m.insert(format!("{}/{}", p.target, p.protocol), json!({}));
    }
    for e in &s.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        m.insert(key, json!({}));
    }
    Value::Object(m)
}

fn healthcheck(h: &crate::model::Healthcheck) -> std::result::Result<Value, String> {
    if h.disable {
        return Ok(json!({"Test": ["NONE"]}));
    }
    let mut out = json!({});
    if let Some(t) = &h.test {
        out["Test"] = json!(t);
    }
    for (k, v) in [
        ("Interval", &h.interval),
        ("Timeout", &h.timeout),
        ("StartPeriod", &h.start_period),
        ("StartInterval", &h.start_interval),
    ] {
        if let Some(v) = v {
            out[k] = json!(units::duration_ns(v)?);
        }
    }
    if let Some(r) = h.retries {
        out["Retries"] = json!(r);
    }
    Ok(out)
}

fn restart_policy(r: Option<&str>) -> std::result::Result<Value, String> {
    let r = r.unwrap_or("no");
    let (name, max) = match r.split_once(':') {
        Some((n, m)) => (
            n,
            m.parse::<i64>()
                .map_err(|_| format!("invalid restart policy {r:?}"))?,
        ),
        None => (r, 0),
    };
    match name {
        "no" | "always" | "unless-stopped" | "on-failure" => {
            Ok(json!({"Name": name, "MaximumRetryCount": max}))
        }
        _ => Err(format!("invalid restart policy {r:?}")),
    }
}

fn networking(l: &Loaded, s: &Service, c: &ContainerSpec<'_>) -> Value {
    let mut eps = Map::new();
    for key in service_networks(s) {
        let net = network_name(&l.project.name, &key, l.project.networks.get(&key));
        let conf = s.networks.get(&key).cloned().flatten().unwrap_or_default();
        let mut aliases = vec![c.service.to_owned()];
        aliases.extend(conf.aliases.iter().cloned());
        let mut ep = json!({"Aliases": if c.oneoff { json!([]) } else { json!(aliases) }});
        if let Some(ip) = &conf.ipv4_address {
            ep["IPAMConfig"] = json!({"IPv4Address": ip});
        }
        eps.insert(net, ep);
    }
    json!({"EndpointsConfig": eps})
}

mod host;
use host::host_config;
