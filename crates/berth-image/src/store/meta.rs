//! The image metadata document, `<root>/images.json`.
//!
//! Schema (one JSON object, replaced atomically on every change — write temp, fsync, rename,
//! fsync dir — so a crash leaves the previous or the next state):
//! ```text
//! {
//!   "images": { "<config digest>": {            // image id = config digest
//!       "id", "manifest_digest", "manifest_media_type",
//!       "repo_digests": ["docker.io/library/x@sha256:..."],
//!       "created", "size", "top_layer": "<chain id>|null", "parent": "<image id>|null",
//!       "loaded_at" } },
//!   "tags": { "docker.io/library/x:latest": "<image id>" },
//!   "containers": { "<container id>": "<image id>" }   // roots prepared from an image
//! }
//! ```
//! Blob and snapshot reference counts are derived from this document at GC time (mark and
//! sweep over manifests and chain ids) instead of stored counters that a crash could skew.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// One image known to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Image id: the digest of the config blob.
    pub id: Digest,
    /// Digest of the manifest blob (what registries and OCI layouts address).
    pub manifest_digest: Digest,
    /// Media type of the manifest.
    pub manifest_media_type: String,
    /// `name@digest` references this image is known by.
    pub repo_digests: Vec<String>,
    /// Creation time from the config.
    pub created: Option<String>,
    /// Unpacked size of all layers.
    pub size: u64,
    /// Chain id of the top layer (None for an image with no layers).
    pub top_layer: Option<Digest>,
    /// Image this one was committed from.
    pub parent: Option<Digest>,
    /// When it entered this store.
    pub loaded_at: String,
}

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaDoc {
    /// Images by id.
    pub images: BTreeMap<Digest, ImageRecord>,
    /// Full tag reference → image id.
    pub tags: BTreeMap<String, Digest>,
    /// Container id → image id its root was prepared from.
    pub containers: BTreeMap<String, Digest>,
}

impl MetaDoc {
    /// Tags pointing at `id`, sorted.
    pub fn tags_of(&self, id: &Digest) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Containers using `id`.
    pub fn containers_of(&self, id: &Digest) -> Vec<String> {
        self.containers
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }
}
