//! Snapshots: each layer unpacked once into `<root>/snapshots/<n>/fs`, keyed by chain id and
//! shared by every image using it; per-container upper/work dirs; overlay or copy mounts.
//!
//! Layout under the snapshotter root:
//! - `snapshots/<n>/fs`   layer contents (overlay: the layer alone, whiteouts in overlay
//!   format; copy: the full merged tree) or a container's upper dir
//! - `snapshots/<n>/work` overlay work dir (containers only)
//! - `l/<26 chars>`       symlink to `../snapshots/<n>/fs`: the short name used in mount options
//! - `snapshots.json`     [`SnapshotDoc`], replaced atomically; a `snapshots/<n>` directory not
//!   listed there is debris from a crash and is removed by [`Snapshotter::gc`]
//!
//! Which layers are in use is not counted here: the image store marks live chain ids and
//! sweeps the rest (see `store::gc`), so counts can never drift after a crash.

mod idmap;
mod ingest;
mod mount;
mod tree;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use idmap::{idmapped_tree, userns_fd, IdMapping};
pub use mount::{overlay_supported, unmount, Mount, OVERLAY_FIXED_OPTIONS};
pub(crate) use tree::{copy_tree, dir_size};

use crate::config::now_rfc3339;
use crate::digest::{Digest, Digester};
use crate::layer::{self, ApplyOptions, LayerError, WhiteoutMode};

/// Which snapshotter implementation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotterKind {
    /// overlayfs: layers are lowerdirs, containers get an upper dir.
    Overlay,
    /// Full copies: each layer snapshot and container root is a complete tree.
    Copy,
}

/// Errors from the snapshotter.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Filesystem failure.
    #[error("snapshot i/o on {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Unpacking the layer failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The unpacked tar does not match the config's diff id.
    #[error("layer diff id mismatch: expected {expected}, got {actual}")]
    DiffIdMismatch {
        /// From the image config.
        expected: Digest,
        /// Computed while unpacking.
        actual: Digest,
    },
    /// No such snapshot.
    #[error("snapshot {0} not found")]
    NotFound(String),
    /// A container snapshot with this id exists.
    #[error("snapshot for container {0} already exists")]
    Exists(String),
    /// Still used by a child layer or a container.
    #[error("snapshot {0} is in use")]
    InUse(String),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One snapshot's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// Directory number under `snapshots/`.
    pub id: u64,
    /// Chain id of the parent layer.
    pub parent: Option<Digest>,
    /// Short link name under `l/`.
    pub link: String,
    /// Apparent size of `fs` in bytes at creation.
    pub size: u64,
    /// Creation time.
    pub created: String,
}

/// The persisted snapshot table (`snapshots.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SnapshotDoc {
    /// Next directory number.
    pub next_id: u64,
    /// Committed layer snapshots by chain id.
    pub layers: BTreeMap<Digest, SnapshotRecord>,
    /// Container snapshots by container id; `parent` is the image's top chain id.
    pub containers: BTreeMap<String, SnapshotRecord>,
}

/// Compute OCI chain ids from diff ids: `chain[0] = diff[0]`,
/// `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => {
                let mut h = Digester::new(crate::digest::Algorithm::Sha256);
                h.update(format!("{prev} {d}").as_bytes());
                h.finish()
            }
        };
        out.push(next);
    }
    out
}

/// The snapshotter.
#[derive(Debug)]
pub struct Snapshotter {
    root: PathBuf,
    kind: SnapshotterKind,
    doc: Mutex<SnapshotDoc>,
    /// Directory numbers being filled right now (not yet in the table): gc must skip them.
    pending: Mutex<HashSet<u64>>,
}

impl Snapshotter {
    /// Open (creating) a snapshotter rooted at `root`.
    pub fn new(root: impl Into<PathBuf>, kind: SnapshotterKind) -> Result<Self, SnapshotError> {
        let root = root.into();
        for d in [root.join("snapshots"), root.join("l")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(io_at(&d))?;
        }
        let meta = root.join("snapshots.json");
        let doc = crate::atomic::read_json(&meta).map_err(io_at(&meta))?;
        Ok(Snapshotter {
            root,
            kind,
            doc: Mutex::new(doc),
            pending: Mutex::new(HashSet::new()),
        })
    }

