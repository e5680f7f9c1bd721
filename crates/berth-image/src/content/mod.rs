//! The content store: immutable blobs named by digest under `<root>/blobs/<alg>/<hex>`.
//!
//! Blobs are ingested through a [`ContentWriter`] that streams into `<root>/ingest/`, hashes
//! while writing, fsyncs, and renames into place only when the digest (and size, when known)
//! verifies. A crash leaves at most a stale ingest file, never a blob with the wrong content.

mod writer;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use writer::ContentWriter;

use crate::digest::{Algorithm, Digest};

/// Errors from the content store.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// Filesystem failure at a path.
    #[error("content store i/o on {path}: {source}")]
    Io {
        /// Where it failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The written bytes hash to something other than what was promised.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the caller announced.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// The written byte count differs from the announced size.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob being written.
        digest: String,
        /// Announced size.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// The blob is not in the store.
    #[error("blob {0} not found")]
    NotFound(Digest),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ContentError + '_ {
    move |source| ContentError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A blob found by [`ContentStore::walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// Handle on a content store directory.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Open (creating if needed) the store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, ContentError> {
        let root = root.into();
        for sub in ["blobs/sha256", "blobs/sha512", "ingest"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(ContentStore { root })
    }

    /// The directory holding this store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// Whether the blob is present.
    pub fn exists(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Size of a present blob.
    pub fn size(&self, digest: &Digest) -> Result<u64, ContentError> {
        let p = self.blob_path(digest);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(ContentError::NotFound(digest.clone()))
            }
            Err(e) => Err(ContentError::Io { path: p, source: e }),
        }
    }

    /// Open a blob for reading.
    pub fn open(&self, digest: &Digest) -> Result<File, ContentError> {
        let p = self.blob_path(digest);
        match File::open(&p) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(ContentError::NotFound(digest.clone()))
            }
            Err(e) => Err(ContentError::Io { path: p, source: e }),
        }
    }

    /// Read a whole (small) blob such as a manifest or config.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        let mut f = self.open(digest)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(io_err(&self.blob_path(digest)))?;
        Ok(buf)
    }

    /// Start ingesting a blob. `expected` (digest) and `size` are verified at commit when given;
    /// without a digest the blob is hashed with sha256.
    pub fn writer(
        &self,
        expected: Option<Digest>,
        size: Option<u64>,
    ) -> Result<ContentWriter, ContentError> {
        ContentWriter::create(self, expected, size)
    }

    /// Start or resume ingesting the blob `digest`: partial data from an earlier interrupted
    /// attempt is kept (dropping the writer keeps it too); continue writing at
    /// [`ContentWriter::written`]. Verified like [`writer`](Self::writer) on commit.
    pub fn resumable_writer(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<ContentWriter, ContentError> {
        ContentWriter::resume(self, digest, size)
    }

    /// Store a small in-memory blob (idempotent) and return its sha256 digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest, ContentError> {
        let digest = Digest::sha256_of(data);
        if self.exists(&digest) {
            return Ok(digest);
        }
        let mut w = self.writer(Some(digest), Some(data.len() as u64))?;
        io::Write::write_all(&mut w, data).map_err(io_err(&self.root))?;
        w.commit()
    }

    /// Store a blob from a reader, verifying it against `expected` when given.
    pub fn put_reader(
        &self,
        r: &mut impl Read,
        expected: Option<Digest>,
        size: Option<u64>,
    ) -> Result<Digest, ContentError> {
        let mut w = self.writer(expected, size)?;
        io::copy(r, &mut w).map_err(|e| w.map_write_error(e))?;
        w.commit()
    }

    /// Delete a blob; returns whether it existed.
    pub fn delete(&self, digest: &Digest) -> Result<bool, ContentError> {
        let p = self.blob_path(digest);
        match fs::remove_file(&p) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ContentError::Io { path: p, source: e }),
        }
    }

    /// List every blob in the store (files whose names are not valid digests are skipped).
    pub fn walk(&self) -> Result<Vec<BlobInfo>, ContentError> {
        let mut out = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.root.join("blobs").join(alg.name());
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ContentError::Io {
                        path: dir,
                        source: e,
                    })
                }
            };
            for ent in rd {
                let ent = ent.map_err(io_err(&dir))?;
                let Some(name) = ent.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let Ok(digest) = Digest::new(alg, &name) else {
                    continue;
                };
                let size = ent.metadata().map_err(io_err(&ent.path()))?.len();
                out.push(BlobInfo { digest, size });
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    /// Remove leftover ingest files (from crashed or abandoned writes). Resumable ingests
    /// (`resume-*`) are kept for a day so an interrupted pull can continue after a restart.
    pub fn clean_ingest(&self) -> Result<u64, ContentError> {
        const RESUME_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
        let dir = self.root.join("ingest");
        let mut n = 0;
        for ent in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let ent = ent.map_err(io_err(&dir))?;
            let resumable = ent.file_name().to_string_lossy().starts_with("resume-");
            let fresh = ent
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < RESUME_TTL);
            if resumable && fresh {
                continue;
            }
            fs::remove_file(ent.path()).map_err(io_err(&ent.path()))?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn put_open_walk_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(tmp.path()).unwrap();
        let d = cs.put(b"hello").unwrap();
        assert!(cs.exists(&d));
        assert_eq!(cs.read(&d).unwrap(), b"hello");
        assert_eq!(cs.size(&d).unwrap(), 5);
        assert_eq!(cs.put(b"hello").unwrap(), d);
        assert_eq!(
            cs.walk().unwrap(),
            vec![BlobInfo {
                digest: d.clone(),
                size: 5
            }]
        );
        assert!(cs.delete(&d).unwrap());
        assert!(!cs.delete(&d).unwrap());
        assert!(matches!(cs.open(&d), Err(ContentError::NotFound(_))));
    }

    #[test]
    fn chunked_writer_verifies_digest() {
        let tmp = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(tmp.path()).unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let want = Digest::sha256_of(&data);
        let mut w = cs
            .writer(Some(want.clone()), Some(data.len() as u64))
            .unwrap();
        for chunk in data.chunks(4096) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.written(), data.len() as u64);
        assert_eq!(w.commit().unwrap(), want);
        assert_eq!(cs.read(&want).unwrap(), data);
        assert_eq!(fs::read_dir(tmp.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn wrong_digest_is_not_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(tmp.path()).unwrap();
        let claimed = Digest::sha256_of(b"something else");
        let mut w = cs.writer(Some(claimed.clone()), None).unwrap();
        w.write_all(b"evil").unwrap();
        assert!(matches!(
            w.commit(),
            Err(ContentError::DigestMismatch { .. })
        ));
        assert!(!cs.exists(&claimed));
        assert_eq!(fs::read_dir(tmp.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn size_is_enforced_while_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(tmp.path()).unwrap();
        let mut w = cs.writer(None, Some(3)).unwrap();
        assert!(w.write_all(b"toolong").is_err());
        let mut w = cs.writer(None, Some(10)).unwrap();
        w.write_all(b"short").unwrap();
        assert!(matches!(w.commit(), Err(ContentError::SizeMismatch { .. })));
        assert_eq!(cs.walk().unwrap().len(), 0);
    }

    #[test]
    fn sha512_blobs_land_in_their_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(tmp.path()).unwrap();
        let mut dg = crate::digest::Digester::new(Algorithm::Sha512);
        dg.update(b"x");
        let want = dg.finish();
        let got = cs
            .put_reader(&mut &b"x"[..], Some(want.clone()), None)
            .unwrap();
        assert_eq!(got, want);
        assert!(tmp.path().join("blobs/sha512").join(want.hex()).is_file());
    }

    #[test]
    fn resumable_ingest_continues_where_it_stopped() {
        let tmp = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(tmp.path()).unwrap();
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        let want = Digest::sha256_of(&data);
        {
            let mut w = cs.resumable_writer(&want, Some(data.len() as u64)).unwrap();
            w.write_all(&data[..20_000]).unwrap();
        } // connection dropped
        let mut w = cs.resumable_writer(&want, Some(data.len() as u64)).unwrap();
        assert_eq!(w.written(), 20_000);
        w.write_all(&data[20_000..]).unwrap();
        assert_eq!(w.commit().unwrap(), want);
        assert_eq!(cs.read(&want).unwrap(), data);
        // a resumed ingest whose bytes turn out wrong is discarded entirely
        let other = Digest::sha256_of(b"other");
        let mut w = cs.resumable_writer(&other, None).unwrap();
        w.write_all(b"wrong").unwrap();
        assert!(w.commit().is_err());
        let w = cs.resumable_writer(&other, None).unwrap();
        assert_eq!(w.written(), 0);
        w.abort();
        assert_eq!(fs::read_dir(tmp.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn abandoned_writer_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let cs = ContentStore::new(tmp.path()).unwrap();
        {
            let mut w = cs.writer(None, None).unwrap();
            w.write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(tmp.path().join("ingest")).unwrap().count(), 0);
        assert_eq!(cs.clean_ingest().unwrap(), 0);
    }
}
