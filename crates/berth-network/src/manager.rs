//! [`Networks`]: the networks and the containers' attachments, their persistence, network
//! create/remove/prune, and the reconciliation of the kernel with the state at daemon start.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::dns::DnsServer;
use crate::error::{NetError, Result};
use crate::kernel::{KernelOps, RealKernel};
use crate::store::{AttachRequest, ContainerNet, NetworkRecord, State, Store};
use crate::subnet::{self, Subnet};

/// The daemon's default bridge (`--bridge`, `--bip`).
#[derive(Debug, Clone)]
pub struct DefaultBridge {
    /// Device name (`berth0`).
    pub name: String,
    /// The bridge's address.
    pub gateway: Ipv4Addr,
    /// Its subnet.
    pub subnet: Subnet,
}

/// Where the state lives and how the daemon's kernel objects are named.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Persistent state directory (`<data-root>/network`).
    pub state_dir: PathBuf,
    /// Pinned network namespaces (`<exec-root>/netns`).
    pub netns_dir: PathBuf,
    /// The daemon's nftables table (`ip` family).
    pub table: String,
    /// The default `bridge` network, or none (`--bridge none`).
    pub default_bridge: Option<DefaultBridge>,
    /// Where the embedded DNS servers forward names they do not know (`--dns`); empty: the
    /// host's resolvers.
    pub dns_upstream: Vec<Ipv4Addr>,
}

/// `docker network create`'s options.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    /// Unique name.
    pub name: String,
    /// Only `bridge` (or empty).
    pub driver: String,
    /// `--subnet` (default: a free one from docker's pools).
    pub subnet: Option<String>,
    /// `--gateway` (default: the first address).
    pub gateway: Option<String>,
    /// `--ip-range`.
    pub ip_range: Option<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `-o` driver options.
    pub options: BTreeMap<String, String>,
}

/// The network manager of one daemon. All changes run under one lock, kernel work included,
/// so the state file and the kernel move together.
pub struct Networks {
    pub(crate) cfg: NetConfig,
    /// Every change to the host goes through here (the real kernel, or a fake in tests).
    pub(crate) kernel: Arc<dyn KernelOps>,
    store: Store,
    state: Mutex<State>,
    pub(crate) dns: Mutex<HashMap<String, DnsServer>>,
    /// The table as last applied (`Some(None)`: known absent), to skip needless `nft` runs.
    pub(crate) applied: Mutex<Option<Option<String>>>,
}

