//! Images: the content-addressed store, OCI/Docker image formats, layer unpacking and overlay snapshots.

pub mod content;
pub mod digest;
pub mod reference;
