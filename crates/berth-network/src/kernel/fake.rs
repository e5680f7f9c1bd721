//! A recording fake of [`KernelOps`] for unit tests: it keeps a model of the objects the
//! manager makes (pinned namespaces, links with their bridge, container interfaces with
//! address and default route, the nftables table) with the kernel's rules for them — a veth
//! pair lives and dies as one, removing a namespace takes its veths along, a bridge's slaves
//! stay when it goes — and logs every call. One operation can be made to fail.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::{KernelOps, LinkInfo};
use crate::error::{NetError, Result};
use crate::link::VethSpec;

/// The container side of a veth pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// The namespace it is in.
    pub netns: PathBuf,
    /// Its name there (`eth0`).
    pub name: String,
    /// Address and prefix.
    pub addr: (Ipv4Addr, u8),
    /// Default route, if any.
    pub gateway: Option<Ipv4Addr>,
    /// MAC as given.
    pub mac: String,
}

/// A link of the daemon's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// The bridge's index, or 0.
    pub controller: u32,
    /// A bridge's address.
    pub addr: Option<(Ipv4Addr, u8)>,
    /// A veth's container end.
    pub peer: Option<Iface>,
}

/// What the fake kernel holds.
#[derive(Debug, Default)]
pub struct Model {
    /// Pinned namespaces.
    pub netns: BTreeSet<PathBuf>,
    /// Links of the daemon's namespace by name.
    pub links: BTreeMap<String, Link>,
    /// nftables tables by name.
    pub tables: BTreeMap<String, String>,
    /// Whether forwarding was turned on.
    pub forwarding: bool,
    /// Every call, in order (`op arg`).
    pub log: Vec<String>,
    /// The operation (as logged, first word) that fails from now on.
    pub fail: Option<&'static str>,
    next_index: u32,
}

impl Model {
    /// The container interfaces inside `ns`, by name.
    pub fn ifaces(&self, ns: &Path) -> BTreeMap<String, Iface> {
        self.links
            .values()
            .filter_map(|l| l.peer.clone())
            .filter(|p| p.netns == ns)
            .map(|p| (p.name.clone(), p))
            .collect()
    }

    /// Names of the links enslaved to `bridge`.
    pub fn slaves(&self, bridge: &str) -> Vec<String> {
        let Some(b) = self.links.get(bridge) else {
            return Vec::new();
        };
        self.links
            .iter()
            .filter(|(_, l)| l.controller == b.index)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Adds a link as something outside the manager (or a crashed daemon) would.
    pub fn add_link(&mut self, name: &str, controller: Option<&str>) {
        let controller = controller
            .and_then(|c| self.links.get(c))
            .map_or(0, |l| l.index);
        self.next_index += 1;
        let link = Link {
            index: self.next_index,
            controller,
            addr: None,
            peer: None,
        };
        self.links.insert(name.to_owned(), link);
    }
}

/// The fake kernel.
#[derive(Debug, Default)]
pub struct FakeKernel {
    model: Mutex<Model>,
}

fn fail(op: &str) -> NetError {
    NetError::Netlink {
        op: op.to_owned(),
        msg: "injected failure".into(),
    }
}

impl FakeKernel {
    /// The model, to look at or change.
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs the call; `Err` when it is the one set to fail.
    fn call(&self, op: &'static str, arg: impl std::fmt::Display) -> Result<MutexGuard<'_, Model>> {
        let mut m = self.model();
        m.log.push(format!("{op} {arg}"));
        if m.fail == Some(op) {
            return Err(fail(op));
        }
        Ok(m)
    }
}

impl KernelOps for FakeKernel {
    fn netns_create(&self, path: &Path) -> Result<()> {
        let mut m = self.call("netns_create", path.display())?;
        m.netns.insert(path.to_owned());
        Ok(())
    }

