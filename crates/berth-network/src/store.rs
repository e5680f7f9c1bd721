//! The persistent state: every network with its IPAM allocations, and every container's
//! attachments. One JSON file, replaced atomically (temp + fsync + rename), so a crash leaves
//! the old or the new state, never a torn one.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io_err, NetError, Result};
use crate::ports::PortMapping;
use crate::subnet::Subnet;

/// A network as the daemon keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// 64 hex digits.
    pub id: String,
    /// Unique name (`bridge` for the default network).
    pub name: String,
    /// Always `bridge` so far.
    pub driver: String,
    /// The Linux bridge device.
    pub bridge: String,
    /// The subnet.
    pub subnet: Subnet,
    /// The bridge's own address, the containers' default route.
    pub gateway: Ipv4Addr,
    /// Addresses handed out come from here (default: the subnet).
    #[serde(default)]
    pub ip_range: Option<Subnet>,
    /// No route out: no masquerade, no forwarding to other interfaces.
    #[serde(default)]
    pub internal: bool,
    /// User labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Driver options (`-o`), kept as given.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// RFC 3339 creation time.
    pub created: String,
    /// The daemon's default network: no DNS, cannot be removed.
    #[serde(default)]
    pub default: bool,
}

/// What a container asked for on one network (docker's `EndpointSettings` input).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AttachRequest {
    /// Network name or id as given.
    pub network: String,
    /// Extra DNS names on this network.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A fixed address (`--ip`).
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
    /// A fixed MAC address (`--mac-address`).
    #[serde(default)]
    pub mac: Option<String>,
}

/// A live attachment of a running container to a network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    /// 64 hex digits.
    pub id: String,
    /// The network's id.
    pub network_id: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The container side's MAC address.
    pub mac: String,
    /// Interface name inside the container (`eth0`, `eth1`, …).
    pub ifname: String,
    /// The host side of the veth pair.
    pub host_veth: String,
}

/// Everything known about one container's networking.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerNet {
    /// The container's name without `/`.
    pub name: String,
    /// Its host name (for /etc/hosts).
    #[serde(default)]
    pub hostname: String,
    /// The networks it belongs to, in order (the first gives eth0 and the default route).
    pub requests: Vec<AttachRequest>,
    /// Published ports (`-p`, `-P`), resolved at start.
    #[serde(default)]
    pub port_requests: Vec<crate::ports::PortRequest>,
    /// While running: the endpoints, by network id.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// While running: the host ports in use.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// While running: the container's network namespace (a bind mount).
    #[serde(default)]
    pub netns: Option<PathBuf>,
}

/// The whole state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Networks by id.
    pub networks: BTreeMap<String, NetworkRecord>,
    /// Containers by full id.
    pub containers: BTreeMap<String, ContainerNet>,
}

impl State {
    /// Finds a network by exact id, exact name, or unique id prefix.
    pub fn find(&self, key: &str) -> Result<&NetworkRecord> {
        if let Some(n) = self.networks.get(key) {
            return Ok(n);
        }
        if let Some(n) = self.networks.values().find(|n| n.name == key) {
            return Ok(n);
        }
        let hits: Vec<&NetworkRecord> = self
            .networks
            .values()
            .filter(|n| !key.is_empty() && n.id.starts_with(key))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(NetError::NotFound(key.to_owned())),
            _ => Err(NetError::Invalid(format!(
                "network {key} is ambiguous ({} matches found based on ID prefix)",
                hits.len()
            ))),
        }
    }

    /// Addresses in use on a network (live endpoints).
    pub fn used_ips(&self, network_id: &str) -> Vec<Ipv4Addr> {
        self.containers
            .values()
            .filter_map(|c| c.endpoints.get(network_id).map(|e| e.ip))
            .collect()
    }

    /// Containers with a live endpoint on the network.
    pub fn members<'a>(
        &'a self,
        network_id: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a ContainerNet)> + 'a {
        self.containers
            .iter()
            .filter(move |(_, c)| c.endpoints.contains_key(network_id))
    }
}

/// Loads and saves [`State`] at one path.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// The store in `dir` (created).
    pub fn open(dir: &Path) -> Result<Store> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("create", dir))?;
        Ok(Store {
            path: dir.join("networks.json"),
        })
    }

    /// Reads the state (empty if the file does not exist yet).
    pub fn load(&self) -> Result<State> {
        match fs::read(&self.path) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| NetError::Invalid(format!("corrupt {}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(io_err("read", &self.path)(e)),
        }
    }

    /// Writes the state atomically and durably (configuration changes).
    pub fn save(&self, state: &State) -> Result<()> {
        self.write(state, true)
    }

    /// Writes the state atomically without waiting for the disk: for the live part
    /// (endpoints, ports), which only has to survive a daemon crash (the page cache does) —
    /// after a host crash no container runs and the reconciliation drops it anyway.
    pub fn save_live(&self, state: &State) -> Result<()> {
        self.write(state, false)
    }

    fn write(&self, state: &State, durable: bool) -> Result<()> {
        let data = serde_json::to_vec(state)
            .map_err(|e| NetError::Invalid(format!("encode network state: {e}")))?;
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(&data)
            .and_then(|()| if durable { f.sync_all() } else { Ok(()) })
            .map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &self.path).map_err(io_err("rename", &self.path))?;
        if !durable {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}