    /// The implementation in use.
    pub fn kind(&self) -> SnapshotterKind {
        self.kind
    }

    /// The snapshotter root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SnapshotDoc> {
        self.doc.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, doc: &SnapshotDoc) -> Result<(), SnapshotError> {
        let p = self.root.join("snapshots.json");
        crate::atomic::write_json(&p, doc).map_err(io_at(&p))
    }

    /// A copy of the snapshot table.
    pub fn doc(&self) -> SnapshotDoc {
        self.lock().clone()
    }

    fn dir(&self, id: u64) -> PathBuf {
        self.root.join("snapshots").join(id.to_string())
    }

    /// The `fs` directory of a layer snapshot.
    pub fn layer_dir(&self, chain_id: &Digest) -> Option<PathBuf> {
        self.lock()
            .layers
            .get(chain_id)
            .map(|r| self.dir(r.id).join("fs"))
    }

    /// Whether a layer with this chain id is unpacked.
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.lock().layers.contains_key(chain_id)
    }

    /// Allocate a fresh snapshot directory number and short link name (persisted first, so a
    /// number is never handed out twice even across crashes).
    fn allocate(&self) -> Result<(u64, String), SnapshotError> {
        let mut doc = self.lock();
        let id = doc.next_id;
        doc.next_id += 1;
        // Not saved here (a durable write is two fsyncs on every create): the save that
        // records this snapshot carries the new `next_id`, so every number on disk stays below
        // it; a number lost in a crash before that save is reused, and its leftover directory
        // is removed just below.
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        drop(doc);
        let dir = self.dir(id);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_at(&dir))?;
        }
        // The snapshot's directory is root's alone, so no local user reaches the layer's
        // files (setuid binaries: CVE-2021-41091); overlay still works, as the kernel checks
        // lower and upper dirs with the mounter's credentials. `fs` is the root directory a
        // container sees (until a layer sets its own): 0755 whatever the umask.
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io_at(&dir))?;
        let fsdir = dir.join("fs");
        fs::create_dir(&fsdir).map_err(io_at(&fsdir))?;
        fs::set_permissions(&fsdir, fs::Permissions::from_mode(0o755)).map_err(io_at(&fsdir))?;
        let link = short_id()?;
        let lp = self.root.join("l").join(&link);
        std::os::unix::fs::symlink(format!("../snapshots/{id}/fs"), &lp).map_err(io_at(&lp))?;
        Ok((id, link))
    }

    fn done(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    fn discard(&self, id: u64, link: &str) {
        self.done(id);
        let _ = fs::remove_file(self.root.join("l").join(link));
        let _ = fs::remove_dir_all(self.dir(id));
    }

    /// Unpack a layer blob as the snapshot `chain_id` on top of `parent`, verifying that the
    /// uncompressed tar hashes to `diff_id`. Returns false (and reads nothing) if it exists.
    pub fn unpack_layer(
        &self,
        parent: Option<&Digest>,
        chain_id: &Digest,
        diff_id: &Digest,
        blob: impl Read + Send,
        media_type: Option<&str>,
    ) -> Result<bool, SnapshotError> {
        if self.has_layer(chain_id) {
            return Ok(false);
        }
        let parent_dir = match parent {
            Some(p) => Some(
                self.layer_dir(p)
                    .ok_or_else(|| SnapshotError::NotFound(p.to_string()))?,
            ),
            None => None,
        };
        let (id, link) = self.allocate()?;
        let fsdir = self.dir(id).join("fs");
        let result = (|| {
            let whiteouts = match self.kind {
                SnapshotterKind::Overlay => WhiteoutMode::Overlay,
                SnapshotterKind::Copy => {
                    if let Some(p) = &parent_dir {
                        copy_tree(p, &fsdir).map_err(io_at(&fsdir))?;
                    }
                    WhiteoutMode::Apply
                }
            };
            let opts = ApplyOptions {
                whiteouts,
                ..ApplyOptions::default()
            };
            let applied = layer::apply(blob, media_type, &fsdir, &opts)?;
            if &applied.diff_id != diff_id {
                return Err(SnapshotError::DiffIdMismatch {
                    expected: diff_id.clone(),
                    actual: applied.diff_id,
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.discard(id, &link);
            return Err(e);
        }
        let rec = SnapshotRecord {
            id,
            parent: parent.cloned(),
            link: link.clone(),
            size: dir_size(&fsdir),
            created: now_rfc3339(),
        };
        let mut doc = self.lock();
        if doc.layers.contains_key(chain_id) {
            drop(doc);
            self.discard(id, &link); // another thread unpacked it meanwhile
            return Ok(false);
        }
        doc.layers.insert(chain_id.clone(), rec);
        self.save(&doc)?;
        self.done(id);
        Ok(true)
    }

    /// Layer records from `top` down to the base.
    pub fn chain(&self, top: &Digest) -> Result<Vec<(Digest, SnapshotRecord)>, SnapshotError> {
        let doc = self.lock();
        let mut out = Vec::new();
        let mut cur = Some(top.clone());
        while let Some(c) = cur {
            let rec = doc
                .layers
                .get(&c)
                .ok_or_else(|| SnapshotError::NotFound(c.to_string()))?;
            cur = rec.parent.clone();
            out.push((c, rec.clone()));
        }
        Ok(out)
    }

    /// Create the writable snapshot for a container on top of layer `top` (None: empty root)
    /// and return how to mount it.
    pub fn prepare(
        &self,
        container_id: &str,
        top: Option<&Digest>,
    ) -> Result<Mount, SnapshotError> {
        if self.lock().containers.contains_key(container_id) {
            return Err(SnapshotError::Exists(container_id.to_owned()));
        }
        if let Some(t) = top {
            self.chain(t)?;
        }
        let (id, link) = self.allocate()?;
        let dir = self.dir(id);
        let result = (|| {
            match self.kind {
                SnapshotterKind::Overlay => {
                    let w = dir.join("work");
                    fs::create_dir(&w).map_err(io_at(&w))?;
                }
                SnapshotterKind::Copy => {
                    if let Some(t) = top.and_then(|t| self.layer_dir(t)) {
                        copy_tree(&t, &dir.join("fs")).map_err(io_at(&dir))?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.discard(id, &link);
            return Err(e);
        }
        let rec = SnapshotRecord {
            id,
            parent: top.cloned(),
            link,
            size: 0,
            created: now_rfc3339(),
        };
        let mut doc = self.lock();
        doc.containers.insert(container_id.to_owned(), rec);
        self.save(&doc)?;
        self.done(id);
        drop(doc);
        self.mounts(container_id)
    }

    /// How to mount a prepared container root.
    pub fn mounts(&self, container_id: &str) -> Result<Mount, SnapshotError> {
        let rec = self.container(container_id)?;
        let upper = format!("snapshots/{}/fs", rec.id);
        if self.kind == SnapshotterKind::Copy {
            return Ok(Mount::Bind {
                source: self.root.join(upper),
            });
        }
        let mut lowers: Vec<String> = match &rec.parent {
            Some(top) => self
                .chain(top)?
                .into_iter()
                .map(|(_, r)| format!("l/{}", r.link))
                .collect(),
            None => Vec::new(),
        };
        if lowers.is_empty() {
            let empty = self.root.join("empty");
            fs::create_dir_all(&empty).map_err(io_at(&empty))?;
            // The lowest layer of an image without layers: what a container sees of it must
            // not depend on the daemon's umask.
            fs::set_permissions(&empty, fs::Permissions::from_mode(0o755))
                .map_err(io_at(&empty))?;
            lowers.push("empty".to_owned());
        }
        Ok(Mount::Overlay {
            base: self.root.clone(),
            lowers,
            upper,
            work: format!("snapshots/{}/work", rec.id),
        })
    }

    /// A container's snapshot record.
    pub fn container(&self, container_id: &str) -> Result<SnapshotRecord, SnapshotError> {
        self.lock()
            .containers
            .get(container_id)
            .cloned()
            .ok_or_else(|| SnapshotError::NotFound(container_id.to_owned()))
    }

    /// A container's writable directory (overlay upper dir, or the full copy).
    pub fn upper_dir(&self, container_id: &str) -> Result<PathBuf, SnapshotError> {
        Ok(self.dir(self.container(container_id)?.id).join("fs"))
    }

    /// Delete a container's snapshot (it must not be mounted).
    pub fn remove_container(&self, container_id: &str) -> Result<(), SnapshotError> {
        let mut doc = self.lock();
        let rec = doc
            .containers
            .remove(container_id)
            .ok_or_else(|| SnapshotError::NotFound(container_id.to_owned()))?;
        self.save(&doc)?;
        drop(doc);
        self.discard(rec.id, &rec.link);
        Ok(())
    }

    /// Delete a layer snapshot; refused while a child layer or container sits on it.
    pub fn remove_layer(&self, chain_id: &Digest) -> Result<(), SnapshotError> {
        let mut doc = self.lock();
        let used = doc
            .layers
            .values()
            .chain(doc.containers.values())
            .any(|r| r.parent.as_ref() == Some(chain_id));
        if used {
            return Err(SnapshotError::InUse(chain_id.to_string()));
        }
        let rec = doc
            .layers
            .remove(chain_id)
            .ok_or_else(|| SnapshotError::NotFound(chain_id.to_string()))?;
        self.save(&doc)?;
        drop(doc);
        self.discard(rec.id, &rec.link);
        Ok(())
    }

    /// Remove every layer not in `keep` (and not below a kept layer or a container), plus
    /// directories and links the table does not know (crash debris). Returns bytes freed.
    pub fn gc(&self, keep: &HashSet<Digest>) -> Result<(u64, usize), SnapshotError> {
        let mut doc = self.lock();
        let mut live: HashSet<Digest> = HashSet::new();
        let roots: Vec<Digest> = keep
            .iter()
            .cloned()
            .chain(doc.containers.values().filter_map(|r| r.parent.clone()))
            .collect();
        for r in roots {
            let mut cur = Some(r);
            while let Some(c) = cur {
                cur = doc.layers.get(&c).and_then(|rec| rec.parent.clone());
                live.insert(c);
            }
        }
        let dead: Vec<Digest> = doc
            .layers
            .keys()
            .filter(|k| !live.contains(*k))
            .cloned()
            .collect();
        let mut freed = 0;
        let mut removed = Vec::new();
        for d in &dead {
            if let Some(rec) = doc.layers.remove(d) {
                freed += rec.size;
                removed.push(rec);
            }
        }
        self.save(&doc)?;
        let known: HashSet<u64> = doc
            .layers
            .values()
            .chain(doc.containers.values())
            .map(|r| r.id)
            .collect();
        let links: HashSet<String> = doc
            .layers
            .values()
            .chain(doc.containers.values())
            .map(|r| r.link.clone())
            .collect();
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        drop(doc);
        for rec in &removed {
            self.discard(rec.id, &rec.link);
        }
        let snaps = self.root.join("snapshots");
        for ent in fs::read_dir(&snaps).map_err(io_at(&snaps))?.flatten() {
            let n = ent.file_name().to_str().and_then(|s| s.parse::<u64>().ok());
            if n.is_some_and(|n| !known.contains(&n) && !pending.contains(&n)) {
                let _ = fs::remove_dir_all(ent.path());
            }
        }
        let ldir = self.root.join("l");
        for ent in fs::read_dir(&ldir).map_err(io_at(&ldir))?.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if !links.contains(&name) && !ent.path().exists() {
                let _ = fs::remove_file(ent.path());
            }
        }
        Ok((freed, removed.len()))
    }
}

/// 26 random characters from `[A-Z0-9]`, like Docker's overlay2 link names.
fn short_id() -> Result<String, SnapshotError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut buf = [0u8; 26];
    // SAFETY: writable buffer of the given length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        return Err(SnapshotError::Io {
            path: PathBuf::from("getrandom"),
            source: io::Error::last_os_error(),
        });
    }
    Ok(buf
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

#[cfg(test)]
mod behaviour;
#[cfg(test)]
mod tests;
