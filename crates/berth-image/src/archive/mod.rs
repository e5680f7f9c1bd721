//! Image archives: `save` (docker-save format plus OCI layout entries in one tar, as docker
//! 25+ writes), `load` (docker-save archives, OCI archives and OCI layout directories), and
//! `export` of a container root as a plain tar.
//!
//! Blobs are written and read as stored, so manifests and configs keep their bytes and
//! digests across a save → load round trip.

mod export;
mod load;
mod save;

pub use export::export_dir;
pub use load::Loaded;

/// `oci-layout` file content.
pub(crate) const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
/// Annotation containerd and docker use for the full image name in `index.json`.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI annotation for the reference name (usually the tag) in `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

#[cfg(test)]
mod tests;
