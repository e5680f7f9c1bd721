//! The seam between planning and the kernel: every change [`crate::Networks`] makes to the
//! host goes through [`KernelOps`] — namespaces pinned and removed, bridges, veth pairs with
//! their container side's address and routes, the nftables table, IPv4 forwarding. The daemon
//! uses [`RealKernel`] (netlink, bind mounts, `nft`); unit tests use a recording fake that
//! keeps a model of those objects, so planning and crash recovery are tested without root.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::link::VethSpec;
use crate::{link, netns, nft};

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

/// One link of the daemon's namespace as [`KernelOps::links`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Device name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// The index of the bridge it is enslaved to, or 0.
    pub controller: u32,
}

/// The kernel operations the network manager needs. Calls come with the manager's lock held,
/// one at a time.
pub trait KernelOps: Send + Sync {
    /// Creates a network namespace and pins it at `path`.
    fn netns_create(&self, path: &Path) -> Result<()>;
    /// Unpins and removes a pinned namespace (its veths go with it); missing is fine.
    fn netns_remove(&self, path: &Path);
    /// The namespaces pinned under `dir`: (file name, path).
    fn netns_list(&self, dir: &Path) -> Vec<(String, PathBuf)>;
    /// Whether a link of that name exists in the daemon's namespace.
    fn link_exists(&self, name: &str) -> bool;
    /// The index of an existing link.
    fn link_index(&self, name: &str) -> Result<u32>;
    /// Every link of the daemon's namespace.
    fn links(&self) -> Result<Vec<LinkInfo>>;
    /// Deletes a link by name (a veth's peer goes with it); missing is fine.
    fn link_delete(&self, name: &str) -> Result<()>;
    /// Makes sure the bridge exists, is up and carries `gateway/prefix`; returns its index.
    fn bridge_ensure(&self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32>;
    /// Creates a veth pair: the host end on the bridge, the other in the namespace at
    /// `netns` with its address, up, and the default route when the spec has a gateway.
    fn veth_add(&self, netns: &Path, v: &VethSpec<'_>) -> Result<()>;
    /// Deletes interface `ifname` inside the namespace at `netns` (its host peer goes too).
    fn link_delete_in(&self, netns: &Path, ifname: &str) -> Result<()>;
    /// Replaces the daemon's nftables table with `body`, or removes it when `None`.
    fn nft_apply(&self, table: &str, body: Option<&str>) -> Result<()>;
    /// Turns IPv4 forwarding on (never off: others may rely on it).
    fn enable_forwarding(&self);
}

/// The host's kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealKernel;

impl KernelOps for RealKernel {
    fn netns_create(&self, path: &Path) -> Result<()> {
        netns::create(path)
    }

    fn netns_remove(&self, path: &Path) {
        netns::remove(path)
    }

    fn netns_list(&self, dir: &Path) -> Vec<(String, PathBuf)> {
        netns::list(dir)
    }

    fn link_exists(&self, name: &str) -> bool {
        link::exists(name)
    }

    fn link_index(&self, name: &str) -> Result<u32> {
        link::index(name)
    }

    fn links(&self) -> Result<Vec<LinkInfo>> {
        Ok(link::list()?
            .into_iter()
            .map(|(name, index, controller)| LinkInfo {
                name,
                index,
                controller,
            })
            .collect())
    }

    fn link_delete(&self, name: &str) -> Result<()> {
        link::delete(name)
    }

    fn bridge_ensure(&self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32> {
        link::ensure_bridge(name, gateway, prefix)
    }

    fn veth_add(&self, netns: &Path, v: &VethSpec<'_>) -> Result<()> {
        link::add_veth(netns, v)
    }

    fn link_delete_in(&self, netns: &Path, ifname: &str) -> Result<()> {
        link::delete_in(netns, ifname)
    }

    fn nft_apply(&self, table: &str, body: Option<&str>) -> Result<()> {
        nft::apply(table, body)
    }

    fn enable_forwarding(&self) {
        let p = "/proc/sys/net/ipv4/ip_forward";
        if std::fs::read_to_string(p)
            .map(|s| s.trim() != "1")
            .unwrap_or(false)
        {
            if let Err(e) = std::fs::write(p, "1") {
                tracing::warn!("enable IPv4 forwarding: {e}");
            } else {
                tracing::info!(
                    "enabled IPv4 forwarding (net.ipv4.ip_forward=1) for container networks"
                );
            }
        }
    }
}
