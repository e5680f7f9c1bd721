//! Garbage collection (`image prune`, `system prune`) and usage accounting (`system df`).
//!
//! Mark and sweep: live blobs are the manifests, configs and layers of recorded images; live
//! snapshots are the chains of recorded images and prepared containers. Everything else goes.

use std::collections::{HashMap, HashSet};

use super::{ImageStore, StoreError};
use crate::digest::Digest;
use crate::manifest::{self, Parsed};

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Images deleted.
    pub images_deleted: Vec<Digest>,
    /// Tags removed with them.
    pub untagged: Vec<String>,
    /// Blobs deleted from the content store.
    pub blobs_deleted: usize,
    /// Layer snapshots deleted.
    pub snapshots_deleted: usize,
    /// Bytes freed (blobs plus unpacked layers).
    pub space_reclaimed: u64,
}

/// One image in `system df`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    /// Image id.
    pub id: Digest,
    /// Tags.
    pub repo_tags: Vec<String>,
    /// Unpacked size of all its layers.
    pub size: u64,
    /// Part of `size` in layers other images use too.
    pub shared_size: u64,
    /// Containers using it.
    pub containers: usize,
}

/// `system df` for images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Per image.
    pub images: Vec<ImageUsage>,
    /// All unpacked layer snapshots (each counted once).
    pub layers_size: u64,
    /// All blobs in the content store.
    pub blobs_size: u64,
    /// Container writable layers: (container id, bytes).
    pub containers: Vec<(String, u64)>,
    /// Bytes `prune(true)` would free from layers of images no container uses.
    pub reclaimable: u64,
}

impl ImageStore {
    /// Delete blobs and snapshots no image or container references. Returns
    /// (blobs deleted, snapshots deleted, bytes freed).
    pub fn collect_garbage(&self) -> Result<(usize, usize, u64), StoreError> {
        let doc = self.lock();
        if self.gc_held() {
            tracing::debug!("image ingest in progress: skipping garbage collection");
            return Ok((0, 0, 0));
        }
        let mut live_blobs = HashSet::new();
        let mut tops = HashSet::new();
        for rec in doc.images.values() {
            live_blobs.insert(rec.manifest_digest.clone());
            live_blobs.insert(rec.id.clone());
            if let Some(t) = &rec.top_layer {
                tops.insert(t.clone());
            }
            if let Ok(raw) = self.content.read(&rec.manifest_digest) {
                if let Ok(Parsed::Manifest(m)) =
                    manifest::parse(&raw, Some(&rec.manifest_media_type))
                {
                    live_blobs.extend(m.layers.into_iter().map(|l| l.digest));
                }
            }
        }
        // Hold the metadata lock while sweeping so a concurrent create_image cannot have its
        // freshly written blobs collected between mark and sweep.
        let mut blobs = 0;
        let mut freed = 0;
        for b in self.content.walk()? {
            if !live_blobs.contains(&b.digest) && self.content.delete(&b.digest)? {
                blobs += 1;
                freed += b.size;
            }
        }
        let (snap_freed, snaps) = self.snapshots.gc(&tops)?;
        drop(doc);
        Ok((blobs, snaps, freed + snap_freed))
    }

    /// `image prune`: delete dangling images (untagged), or with `all` every image no
    /// container uses; then collect garbage.
    pub fn prune(&self, all: bool) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        {
            let mut doc = self.lock();
            let victims: Vec<Digest> = doc
                .images
                .keys()
                .filter(|id| {
                    doc.containers_of(id).is_empty() && (all || doc.tags_of(id).is_empty())
                })
                .cloned()
                .collect();
            for id in victims {
                for t in doc.tags_of(&id) {
                    doc.tags.remove(&t);
                    report.untagged.push(t);
                }
                doc.images.remove(&id);
                report.images_deleted.push(id);
            }
            self.save_meta(&doc)?;
        }
        let (b, s, freed) = self.collect_garbage()?;
        report.blobs_deleted = b;
        report.snapshots_deleted = s;
        report.space_reclaimed = freed;
        Ok(report)
    }

    /// Space used by images, layers, blobs and container roots.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let doc = self.lock();
        let snaps = self.snapshots.doc();
        let mut users: HashMap<Digest, usize> = HashMap::new();
        let mut chains: Vec<(Digest, Vec<Digest>)> = Vec::new();
        for rec in doc.images.values() {
            let chain = match &rec.top_layer {
                Some(t) => self
                    .snapshots
                    .chain(t)?
                    .into_iter()
                    .map(|(c, _)| c)
                    .collect(),
                None => Vec::new(),
            };
            for c in &chain {
                *users.entry(c.clone()).or_default() += 1;
            }
            chains.push((rec.id.clone(), chain));
        }
        let size_of = |c: &Digest| snaps.layers.get(c).map_or(0, |r| r.size);
        let mut du = DiskUsage::default();
        let mut in_use: HashSet<Digest> = HashSet::new();
        for (id, chain) in &chains {
            let containers = doc.containers_of(id).len();
            if containers > 0 {
                in_use.extend(chain.iter().cloned());
            }
            du.images.push(ImageUsage {
                id: id.clone(),
                repo_tags: doc.tags_of(id),
                size: chain.iter().map(size_of).sum(),
                shared_size: chain
                    .iter()
                    .filter(|c| users.get(*c).copied().unwrap_or(0) > 1)
                    .map(size_of)
                    .sum(),
                containers,
            });
        }
        du.layers_size = snaps.layers.values().map(|r| r.size).sum();
        du.reclaimable = snaps
            .layers
            .iter()
            .filter(|(c, _)| !in_use.contains(*c))
            .map(|(_, r)| r.size)
            .sum();
        du.blobs_size = self.content.walk()?.iter().map(|b| b.size).sum();
        for (cid, rec) in &snaps.containers {
            let upper = self
                .snapshots
                .root()
                .join("snapshots")
                .join(rec.id.to_string())
                .join("fs");
            du.containers
                .push((cid.clone(), crate::snapshot::dir_size(&upper)));
        }
        Ok(du)
    }
}