pub(crate) fn random_id() -> String {
    let mut b = [0u8; 32];
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    if b.iter().all(|x| *x == 0) {
        // No randomness: time and pid still make a unique id on this host.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b[..16].copy_from_slice(&t.to_le_bytes());
        b[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn now_rfc3339() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

impl Networks {
    /// Opens the state and reconciles the kernel with it: `alive(id)` says whether a container
    /// still exists (`Some`) and runs (`Some(true)`). Endpoints of containers that are not
    /// running are torn down, unknown containers forgotten, stray namespaces, veths and
    /// bridges removed, and the nftables table rewritten.
    pub fn open(cfg: NetConfig, alive: &dyn Fn(&str) -> Option<bool>) -> Result<Networks> {
        Self::open_with(cfg, Arc::new(RealKernel), alive)
    }

    /// [`Networks::open`] over another kernel (tests use a fake).
    pub fn open_with(
        cfg: NetConfig,
        kernel: Arc<dyn KernelOps>,
        alive: &dyn Fn(&str) -> Option<bool>,
    ) -> Result<Networks> {
        let store = Store::open(&cfg.state_dir)?;
        let mut state = store.load()?;
        sync_default(&cfg, &mut state);
        let nets = Networks {
            cfg,
            kernel,
            store,
            state: Mutex::new(state),
            dns: Mutex::new(HashMap::new()),
            applied: Mutex::new(None),
        };
        nets.reconcile(alive)?;
        Ok(nets)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn save(&self, st: &State) -> Result<()> {
        self.store.save(st)
    }

    pub(crate) fn save_live(&self, st: &State) -> Result<()> {
        self.store.save_live(st)
    }

    /// At daemon shutdown: removes the bridges, DNS servers and rules no running container
    /// needs (with no containers running, the host is left as it was before the daemon).
    pub fn shutdown(&self) {
        // On a plain thread: the caller may be inside an async runtime, where the netlink
        // calls could not block.
        std::thread::scope(|s| {
            s.spawn(|| {
                let st = self.lock();
                if let Err(e) = self.sync_kernel(&st, true) {
                    tracing::warn!("network shutdown: {e}");
                }
            });
        });
    }

    /// Every network, default first.
    pub fn list(&self) -> Vec<NetworkRecord> {
        let st = self.lock();
        let mut v: Vec<NetworkRecord> = st.networks.values().cloned().collect();
        v.sort_by(|a, b| b.default.cmp(&a.default).then(a.created.cmp(&b.created)));
        v
    }

    /// One network by id, name or id prefix.
    pub fn get(&self, key: &str) -> Result<NetworkRecord> {
        self.lock().find(key).cloned()
    }

    /// The networking of one container, if registered.
    pub fn container(&self, id: &str) -> Option<ContainerNet> {
        self.lock().containers.get(id).cloned()
    }

    /// Every registered container with its networking.
    pub fn containers(&self) -> BTreeMap<String, ContainerNet> {
        self.lock().containers.clone()
    }

    /// `docker network create`.
    pub fn create(&self, req: CreateNetwork) -> Result<NetworkRecord> {
        if !matches!(req.driver.as_str(), "" | "bridge") {
            return Err(NetError::NotFound(format!("plugin {}", req.driver)));
        }
        crate::names::network(&req.name)?;
        if matches!(req.name.as_str(), "host" | "none" | "bridge") {
            return Err(NetError::Conflict(format!(
                "{} is a pre-defined network and cannot be created",
                req.name
            )));
        }
        let mut st = self.lock();
        if st.networks.values().any(|n| n.name == req.name) {
            return Err(NetError::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let used: Vec<Subnet> = st.networks.values().map(|n| n.subnet).collect();
        let subnet = match &req.subnet {
            Some(s) => {
                let s: Subnet = s.parse()?;
                if let Some(o) = st.networks.values().find(|n| n.subnet.overlaps(&s)) {
                    return Err(NetError::Conflict(format!(
                        "invalid pool request: Pool overlaps with other one on this address space ({})",
                        o.name
                    )));
                }
                s
            }
            None => {
                let mut all = used.clone();
                all.extend(subnet::host_routes());
                subnet::pick_free(&all).ok_or_else(|| {
                    NetError::Conflict("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into())
                })?
            }
        };
        if subnet.prefix > 30 {
            return Err(NetError::Invalid(format!("subnet {subnet} is too small")));
        }
        let gateway = match &req.gateway {
            Some(g) => g
                .parse::<Ipv4Addr>()
                .ok()
                .filter(|g| subnet.contains(*g))
                .ok_or_else(|| {
                    NetError::Invalid(format!("invalid gateway {g} for subnet {subnet}"))
                })?,
            None => subnet.nth(1).unwrap_or(subnet.addr),
        };
        let ip_range = match &req.ip_range {
            Some(r) => {
                let r: Subnet = r.parse()?;
                if !subnet.contains(r.addr) || r.prefix < subnet.prefix {
                    return Err(NetError::Invalid(format!(
                        "ip-range {r} is not within subnet {subnet}"
                    )));
                }
                Some(r)
            }
            None => None,
        };
        let id = random_id();
        let bridge = match req.options.get("com.docker.network.bridge.name") {
            Some(b) => {
                crate::names::bridge(b, st.networks.values().map(|n| n.bridge.as_str()))?;
                b.clone()
            }
            None => format!("br-{}", &id[..12]),
        };
        let rec = NetworkRecord {
            id: id.clone(),
            name: req.name,
            driver: "bridge".into(),
            bridge,
            subnet,
            gateway,
            ip_range,
            internal: req.internal,
            labels: req.labels,
            options: req.options,
            created: now_rfc3339(),
            default: false,
        };
        st.networks.insert(id, rec.clone());
        self.save(&st)?;
        Ok(rec)
    }

    /// `docker network rm`: refuses while containers are attached.
    pub fn remove(&self, key: &str) -> Result<NetworkRecord> {
        let mut st = self.lock();
        let n = st.find(key)?.clone();
        if n.default {
            return Err(NetError::Conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let users: Vec<String> = st
            .containers
            .iter()
            .filter(|(_, c)| {
                c.requests
                    .iter()
                    .any(|r| r.network == n.id || r.network == n.name)
            })
            .map(|(id, _)| id.clone())
            .collect();
        if !users.is_empty() {
            return Err(NetError::Conflict(format!(
                "error while removing network: network {} has active endpoints",
                n.name
            )));
        }
        st.networks.remove(&n.id);
        self.save(&st)?;
        self.dns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&n.id);
        if self.kernel.link_exists(&n.bridge) {
            self.kernel.link_delete(&n.bridge)?;
        }
        self.sync_kernel(&st, false)?;
        Ok(n)
    }

    /// `docker network prune`: removes every unused user network; returns their names.
    pub fn prune(&self) -> Vec<String> {
        let keys: Vec<String> = self
            .list()
            .into_iter()
            .filter(|n| !n.default)
            .map(|n| n.id)
            .collect();
        keys.iter()
            .filter_map(|k| self.remove(k).ok().map(|n| n.name))
            .collect()
    }

    /// Records what a new container asked for (its networks are checked to exist).
    pub fn register(&self, id: &str, mut net: ContainerNet) -> Result<()> {
        let mut st = self.lock();
        for r in &mut net.requests {
            let n = st.find(&r.network)?;
            if n.default && (!r.aliases.is_empty()) {
                return Err(NetError::Invalid(
                    "network-scoped alias is supported only for containers in user defined networks".into(),
                ));
            }
            if let Some(ip) = r.ipv4 {
                if !n.subnet.contains(ip) {
                    return Err(NetError::Invalid(format!(
                        "no configured subnet contains IP address {ip}"
                    )));
                }
            }
            r.network = n.name.clone();
        }
        st.containers.insert(id.to_owned(), net);
        // Not fsynced here: the engine fsyncs the container's record right after, which on
        // journaling filesystems commits this rename too; a lost entry only means no network.
        self.save_live(&st)
    }

    /// Forgets a removed container (tearing down anything still set up).
    pub fn unregister(&self, id: &str) {
        self.teardown(id);
        let mut st = self.lock();
        if st.containers.remove(id).is_some() {
            // An entry resurrected by a host crash is dropped by the next reconciliation.
            if let Err(e) = self.save_live(&st) {
                tracing::warn!("network state: {e}");
            }
        }
    }

    /// Renames a container in its DNS entries.
    pub fn rename(&self, id: &str, name: &str) {
        let mut st = self.lock();
        if let Some(c) = st.containers.get_mut(id) {
            c.name = name.to_owned();
            let _ = self.save(&st);
            let _ = self.sync_kernel(&st, false);
        }
    }

    /// Whether the request names an existing network (for `--network NAME` checks).
    pub fn validate(&self, req: &AttachRequest) -> Result<()> {
        self.lock().find(&req.network).map(drop)
    }
}

/// Keeps the `bridge` network record in line with the daemon's flags.
fn sync_default(cfg: &NetConfig, st: &mut State) {
    let existing = st
        .networks
        .values()
        .find(|n| n.default)
        .map(|n| n.id.clone());
    match (&cfg.default_bridge, existing) {
        (Some(b), Some(id)) => {
            if let Some(n) = st.networks.get_mut(&id) {
                n.bridge = b.name.clone();
                n.gateway = b.gateway;
                n.subnet = b.subnet;
            }
        }
        (Some(b), None) => {
            let id = random_id();
            let mut options = BTreeMap::new();
            options.insert("com.docker.network.bridge.name".into(), b.name.clone());
            options.insert(
                "com.docker.network.bridge.default_bridge".into(),
                "true".into(),
            );
            st.networks.insert(
                id.clone(),
                NetworkRecord {
                    id,
                    name: "bridge".into(),
                    driver: "bridge".into(),
                    bridge: b.name.clone(),
                    subnet: b.subnet,
                    gateway: b.gateway,
                    ip_range: None,
                    internal: false,
                    labels: BTreeMap::new(),
                    options,
                    created: now_rfc3339(),
                    default: true,
                },
            );
        }
        (None, Some(id)) => {
            st.networks.remove(&id);
            for c in st.containers.values_mut() {
                c.requests.retain(|r| r.network != "bridge");
            }
        }
        (None, None) => {}
    }
}
