//! Layer application: unpack a (compressed) layer tar into a snapshot directory, safely.
//!
//! Extraction is berth-fs' one tar extractor ([`berth_fs::extract`]) with a layer's rules
//! (`apply.rs`): every change is made through directory fds of the target held as a root, so
//! hostile names, symlinks and hardlinks cannot reach outside it. Whiteouts are either converted to overlayfs' format (each
//! snapshot is a lowerdir) or applied as deletions (copy snapshotter, where each snapshot is a
//! full tree).

mod apply;
mod compress;
pub(crate) mod fsops;
mod pipe;
#[cfg(test)]
pub(crate) mod tests;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use compress::{Compression, Decoder};

use crate::digest::Digest;

pub use berth_fs::extract::{WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
/// The overlayfs xattr marking a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What to do with OCI whiteout entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Store them in overlayfs format: `.wh.NAME` → char device 0:0 named NAME,
    /// `.wh..wh..opq` → `trusted.overlay.opaque=y` on the directory.
    Overlay,
    /// Delete the named entries from the tree being unpacked onto (copy snapshotter).
    Apply,
}

/// Knobs for [`apply`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Whiteout handling.
    pub whiteouts: WhiteoutMode,
    /// Restore uid/gid from the tar (needs root; default: whether we are root).
    pub same_owner: bool,
    /// Allow character/block device nodes other than the 0:0 whiteout device.
    pub allow_devices: bool,
    /// Restore extended attributes (`SCHILY.xattr.*`, except `trusted.overlay.*`).
    pub xattrs: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        ApplyOptions {
            whiteouts: WhiteoutMode::Overlay,
            same_owner: root,
            allow_devices: false,
            xattrs: true,
        }
    }
}

/// Errors from applying a layer.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading or decoding the archive failed.
    #[error("reading layer: {0}")]
    Read(#[source] io::Error),
    /// An entry name or link target points outside the layer directory.
    #[error("layer entry {0:?} escapes the layer directory")]
    PathEscape(String),
    /// A device node that is not permitted.
    #[error("layer entry {0:?} is a device node, which is not allowed")]
    DeviceNotAllowed(String),
    /// A malformed whiteout.
    #[error("invalid whiteout entry {0:?}")]
    BadWhiteout(String),
    /// Filesystem failure while writing an entry.
    #[error("extracting {path:?}: {source}")]
    Write {
        /// The entry being written.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Opening the target directory failed.
    #[error("opening target {0}: {1}")]
    Target(PathBuf, #[source] io::Error),
}

/// Result of applying a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Digest of the uncompressed tar (the layer's diff id).
    pub diff_id: Digest,
    /// How the input was compressed.
    pub compression: Compression,
    /// Size of the uncompressed tar.
    pub tar_size: u64,
    /// Bytes of file content written.
    pub content_bytes: u64,
    /// Number of tar entries processed.
    pub entries: u64,
}

/// Unpack a layer stream (tar, tar+gzip or tar+zstd: detected by magic bytes, `media_type` as
/// a hint) into `target`, which must exist. Returns the diff id of the uncompressed tar, so the
/// caller can check it against the image config; wrap `reader` in a
/// [`DigestingReader`](crate::digest::DigestingReader) to also verify the compressed digest in
/// the same pass. Decompression and hashing run on a helper thread, overlapped with writing.
pub fn apply(
    reader: impl Read + Send,
    media_type: Option<&str>,
    target: &Path,
    opts: &ApplyOptions,
) -> Result<Applied, LayerError> {
    let root = fsops::open_root(target).map_err(|e| LayerError::Target(target.to_owned(), e))?;
    let mut extractor = berth_fs::extract::Extractor::new(root, "/", apply::options(opts));
    let (tx, mut rx) = pipe::channel();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || pipe::produce(reader, media_type, tx));
        let consumed = (|| {
            let stats = extractor.extract(&mut rx).map_err(apply::error)?;
            // Read what follows the end-of-archive marker so the diff id covers every byte.
            io::copy(&mut rx, &mut io::sink()).map_err(LayerError::Read)?;
            Ok(stats)
        })();
        drop(rx); // unblocks the producer if we stopped early
        let produced = producer
            .join()
            .map_err(|_| LayerError::Read(io::Error::other("layer decoder thread panicked")))?;
        let stats = consumed?;
        let (p, compression) = produced.map_err(LayerError::Read)?;
        Ok(Applied {
            diff_id: p.diff_id,
            compression,
            tar_size: p.tar_size,
            content_bytes: stats.content_bytes,
            entries: stats.entries,
        })
    })
}
