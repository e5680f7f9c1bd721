//! The build cache: step key → resulting image state (config blob + layer blobs).
//!
//! A key is the digest of the parent state's id, the instruction with its expanded arguments,
//! the environment it sees and, for COPY/ADD, the content hash of its sources (never times).
//! The value points at blobs in the image store; an entry whose blobs were garbage-collected
//! is a miss. The index is one JSON file, merged under a lock when saved, so concurrent builds
//! do not lose each other's entries.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use berth_image::digest::{Algorithm, Digester};
use berth_image::manifest::Descriptor;
use berth_image::Digest;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::BuildError;

/// What a step produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The config blob (the state's id).
    pub config: Digest,
    /// Layer blobs, base first.
    pub layers: Vec<Descriptor>,
}

/// The cache index of one data root.
#[derive(Debug, Default)]
pub struct Cache {
    path: Option<PathBuf>,
    entries: BTreeMap<String, CacheRecord>,
    added: BTreeMap<String, CacheRecord>,
}

/// Computes a step's cache key from its parts.
pub fn key(parts: &[&str]) -> String {
    let mut d = Digester::new(Algorithm::Sha256);
    for p in parts {
        d.update(&(p.len() as u64).to_le_bytes());
        d.update(p.as_bytes());
    }
    d.finish().hex().to_owned()
}

fn read_index(path: &Path) -> BTreeMap<String, CacheRecord> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!("ignoring unreadable build cache {}: {e}", path.display());
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

impl Cache {
    /// Opens the cache kept in `dir/cache.json` (created on first save).
    pub fn open(dir: &Path) -> Cache {
        let path = dir.join("cache.json");
        Cache {
            entries: read_index(&path),
            path: Some(path),
            added: BTreeMap::new(),
        }
    }

    /// Empties the cache kept in `dir` (`builder prune`); returns the keys it held. Builds
    /// running meanwhile add their entries after it, under the same lock.
    pub fn clear(dir: &Path) -> Result<Vec<String>, BuildError> {
        let path = dir.join("cache.json");
        if !path.exists() {
            return Ok(Vec::new());
        }
        let lock =
            File::create(dir.join("cache.lock")).map_err(BuildError::io("lock the build cache"))?;
        // SAFETY: valid fd; flock has no memory effects. Released when `lock` is dropped.
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        let keys = read_index(&path).into_keys().collect();
        std::fs::remove_file(&path).map_err(BuildError::io("remove the build cache"))?;
        drop(lock);
        Ok(keys)
    }

    /// An in-memory cache (tests).
    pub fn memory() -> Cache {
        Cache::default()
    }

    /// The record for `key` if all its blobs are still stored.
    pub fn get(&self, key: &str, backend: &dyn Backend) -> Option<CacheRecord> {
        let rec = self.added.get(key).or_else(|| self.entries.get(key))?;
        let complete =
            backend.has_blob(&rec.config) && rec.layers.iter().all(|l| backend.has_blob(&l.digest));
        complete.then(|| rec.clone())
    }

    /// Records a step's result.
    pub fn put(&mut self, key: String, rec: CacheRecord) {
        self.added.insert(key, rec);
    }

    /// Writes new entries to disk (merged with what other builds saved meanwhile).
    pub fn save(&mut self) -> Result<(), BuildError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.added.is_empty() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(BuildError::io("create the build cache dir"))?;
        let lock_path = dir.join("cache.lock");
        let lock = File::create(&lock_path).map_err(BuildError::io("lock the build cache"))?;
        // SAFETY: valid fd; flock has no memory effects. Released when `lock` is dropped.
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        let mut all = read_index(path);
        all.append(&mut self.added);
        let tmp = dir.join("cache.json.tmp");
        let data = serde_json::to_vec(&all)
            .map_err(|e| BuildError::Context(format!("encoding the build cache: {e}")))?;
        std::fs::write(&tmp, data).map_err(BuildError::io("write the build cache"))?;
        std::fs::rename(&tmp, path).map_err(BuildError::io("write the build cache"))?;
        self.entries = all;
        drop(lock);
        Ok(())
    }
}
