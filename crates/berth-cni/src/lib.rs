//! A Container Network Interface client, as Kubernetes runtimes use one: the network comes
//! from the first valid config in a directory (`/etc/cni/net.d`), the plugins
//! (`/opt/cni/bin`, Debian's `/usr/lib/cni`) attach a pod's pinned network namespace, and
//! each ADD result is recorded for DEL and CHECK.
//!
//! Its own crate rather than part of berth-network: berth-network builds Docker's bridges
//! and nftables rules itself, while CNI delegates all of that to plugin programs; the two
//! share no code, and only the pod sandboxes of berth-cri use this one.

pub mod config;
pub mod error;
pub mod exec;
pub mod network;

pub use config::{load_first, NetworkConfigList};
pub use error::{CniError, Result};
pub use exec::{result_ips, Attachment, PluginRunner, Verb};
pub use network::{Cached, Cni};

#[cfg(test)]
mod tests;
