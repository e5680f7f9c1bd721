//! Streaming ingest of one blob: temp file, hash while writing, verify, fsync, rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{io_err, ContentError, ContentStore};
use crate::digest::{Algorithm, Digest, Digester};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A blob being written. Feed it with [`Write`] chunk by chunk, then [`commit`](Self::commit).
/// Dropping it without commit removes the temp file.
pub struct ContentWriter {
    file: Option<File>,
    tmp: PathBuf,
    blobs: PathBuf,
    digester: Digester,
    written: u64,
    expected: Option<Digest>,
    size: Option<u64>,
    /// Resumable writers keep their partial file when dropped.
    keep_on_drop: bool,
}

impl ContentWriter {
    pub(super) fn create(
        store: &ContentStore,
        expected: Option<Digest>,
        size: Option<u64>,
    ) -> Result<Self, ContentError> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = store
            .root()
            .join("ingest")
            .join(format!("{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        let alg = expected
            .as_ref()
            .map_or(Algorithm::Sha256, Digest::algorithm);
        Ok(ContentWriter {
            file: Some(file),
            tmp,
            blobs: store.root().join("blobs"),
            digester: Digester::new(alg),
            written: 0,
            expected,
            size,
            keep_on_drop: false,
        })
    }

    /// Open or continue the resumable ingest named `key` (e.g. the blob digest being pulled).
    /// Bytes already in `ingest/resume-<key>` are re-hashed so the digest covers them;
    /// [`written`](Self::written) tells the caller where to resume (an HTTP Range start).
    pub(super) fn resume(
        store: &ContentStore,
        key: &Digest,
        size: Option<u64>,
    ) -> Result<Self, ContentError> {
        let tmp = store.root().join("ingest").join(format!(
            "resume-{}-{}",
            key.algorithm().name(),
            key.hex()
        ));
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        let mut digester = Digester::new(key.algorithm());
        let mut written = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = io::Read::read(&mut file, &mut buf).map_err(io_err(&tmp))?;
            if n == 0 {
                break;
            }
            digester.update(&buf[..n]);
            written += n as u64;
        }
        if size.is_some_and(|s| written > s) {
            // More than announced: the partial file is garbage, start over.
            file.set_len(0).map_err(io_err(&tmp))?;
            digester = Digester::new(key.algorithm());
            written = 0;
        }
        Ok(ContentWriter {
            file: Some(file),
            tmp,
            blobs: store.root().join("blobs"),
            digester,
            written,
            expected: Some(key.clone()),
            size,
            keep_on_drop: true,
        })
    }

    /// Give up on a (resumable) ingest and delete its partial file.
    pub fn abort(mut self) {
        self.keep_on_drop = false;
    }

    /// Start writing back what was written so far, without waiting (`sync_file_range`), so
    /// the fsync in [`commit`](Self::commit) of a large streamed blob has little left to wait
    /// for. Best effort: errors surface at commit.
    pub fn start_writeback(&self) {
        if let Some(f) = &self.file {
            // SAFETY: a valid open fd; sync_file_range only schedules I/O.
            unsafe {
                libc::sync_file_range(
                    std::os::fd::AsRawFd::as_raw_fd(f),
                    0,
                    0,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
        }
    }

    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Digest of the bytes accepted so far.
    pub fn digest(&self) -> Digest {
        self.digester.current()
    }

    /// Turn an i/o error from feeding this writer into a store error naming the temp file.
    pub fn map_write_error(&self, e: io::Error) -> ContentError {
        ContentError::Io {
            path: self.tmp.clone(),
            source: e,
        }
    }

    /// Verify digest and size, fsync, and move the blob into place. Returns the digest.
    /// If the blob already exists the new copy is discarded (content is identical by digest).
    pub fn commit(mut self) -> Result<Digest, ContentError> {
        let file = self.file.take().ok_or_else(|| ContentError::Io {
            path: self.tmp.clone(),
            source: io::Error::other("writer already finished"),
        })?;
        let actual = self.digester.current();
        // Whatever happens next, a partial file that failed verification is useless.
        self.keep_on_drop = false;
        if let Some(size) = self.size {
            if size != self.written {
                return Err(ContentError::SizeMismatch {
                    digest: actual.to_string(),
                    expected: size,
                    actual: self.written,
                });
            }
        }
        if let Some(expected) = &self.expected {
            if *expected != actual {
                return Err(ContentError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        file.sync_all().map_err(io_err(&self.tmp))?;
        drop(file);
        let dir = self.blobs.join(actual.algorithm().name());
        let dest = dir.join(actual.hex());
        fs::rename(&self.tmp, &dest).map_err(io_err(&dest))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&dir))?;
        Ok(actual)
    }
}

impl Write for ContentWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(size) = self.size {
            if self.written + buf.len() as u64 > size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob larger than announced {size} bytes"),
                ));
            }
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("writer already finished"))?;
        let n = file.write(buf)?;
        self.digester.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for ContentWriter {
    fn drop(&mut self) {
        // After a successful commit the temp path no longer exists; otherwise discard it,
        // unless it is a resumable ingest that was merely interrupted.
        if !self.keep_on_drop {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