    fn netns_remove(&self, path: &Path) {
        let Ok(mut m) = self.call("netns_remove", path.display()) else {
            return;
        };
        m.netns.remove(path);
        m.links
            .retain(|_, l| l.peer.as_ref().is_none_or(|p| p.netns != path));
    }

    fn netns_list(&self, dir: &Path) -> Vec<(String, PathBuf)> {
        let Ok(m) = self.call("netns_list", dir.display()) else {
            return Vec::new();
        };
        m.netns
            .iter()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), p.clone())))
            .collect()
    }

    fn link_exists(&self, name: &str) -> bool {
        self.model().links.contains_key(name)
    }

    fn link_index(&self, name: &str) -> Result<u32> {
        let m = self.model();
        m.links
            .get(name)
            .map(|l| l.index)
            .ok_or_else(|| NetError::Netlink {
                op: format!("read ifindex of {name}"),
                msg: "No such device".into(),
            })
    }

    fn links(&self) -> Result<Vec<LinkInfo>> {
        let m = self.call("links", "")?;
        Ok(m.links
            .iter()
            .map(|(name, l)| LinkInfo {
                name: name.clone(),
                index: l.index,
                controller: l.controller,
            })
            .collect())
    }

    fn link_delete(&self, name: &str) -> Result<()> {
        let mut m = self.call("link_delete", name)?;
        if let Some(gone) = m.links.remove(name) {
            // A bridge's slaves stay, unenslaved.
            for l in m.links.values_mut().filter(|l| l.controller == gone.index) {
                l.controller = 0;
            }
        }
        Ok(())
    }

    fn bridge_ensure(&self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32> {
        let mut m = self.call("bridge_ensure", name)?;
        if !m.links.contains_key(name) {
            m.add_link(name, None);
        }
        let link = m.links.get_mut(name).ok_or_else(|| fail("bridge_ensure"))?;
        link.addr = Some((gateway, prefix));
        Ok(link.index)
    }

    fn veth_add(&self, netns: &Path, v: &VethSpec<'_>) -> Result<()> {
        let mut m = self.call("veth_add", format!("{} {}", v.host, v.ifname))?;
        let exists = |what: &str| NetError::Netlink {
            op: format!("create veth {}", v.host),
            msg: format!("{what}: File exists"),
        };
        if !m.netns.contains(netns) {
            return Err(fail("veth_add: no such namespace"));
        }
        if m.links.contains_key(v.host) {
            return Err(exists(v.host));
        }
        if m.ifaces(netns).contains_key(v.ifname) {
            return Err(exists(v.ifname));
        }
        if !m.links.values().any(|l| l.index == v.bridge) {
            return Err(fail("veth_add: no such bridge"));
        }
        m.next_index += 1;
        let link = Link {
            index: m.next_index,
            controller: v.bridge,
            addr: None,
            peer: Some(Iface {
                netns: netns.to_owned(),
                name: v.ifname.to_owned(),
                addr: (v.ip, v.prefix),
                gateway: v.gateway,
                mac: v.mac.to_owned(),
            }),
        };
        m.links.insert(v.host.to_owned(), link);
        Ok(())
    }

    fn link_delete_in(&self, netns: &Path, ifname: &str) -> Result<()> {
        let mut m = self.call("link_delete_in", ifname)?;
        if !m.netns.contains(netns) {
            return Err(fail("link_delete_in: no such namespace"));
        }
        m.links.retain(|_, l| {
            l.peer
                .as_ref()
                .is_none_or(|p| p.netns != netns || p.name != ifname)
        });
        Ok(())
    }

    fn nft_apply(&self, table: &str, body: Option<&str>) -> Result<()> {
        let mut m = self.call("nft_apply", table)?;
        match body {
            Some(b) => m.tables.insert(table.to_owned(), b.to_owned()),
            None => m.tables.remove(table),
        };
        Ok(())
    }

    fn enable_forwarding(&self) {
        if let Ok(mut m) = self.call("enable_forwarding", "") {
            m.forwarding = true;
        }
    }
}
