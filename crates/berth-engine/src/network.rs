//! Container networking as the engine sees it (docker's `--network` modes over
//! `berth-network`): the mode and networks recorded at create, the network set up before the
//! shim starts (namespace, veths, ports, `/etc` files bind-mounted into the spec), torn down
//! when the container exits or is removed. Network objects themselves: `ops`.

mod ops;
mod step;

pub(crate) use step::StepNet;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use berth_network::{AttachRequest, EtcFiles, NetConfig, Networks as NetManager};
use berth_runtime::oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::error::{EngineError, Result};
use crate::model::{ContainerConfig, ContainerRecord, EndpointSettings, HostConfig};

pub use ops::{NetworkCreateRequest, Networks};

/// The daemon's networking options (`--bridge`, `--bip`).
#[derive(Debug, Clone, Default)]
pub struct NetworkOptions {
    /// The default bridge's device name; `None` means no default network (`--bridge none`):
    /// containers then default to `--network none`.
    pub bridge: Option<String>,
    /// The default bridge's address and prefix (`172.17.0.1/16`); default: docker's, or the
    /// first free pool if the host already routes it.
    pub bip: Option<String>,
    /// The daemon's `--dns`: the name servers of containers that name none themselves, and the
    /// upstream of the embedded DNS servers; empty: the host's.
    pub dns: Vec<std::net::Ipv4Addr>,
}

/// How a container's network namespace is made.
pub(crate) enum NsMode {
    /// The runtime makes a fresh one (`none`).
    Fresh,
    /// Join this one (our pinned namespace, or another container's).
    Join(PathBuf),
    /// The host's (`host`).
    Host,
}

impl EndpointSettings {
    pub(crate) fn to_request(&self, network: &str) -> Result<AttachRequest> {
        let ipv4 = match self
            .ipam_config
            .as_ref()
            .and_then(|c| c.ipv4_address.as_deref())
        {
            Some(s) if !s.is_empty() => Some(s.parse().map_err(|_| {
                EngineError::InvalidParameter(format!("invalid IPv4 address: {s}"))
            })?),
            _ => None,
        };
        Ok(AttachRequest {
            network: network.to_owned(),
            aliases: self.aliases.clone().unwrap_or_default(),
            ipv4,
            mac: self.mac_address.clone().filter(|m| !m.is_empty()),
        })
    }
}

/// Checks the hostname, DNS and hosts entries a container will get before anything is
/// created: they end up in kernel calls and in files bind-mounted into the container.
pub(crate) fn validate_dns(cfg: &ContainerConfig, host: &HostConfig) -> Result<()> {
    berth_network::names::dns_config(
        &cfg.hostname,
        &host.net.dns,
        &host.net.dns_search,
        &host.net.dns_options,
        &host.net.extra_hosts,
    )
    .map_err(net_err)
}

pub(crate) fn net_err(e: berth_network::NetError) -> EngineError {
    use berth_network::NetError as N;
    match e {
        N::NotFound(_) => EngineError::NotFound(e.to_string()),
        N::Invalid(m) => EngineError::InvalidParameter(m),
        N::Conflict(m) => EngineError::Conflict(m),
        other => EngineError::Internal(other.to_string()),
    }
}

/// `nft` table name: `berth` for the system daemon, one per data root otherwise, so parallel
/// daemons never share one.
fn table_name(data_root: &Path) -> String {
    if data_root == Path::new("/var/lib/berth") {
        return "berth".into();
    }
    // FNV-1a of the path: stable and short.
    let mut h: u32 = 0x811c_9dc5;
    for b in data_root.as_os_str().as_encoded_bytes() {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    format!("berth_{h:08x}")
}

impl Networks {
    /// Opens the network manager and reconciles it (`alive`: whether a container runs).
    /// Failure is logged: containers then run without networks but `none` still works.
    pub(crate) fn open_manager(&self, alive: &dyn Fn(&str) -> Option<bool>) {
        let Some(opts) = &self.cfg.network else {
            return;
        };
        let default_bridge = match opts.bridge.as_deref() {
            None | Some("none") => None,
            Some(name) => match default_bridge(name, opts.bip.as_deref()) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::error!("default bridge: {e}");
                    None
                }
            },
        };
        let cfg = NetConfig {
            state_dir: self.cfg.data_root.join("network"),
            netns_dir: self.cfg.exec_root.join("netns"),
            table: table_name(&self.cfg.data_root),
            default_bridge,
            dns_upstream: opts.dns.clone(),
        };
        match NetManager::open(cfg, alive) {
            Ok(n) => {
                let _ = self.manager.set(n);
            }
            Err(e) => tracing::error!("networking disabled: {e}"),
        }
    }

    /// The daemon's `--dns` servers, for containers that name none themselves.
    pub(crate) fn daemon_dns(&self) -> Vec<String> {
        self.cfg
            .network
            .iter()
            .flat_map(|n| n.dns.iter().map(ToString::to_string))
            .collect()
    }

    pub(crate) fn net(&self) -> Result<&NetManager> {
        self.manager().ok_or_else(|| {
            EngineError::Internal("networking is not available in this daemon".into())
        })
    }

    /// The mode a create request gets when it names none.
    pub(crate) fn default_mode(&self) -> &'static str {
        if self.cfg.rootless {
            return self.rootless_default_mode();
        }
        match self.manager().map(|n| n.get("bridge").is_ok()) {
            Some(true) => "bridge",
            _ => "none",
        }
    }

    /// At daemon shutdown: removes bridges and rules no running container needs.
    pub fn shutdown(&self) {
        if let Some(n) = self.manager() {
            n.shutdown();
        }
    }

    /// Releases the network of a container that stopped.
    pub(crate) fn net_teardown(&self, id: &str) {
        if self.cfg.rootless {
            self.pasta_teardown(id);
        }
        if let Some(n) = self.manager() {
            let t = std::time::Instant::now();
            n.teardown(id);
            tracing::debug!("network of {id} released in {:?}", t.elapsed());
        }
    }

    /// Forgets a removed container's networking.
    pub(crate) fn net_unregister(&self, id: &str) {
        if self.cfg.rootless {
            self.pasta_teardown(id);
        }
        if let Some(n) = self.manager() {
            n.unregister(id);
        }
    }

    /// Follows a rename in the DNS names.
    pub(crate) fn net_rename(&self, id: &str, name: &str) {
        if let Some(n) = self.manager() {
            n.rename(id, name);
        }
    }

    /// The `NetworkSettings` of `inspect`.
    pub(crate) fn network_settings(&self, rec: &ContainerRecord) -> Value {
        let exposed: Vec<String> = rec.config.net.exposed_ports.keys().cloned().collect();
        match self.manager() {
            Some(n) => n.settings(&rec.id, &exposed, &rec.host_config.network_mode),
            None if self.cfg.rootless => self.pasta_settings(rec),
            None => json!({"Networks": {}}),
        }
    }

    /// `ps`'s `Ports`.
    pub(crate) fn summary_ports(&self, rec: &ContainerRecord) -> Vec<Value> {
        match self.manager() {
            Some(n) => n.summary_ports(&rec.id),
            None if self.cfg.rootless => self.pasta_summary_ports(rec),
            None => Vec::new(),
        }
    }
}

