//! berth-network: Docker's networking model for Berth.
//!
//! [`Networks`] owns the networks (docker's `bridge` driver), their IPAM and every container's
//! attachments, persisted in one atomically replaced file. For a container it creates a
//! network namespace pinned under the run directory, one veth pair per network over netlink
//! (`link`), its `/etc/resolv.conf`, `/etc/hosts` and `/etc/hostname` (`files`), and renders
//! the daemon's single nftables table (`nft`) from the state: masquerade, isolation and DNAT of
//! published ports (`ports`). User-defined networks get an embedded DNS server on their
//! gateway address (`dns`). Bridges and the table exist exactly while some endpoint needs
//! them; [`Networks::open`] reconciles the kernel with the state after a crash (`reconcile`).
//! Every change to the host goes through [`KernelOps`] (`kernel`), so the planning and the
//! reconciliation are unit-tested against a fake kernel.

#![warn(missing_docs)]

pub mod dns;
pub mod error;
pub mod files;
pub mod inspect;
pub mod kernel;
pub mod link;
mod manager;
pub mod names;
pub mod netns;
pub mod nft;
pub mod ports;
mod reconcile;
mod setup;
pub mod store;
pub mod subnet;

pub use error::{NetError, Result};
pub use files::{DnsConfig, EtcFiles};
pub use kernel::{KernelOps, LinkInfo, RealKernel};
pub use manager::{CreateNetwork, DefaultBridge, NetConfig, Networks};
pub use ports::{PortMapping, PortRequest};
pub use store::{AttachRequest, ContainerNet, Endpoint, NetworkRecord};
pub use subnet::Subnet;
