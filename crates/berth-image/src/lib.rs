//! Images: the content-addressed store, OCI/Docker image formats, layer unpacking and overlay snapshots.

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