/// Adds the image's `ExposedPorts` to the container's (for `-P` and inspect).
pub(crate) fn merge_exposed(
    cfg: &mut ContainerConfig,
    img: Option<&berth_image::config::ContainerConfig>,
) {
    if let Some(ports) = img.and_then(|i| i.exposed_ports.as_ref()) {
        for (k, v) in ports {
            cfg.net
                .exposed_ports
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
    }
}

/// The default bridge from the flags; without `--bip`, docker's 172.17.0.1/16 unless the host
/// already routes it, then the first free pool.
fn default_bridge(
    name: &str,
    bip: Option<&str>,
) -> berth_network::Result<berth_network::DefaultBridge> {
    use berth_network::subnet;
    berth_network::names::interface(name)?;
    let (gateway, subnet) = match bip {
        Some(b) => subnet::parse_cidr_host(b)?,
        None => {
            let mut s: berth_network::Subnet = "172.17.0.0/16".parse()?;
            let routes: Vec<_> = subnet::host_routes();
            // A route through our own bridge is ours (a previous run): keep the subnet.
            let ours = std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex")).is_ok();
            if !ours && routes.iter().any(|r| r.overlaps(&s)) {
                s = subnet::pick_free(&routes).ok_or_else(|| {
                    berth_network::NetError::Conflict(
                        "no free subnet for the default bridge".into(),
                    )
                })?;
            }
            (s.nth(1).unwrap_or(s.addr), s)
        }
    };
    Ok(berth_network::DefaultBridge {
        name: name.to_owned(),
        gateway,
        subnet,
    })
}

/// The container's address on its first network, and the embedded DNS server's (that
/// network's gateway) when it is a user-defined one: what its `/etc` files name.
pub(crate) fn first_addresses(net: &NetManager, id: &str) -> (Option<Ipv4Addr>, Option<Ipv4Addr>) {
    let c = net.container(id).unwrap_or_default();
    let first = c.requests.first().and_then(|r| net.get(&r.network).ok());
    let own = first
        .as_ref()
        .and_then(|n| c.endpoints.get(&n.id))
        .map(|e| e.ip);
    let embedded = first.as_ref().filter(|n| !n.default).map(|n| n.gateway);
    (own, embedded)
}

/// Points the spec's network namespace at `ns` and bind-mounts the `/etc` files.
pub(crate) fn edit_spec(spec: Spec, ns: &NsMode, files: &EtcFiles) -> Result<Spec> {
    let bad = |e: serde_json::Error| EngineError::Internal(format!("container spec: {e}"));
    let mut v = serde_json::to_value(spec).map_err(bad)?;
    if let Some(list) = v
        .pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
    {
        match ns {
            NsMode::Fresh => {}
            NsMode::Host => list.retain(|n| n["type"] != "network"),
            NsMode::Join(p) => {
                for n in list.iter_mut().filter(|n| n["type"] == "network") {
                    n["path"] = json!(p);
                }
            }
        }
    }
    if let Some(mounts) = v.get_mut("mounts").and_then(Value::as_array_mut) {
        for (dest, src) in [
            ("/etc/resolv.conf", &files.resolv_conf),
            ("/etc/hostname", &files.hostname),
            ("/etc/hosts", &files.hosts),
        ] {
            if src.exists() && !mounts.iter().any(|m| m["destination"] == dest) {
                mounts.push(json!({"destination": dest, "type": "bind", "source": src,
                                   "options": ["rbind", "rprivate"]}));
            }
        }
    }
    serde_json::from_value(v).map_err(bad)
}
