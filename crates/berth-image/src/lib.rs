//! Images: the content-addressed store, OCI/Docker image formats, layer unpacking and overlay snapshots.

pub mod archive;
mod atomic;
pub mod changes;
pub mod config;
pub mod content;
pub mod digest;
pub mod layer;
pub mod manifest;
pub mod platform;
pub mod reference;
pub mod snapshot;
pub mod store;
mod tree_tar;

pub use digest::Digest;
pub use reference::Reference;
pub use snapshot::{Mount, SnapshotterKind};
pub use store::{ImageStore, StoreConfig, StoreError};
