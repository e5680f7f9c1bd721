//! Images: the content-addressed store, OCI/Docker image formats, layer unpacking and overlay
//! snapshots.
//!
//! The daemon drives everything through [`ImageStore`]:
//! - arrive: [`ImageStore::load`], [`ImageStore::load_oci_layout`], [`ImageStore::import`],
//!   [`ImageStore::commit`], and for pulls: stream blobs into [`ImageStore::content`]
//!   (`writer(Some(digest), Some(size))`, verified on `commit`) then
//!   [`ImageStore::create_image`] with the manifest digest;
//! - query: [`ImageStore::images`], [`ImageStore::resolve`], [`ImageStore::manifest_and_config`],
//!   [`ImageStore::history`];
//! - names: [`ImageStore::tag`], [`ImageStore::rmi`];
//! - containers: [`ImageStore::prepare_container`] → [`Mount`] (`mount(target)` /
//!   [`snapshot::unmount`]), [`ImageStore::diff`], [`ImageStore::export_container`],
//!   [`ImageStore::remove_container`];
//! - out: [`ImageStore::save`];
//! - space: [`ImageStore::prune`], [`ImageStore::disk_usage`].
//!
//! Lower layers are usable on their own: [`reference`], [`digest`], [`content`],
//! [`manifest`], [`config`], [`layer`] (safe unpacking), [`snapshot`].

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
pub mod rootless;
pub mod snapshot;
pub mod store;
mod tree_tar;

pub use digest::Digest;
pub use reference::Reference;
pub use snapshot::{Mount, SnapshotterKind};
pub use store::{ImageStore, StoreConfig, StoreError};

#[cfg(test)]
mod api_tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn store_can_be_shared_across_threads() {
        assert_send_sync::<super::ImageStore>();
    }
}
