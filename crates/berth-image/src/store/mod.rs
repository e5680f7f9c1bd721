//! [`ImageStore`]: the library face of the image layer that the daemon drives.
//!
//! It ties together the content store (`<root>/content`), the snapshotter
//! (`<root>/<overlay|copy>`) and the metadata document (`<root>/images.json`, see [`meta`]).
//! Every way an image arrives (pull, load, import, commit) ends in [`ImageStore::create_image`]:
//! blobs already verified in the content store → layers unpacked into shared snapshots →
//! one atomic metadata update.

mod build;
mod commit;
mod diff;
mod gc;
pub mod meta;
mod query;
#[cfg(test)]
pub(crate) mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub use commit::CommitOptions;

pub use diff::{Change, ChangeKind};
pub use gc::{DiskUsage, ImageUsage, PruneReport};
pub use meta::{ImageRecord, MetaDoc};
pub use query::{HistoryEntry, ImageInfo, RmiEvent};

use crate::changes::ChangeError;
use crate::config::{now_rfc3339, ConfigError, ImageConfig};
use crate::content::{ContentError, ContentStore};
use crate::digest::Digest;
use crate::layer::LayerError;
use crate::manifest::{self, ManifestError, Parsed};
use crate::platform::Platform;
use crate::reference::{Reference, ReferenceError};
use crate::snapshot::{chain_ids, Mount, SnapshotError, Snapshotter, SnapshotterKind};

/// Errors from the image store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Content store failure.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// Snapshot failure.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Bad manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Bad config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Bad `--change` instruction.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// Layer unpack/creation failure.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// Filesystem failure.
    #[error("image store i/o on {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// No such image / container.
    #[error("no such image: {0}")]
    NotFound(String),
    /// No such container root.
    #[error("no such container root: {0}")]
    NoContainer(String),
    /// The operation conflicts with current state (e.g. rmi of an image in use).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The image data is inconsistent.
    #[error("invalid image: {0}")]
    Invalid(String),
    /// An archive could not be read or written.
    #[error("archive: {0}")]
    Archive(String),
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Guard returned by [`ImageStore::hold_gc`].
#[derive(Debug)]
pub struct GcHold<'a> {
    store: &'a ImageStore,
}

impl Drop for GcHold<'_> {
    fn drop(&mut self) {
        self.store
            .holds
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Settings for [`ImageStore::open`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Data root, e.g. `/var/lib/berth/image`.
    pub root: PathBuf,
    /// Overlay, or copy where overlay is unavailable.
    pub snapshotter: SnapshotterKind,
    /// Platform picked from multi-platform indexes.
    pub platform: Platform,
}

impl StoreConfig {
    /// Defaults: overlay if the kernel has it (else copy), host platform.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let snapshotter = if crate::snapshot::overlay_supported() {
            SnapshotterKind::Overlay
        } else {
            SnapshotterKind::Copy
        };
        StoreConfig {
            root: root.into(),
            snapshotter,
            platform: Platform::host(),
        }
    }
}

/// The image store.
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    content: ContentStore,
    snapshots: Snapshotter,
    platform: Platform,
    meta: Mutex<MetaDoc>,
    /// Number of live [`GcHold`]s; garbage collection skips sweeping while non-zero.
    holds: std::sync::atomic::AtomicUsize,
    /// `flock`ed `<root>/lock`: one store instance per data root (the metadata document is
    /// only safe with a single writer process).
    _lock: std::fs::File,
}

