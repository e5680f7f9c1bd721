//! Network objects through the engine: docker's `/networks` operations (list with filters,
//! inspect, create, remove, prune, connect, disconnect) and the built-in `host`/`none`.

use std::collections::BTreeMap;

use berth_network::CreateNetwork;
use serde::Deserialize;
use serde_json::{json, Value};

use super::net_err;
use crate::error::{EngineError, Result};
use std::sync::{Arc, OnceLock};

use crate::{EngineConfig, Events};

/// The networks service: the network objects (`/networks`), the daemon's network manager
/// (`berth-network`) and each container's endpoints in it, the rootless user-mode network.
pub struct Networks {
    pub(crate) cfg: EngineConfig,
    /// Set once at open; unset when networking is off or failed to open.
    pub(crate) manager: OnceLock<berth_network::Networks>,
    pub(crate) events: Arc<Events>,
}

impl Networks {
    /// A service whose manager `open_manager` sets up.
    pub(crate) fn new(cfg: EngineConfig, events: Arc<Events>) -> Networks {
        Networks {
            cfg,
            manager: OnceLock::new(),
            events,
        }
    }

    /// The manager, when networking is on.
    pub(crate) fn manager(&self) -> Option<&berth_network::Networks> {
        self.manager.get()
    }
}

/// The body of `POST /networks/create`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    /// Unique name.
    pub name: String,
    /// `bridge` (default).
    pub driver: String,
    /// No outside access.
    pub internal: bool,
    /// `{"Config": [{"Subnet", "Gateway", "IPRange"}]}`.
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    /// Driver options.
    pub options: Option<BTreeMap<String, String>>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
}

/// `IPAM` of a create request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    /// Pools (only the first is used).
    pub config: Option<Vec<IpamPool>>,
}

/// One IPAM pool.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamPool {
    /// CIDR.
    pub subnet: Option<String>,
    /// Gateway address.
    pub gateway: Option<String>,
    /// Allocation range.
    #[serde(rename = "IPRange")]
    pub ip_range: Option<String>,
}

/// `host` and `none` as docker lists them (stable ids derived from the name).
fn builtin(name: &str) -> Value {
    let driver = if name == "host" { "host" } else { "null" };
    let id: String = name
        .bytes()
        .cycle()
        .take(32)
        .map(|b| format!("{:02x}", b))
        .collect();
    json!({
        "Name": name, "Id": id, "Created": "0001-01-01T00:00:00Z", "Scope": "local",
        "Driver": driver, "EnableIPv4": true, "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false, "Attachable": false, "Ingress": false,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false, "Containers": {},
        "Options": {}, "Labels": {},
    })
}

/// Docker's network filters: name (substring), id (prefix), driver, label, type.
fn matches(n: &Value, filters: &BTreeMap<String, Vec<String>>) -> bool {
    filters.iter().all(|(k, vals)| {
        vals.is_empty()
            || vals.iter().any(|v| match k.as_str() {
                "name" => n["Name"].as_str().is_some_and(|s| s.contains(v.as_str())),
                "id" => n["Id"].as_str().is_some_and(|s| s.starts_with(v.as_str())),
                "driver" => n["Driver"] == v.as_str(),
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => n["Labels"][lk] == lv,
                    None => n["Labels"].get(v).is_some(),
                },
                "type" => {
                    let builtin = matches!(n["Name"].as_str(), Some("bridge" | "host" | "none"));
                    (v == "builtin") == builtin
                }
                _ => false,
            })
    })
}

/// Parses docker's `filters` query value (`{"name":["x"]}` or `{"name":{"x":true}}`).
pub fn parse_filters(raw: Option<&str>) -> Result<BTreeMap<String, Vec<String>>> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let accepted = ["name", "id", "driver", "label", "type", "scope", "dangling"];
    let mut out = crate::list_filters::parse_fields(raw, &accepted)?;
    out.remove("scope");
    out.remove("dangling");
    Ok(out)
}

impl Networks {
    /// `GET /networks`: every network (docker's shape), filtered.
    pub fn list(&self, filters: Option<&str>) -> Result<Vec<Value>> {
        let f = parse_filters(filters)?;
        let net = self.net()?;
        let mut all: Vec<Value> = net.list().iter().map(|n| net.inspect(n)).collect();
        all.push(builtin("host"));
        all.push(builtin("none"));
        Ok(all.into_iter().filter(|n| matches(n, &f)).collect())
    }

    /// `GET /networks/{id}`.
    pub fn inspect(&self, key: &str) -> Result<Value> {
        if matches!(key, "host" | "none") {
            return Ok(builtin(key));
        }
        let net = self.net()?;
        let n = net.get(key).map_err(net_err)?;
        Ok(net.inspect(&n))
    }

    /// `POST /networks/create`: returns the new id.
    pub fn create(&self, req: NetworkCreateRequest) -> Result<String> {
        let pool = req
            .ipam
            .and_then(|i| i.config)
            .and_then(|c| c.into_iter().next())
            .unwrap_or_default();
        let n = self
            .net()?
            .create(CreateNetwork {
                name: req.name,
                driver: req.driver,
                subnet: pool.subnet.filter(|s| !s.is_empty()),
                gateway: pool.gateway.filter(|s| !s.is_empty()),
                ip_range: pool.ip_range.filter(|s| !s.is_empty()),
                internal: req.internal,
                labels: req.labels.unwrap_or_default(),
                options: req.options.unwrap_or_default(),
            })
            .map_err(net_err)?;
        self.emit_network(&n.id, "create", &n.name, &[]);
        Ok(n.id)
    }

    /// A network event with docker's `name` and `type` attributes plus `extra`.
    pub(crate) fn emit_network(&self, id: &str, action: &str, name: &str, extra: &[(&str, &str)]) {
        let mut attrs = vec![("name", name), ("type", "bridge")];
        attrs.extend_from_slice(extra);
        self.events.emit("network", action, id, &attrs);
    }

    /// The id and name of the network `key` names, for events.
    pub(crate) fn network_names(&self, key: &str) -> Result<(String, String)> {
        let v = self.inspect(key)?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Ok((field("Id"), field("Name")))
    }

    /// `DELETE /networks/{id}`.
    pub fn remove(&self, key: &str) -> Result<()> {
        if matches!(key, "host" | "none") {
            return Err(EngineError::Conflict(format!(
                "{key} is a pre-defined network and cannot be removed"
            )));
        }
        let n = self.net()?.remove(key).map_err(net_err)?;
        self.emit_network(&n.id, "destroy", &n.name, &[]);
        Ok(())
    }

    /// `POST /networks/prune`: names of the removed networks.
    pub fn prune(&self) -> Result<Vec<String>> {
        Ok(self.net()?.prune())
    }
}