impl ImageStore {
    /// Open (creating) a store.
    pub fn open(cfg: StoreConfig) -> Result<Self, StoreError> {
        // Blobs and unpacked layers (setuid binaries, image secrets): root's alone.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&cfg.root)
            .map_err(io_at(&cfg.root))?;
        let lock_path = cfg.root.join("lock");
        let lock = std::fs::File::create(&lock_path).map_err(io_at(&lock_path))?;
        // SAFETY: valid fd; flock has no memory effects.
        if unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        } != 0
        {
            return Err(StoreError::Conflict(format!(
                "image store {} is in use by another process",
                cfg.root.display()
            )));
        }
        let content = ContentStore::new(cfg.root.join("content"))?;
        // We hold the root's lock, so any ingest file left now is from a crashed process.
        let stale = content.clean_ingest()?;
        if stale > 0 {
            tracing::info!(stale, "removed interrupted blob ingests");
        }
        let snap_dir = cfg.root.join(match cfg.snapshotter {
            SnapshotterKind::Overlay => "overlay",
            SnapshotterKind::Copy => "copy",
        });
        let snapshots = Snapshotter::new(snap_dir, cfg.snapshotter)?;
        let meta_path = cfg.root.join("images.json");
        let meta = crate::atomic::read_json(&meta_path).map_err(io_at(&meta_path))?;
        let tmp = cfg.root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        Ok(ImageStore {
            root: cfg.root,
            content,
            snapshots,
            platform: cfg.platform,
            meta: Mutex::new(meta),
            holds: std::sync::atomic::AtomicUsize::new(0),
            _lock: lock,
        })
    }

    /// Keep garbage collection from deleting blobs and snapshots that are written but not yet
    /// referenced by an image (a pull in progress). Hold it from the first blob write until
    /// [`create_image`](Self::create_image) returns; load/import/commit hold one themselves.
    pub fn hold_gc(&self) -> GcHold<'_> {
        self.holds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        GcHold { store: self }
    }

    pub(crate) fn gc_held(&self) -> bool {
        self.holds.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// The content store (for the registry client to stream blobs into).
    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    /// The snapshotter.
    pub fn snapshots(&self) -> &Snapshotter {
        &self.snapshots
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The platform used to pick from indexes.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, MetaDoc> {
        self.meta.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn save_meta(&self, doc: &MetaDoc) -> Result<(), StoreError> {
        let p = self.root.join("images.json");
        crate::atomic::write_json(&p, doc).map_err(io_at(&p))
    }

    /// Read and parse an image's manifest (as stored) and config.
    pub fn manifest_and_config(
        &self,
        id: &Digest,
    ) -> Result<(manifest::Manifest, ImageConfig), StoreError> {
        let rec = self
            .lock()
            .images
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let raw = self.content.read(&rec.manifest_digest)?;
        let Parsed::Manifest(m) = manifest::parse(&raw, Some(&rec.manifest_media_type))? else {
            return Err(StoreError::Invalid(format!(
                "{} is not an image manifest",
                rec.manifest_digest
            )));
        };
        let cfg = ImageConfig::from_slice(&self.content.read(&m.config.digest)?)?;
        Ok((m, cfg))
    }

    /// Turn a manifest (or index, resolved with the store's platform) whose blobs are all in
    /// the content store into a local image: unpack missing layers into shared snapshots
    /// (checking each diff id), then record the image and point `tags` at it.
    /// `repo_digests` are `name@digest` references to record.
    pub fn create_image(
        &self,
        manifest_digest: &Digest,
        media_type_hint: Option<&str>,
        tags: &[Reference],
        repo_digests: &[Reference],
    ) -> Result<ImageInfo, StoreError> {
        self.create_image_for(
            manifest_digest,
            media_type_hint,
            tags,
            repo_digests,
            &self.platform.clone(),
        )
    }

    /// [`create_image`](Self::create_image) picking `platform` from an index (`--platform`).
    pub fn create_image_for(
        &self,
        manifest_digest: &Digest,
        media_type_hint: Option<&str>,
        tags: &[Reference],
        repo_digests: &[Reference],
        platform: &Platform,
    ) -> Result<ImageInfo, StoreError> {
        let raw = self.content.read(manifest_digest)?;
        let media_type = manifest::detect_media_type(&raw, media_type_hint)?;
        let m = match manifest::parse(&raw, Some(&media_type))? {
            Parsed::Manifest(m) => m,
            Parsed::Index(idx) => {
                let d = idx.select(platform)?.clone();
                return self.create_image_for(
                    &d.digest,
                    Some(&d.media_type),
                    tags,
                    repo_digests,
                    platform,
                );
            }
        };
        let config_raw = self.content.read(&m.config.digest)?;
        let cfg = ImageConfig::from_slice(&config_raw)?;
        let diff_ids = &cfg.rootfs.diff_ids;
        if diff_ids.len() != m.layers.len() {
            return Err(StoreError::Invalid(format!(
                "manifest has {} layers but config lists {} diff ids",
                m.layers.len(),
                diff_ids.len()
            )));
        }
        let chain = chain_ids(diff_ids);
        for (i, layer) in m.layers.iter().enumerate() {
            if self.snapshots.has_layer(&chain[i]) {
                continue;
            }
            let blob = self.content.open(&layer.digest)?;
            let parent = i.checked_sub(1).map(|p| &chain[p]);
            self.snapshots.unpack_layer(
                parent,
                &chain[i],
                &diff_ids[i],
                blob,
                Some(&layer.media_type),
            )?;
        }
        let size = match chain.last() {
            Some(top) => self.snapshots.chain(top)?.iter().map(|(_, r)| r.size).sum(),
            None => 0,
        };
        let id = m.config.digest.clone();
        let mut doc = self.lock();
        let rec = doc.images.entry(id.clone()).or_insert_with(|| ImageRecord {
            id: id.clone(),
            manifest_digest: manifest_digest.clone(),
            manifest_media_type: media_type.clone(),
            repo_digests: Vec::new(),
            created: cfg.created.clone(),
            size,
            top_layer: chain.last().cloned(),
            parent: None,
            loaded_at: now_rfc3339(),
        });
        for r in repo_digests {
            let s = r.to_string();
            if !rec.repo_digests.contains(&s) {
                rec.repo_digests.push(s);
            }
        }
        for t in tags {
            doc.tags.insert(
                t.with_tag(t.tag().unwrap_or(crate::reference::DEFAULT_TAG))?
                    .to_string(),
                id.clone(),
            );
        }
        self.save_meta(&doc)?;
        let info = query::info_of(&doc, &id)?;
        Ok(info)
    }

    pub(crate) fn set_parent(&self, id: &Digest, parent: Option<Digest>) -> Result<(), StoreError> {
        let mut doc = self.lock();
        if let Some(r) = doc.images.get_mut(id) {
            r.parent = parent;
        }
        self.save_meta(&doc)
    }

    /// Create the writable root for a container from `image` (name or id) and return how to
    /// mount it. The image cannot be removed without force while the root exists.
    pub fn prepare_container(&self, container_id: &str, image: &str) -> Result<Mount, StoreError> {
        let info = self.resolve(image)?;
        let mount = self
            .snapshots
            .prepare(container_id, info.record.top_layer.as_ref())?;
        let mut doc = self.lock();
        doc.containers
            .insert(container_id.to_owned(), info.record.id);
        self.save_meta(&doc)?;
        Ok(mount)
    }

    /// The mount for an existing container root.
    pub fn container_mount(&self, container_id: &str) -> Result<Mount, StoreError> {
        Ok(self.snapshots.mounts(container_id)?)
    }

    /// Delete a container root (it must be unmounted).
    pub fn remove_container(&self, container_id: &str) -> Result<(), StoreError> {
        self.snapshots.remove_container(container_id)?;
        let mut doc = self.lock();
        doc.containers.remove(container_id);
        self.save_meta(&doc)
    }
}
