//! One tar-into-a-root extractor for every caller that unpacks an archive it does not trust:
//! image layers (whiteouts, devices, ownership, xattrs) and `docker cp` / `PUT archive` into a
//! container.
//!
//! The `tar` crate only parses; every change is made here through directory fds of a [`Root`]:
//! an entry's parent is resolved inside the root (symlinks planted by earlier entries or by
//! the container stay inside it), and the last name is created with `*at` calls that never
//! follow a symlink. Names are cleaned lexically; one that climbs above the destination is
//! refused, as is a hard link whose target does. The rules that differ between callers are
//! [`ExtractOptions`].

mod entry;
mod meta;
mod whiteout;

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The largest GNU long-name or PAX header accepted (the tar parser holds it in memory; a
/// path needs at most PATH_MAX).
const EXTENSION_MAX: u64 = 1 << 20;

use crate::ops;
use crate::Root;

/// Prefix of OCI whiteout files.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the OCI opaque-directory marker.
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// What to do with OCI whiteout entries (`.wh.NAME`, `.wh..wh..opq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// Nothing special: they are ordinary files (`docker cp`).
    Plain,
    /// Store them in overlayfs' form: `.wh.NAME` becomes a 0:0 char device named NAME, the
    /// opaque marker an xattr ([`ExtractOptions::opaque_xattr`]) on its directory.
    Overlay,
    /// Delete what they name from the tree below (a snapshot that is a full copy); an opaque
    /// marker empties its directory of everything this archive did not write.
    Apply,
}

/// Which owner entries get.
#[derive(Clone, Copy)]
pub enum Owner<'a> {
    /// Leave them to whoever extracts (an unprivileged extractor).
    Ignore,
    /// The archive's uid/gid.
    Keep,
    /// These ids for every entry (`docker cp` without `-a`).
    Fixed(u32, u32),
    /// The archive's ids mapped by the hook (user-namespace remapping); its error fails the
    /// entry.
    Map(&'a (dyn Fn(u32, u32) -> io::Result<(u32, u32)> + Sync)),
}

impl fmt::Debug for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Ignore => f.write_str("Ignore"),
            Owner::Keep => f.write_str("Keep"),
            Owner::Fixed(u, g) => write!(f, "Fixed({u}, {g})"),
            Owner::Map(_) => f.write_str("Map(..)"),
        }
    }
}

/// The rules of an extraction.
#[derive(Debug, Clone, Copy)]
pub struct ExtractOptions<'a> {
    /// Whiteout handling.
    pub whiteouts: Whiteouts,
    /// The xattr marking a directory opaque in [`Whiteouts::Overlay`] mode.
    pub opaque_xattr: &'a str,
    /// Ownership of what is created.
    pub owner: Owner<'a>,
    /// Let a chown that fails with `EINVAL`/`EPERM` pass (an extractor in a user namespace
    /// whose map lacks the id keeps its own ids, as podman's rootless storage does).
    pub tolerate_chown: bool,
    /// Create char/block devices (other than the 0:0 whiteout device); refused otherwise.
    pub allow_devices: bool,
    /// Skip a device node the kernel refuses with `EPERM` (unprivileged extraction).
    pub skip_unpermitted_devices: bool,
    /// Restore `SCHILY.xattr.*` extended attributes, except those `skip_xattr` names.
    pub xattrs: bool,
    /// Extended attributes never restored (overlayfs' own, which a layer must not smuggle in).
    pub skip_xattr: fn(&str) -> bool,
    /// Refuse to replace a directory with a non-directory or the reverse (dockerd's
    /// `NoOverwriteDirNonDir`); otherwise whatever is in the way is removed.
    pub no_overwrite_dir_non_dir: bool,
    /// Apply a `.` entry's metadata to the destination directory itself (layers do; dockerd's
    /// cp leaves an existing destination alone).
    pub dest_meta: bool,
}

impl Default for ExtractOptions<'_> {
    fn default() -> Self {
        ExtractOptions {
            whiteouts: Whiteouts::Plain,
            opaque_xattr: "trusted.overlay.opaque",
            owner: Owner::Ignore,
            tolerate_chown: false,
            allow_devices: false,
            skip_unpermitted_devices: false,
            xattrs: false,
            skip_xattr: |_| false,
            no_overwrite_dir_non_dir: false,
            dest_meta: false,
        }
    }
}

/// Why an extraction stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// Reading or parsing the archive failed.
    #[error("reading archive: {0}")]
    Read(#[source] io::Error),
    /// An entry name or hard-link target climbs above the destination.
    #[error("archive entry {0:?} is outside of the destination")]
    Escape(String),
    /// A device node while devices are not allowed.
    #[error("archive entry {0:?} is a device node, which is not allowed")]
    Device(String),
    /// A malformed whiteout.
    #[error("invalid whiteout entry {0:?}")]
    BadWhiteout(String),
    /// A directory/non-directory swap refused by `no_overwrite_dir_non_dir`.
    #[error("{0}")]
    Overwrite(String),
    /// Filesystem failure while writing an entry.
    #[error("extracting {path:?}: {source}")]
    Write {
        /// The entry being written.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// Counters of an extraction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of file content written.
    pub content_bytes: u64,
    /// Tar entries processed.
    pub entries: u64,
}

/// Extracts tar streams into a directory inside a [`Root`].
pub struct Extractor<'o> {
    root: Root,
    /// The destination's components inside the root.
    dest: Vec<OsString>,
    opts: ExtractOptions<'o>,
    /// Directories and their mtimes, set last (writing inside a directory changes its mtime).
    dir_times: Vec<(Vec<OsString>, i64)>,
    /// Paths written by this archive (Apply mode: opaque directories keep only these).
    written: HashSet<Vec<OsString>>,
    buf: Vec<u8>,
    /// The parent directory of the last regular file, reused by the next regular file in the
    /// same directory (archives list a directory's files together): saves a resolve and a
    /// close per file. Any other entry kind may change the tree, so it drops the cache.
    parent_cache: Option<(Vec<OsString>, OwnedFd)>,
    stats: Stats,
}

impl<'o> Extractor<'o> {
    /// An extractor writing below `dest` (a path inside `root`, which must be a directory
    /// there).
    pub fn new(root: Root, dest: impl AsRef<Path>, opts: ExtractOptions<'o>) -> Self {
        let dest = crate::clean(dest)
            .iter()
            .skip(1)
            .map(OsStr::to_os_string)
            .collect();
        Extractor {
            root,
            dest,
            opts,
            dir_times: Vec::new(),
            written: HashSet::new(),
            buf: vec![0; 1 << 20],
            parent_cache: None,
            stats: Stats::default(),
        }
    }

    /// Extracts every entry of the tar stream `r`, then sets directory times. Stops at the
    /// end-of-archive marker; what follows it is left in `r`.
    pub fn extract(&mut self, r: impl Read) -> Result<Stats, ExtractError> {
        // Long-name and PAX headers are held in memory by the tar parser: keep them small.
        let mut archive = tar::Archive::new(crate::ExtensionCap::new(r, EXTENSION_MAX));
        for entry in archive.entries().map_err(ExtractError::Read)? {
            self.entry(entry.map_err(ExtractError::Read)?)?;
        }
        self.finish()?;
        Ok(self.stats)
    }

    /// Directory mtimes last, after everything inside them has been written.
    fn finish(&mut self) -> Result<(), ExtractError> {
        for (comps, mtime) in self.dir_times.iter().rev() {
            let path = join(comps);
            // A later entry may have replaced the directory with something else.
            let Ok(fd) = self.root.open_dir(&path) else {
                continue;
            };
            ops::set_mtime_fd(fd.as_fd(), *mtime).map_err(|source| ExtractError::Write {
                path: path.to_string_lossy().into_owned(),
                source,
            })?;
        }
        self.dir_times.clear();
        Ok(())
    }

    /// The destination followed by `comps`.
    fn full(&self, comps: &[OsString]) -> Vec<OsString> {
        let mut v = self.dest.clone();
        v.extend_from_slice(comps);
        v
    }

    /// Opens the directory `comps` (full components) for `*at` calls, creating what is
    /// missing (0755) inside the root.
    fn ensure_dir(&self, comps: &[OsString]) -> io::Result<OwnedFd> {
        let path = join(comps);
        match self.root.open_dir(&path) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.root.mkdir_all(&path, 0o755),
            r => r,
        }
    }
}

/// Splits a tar name into components below the destination: leading `/` and `.` dropped,
/// `a/../b` folded to `b`; `None` when `..` would climb above the destination.
pub fn clean_entry(name: &[u8]) -> Option<Vec<OsString>> {
    let mut out: Vec<OsString> = Vec::new();
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                out.pop()?;
            }
            c => out.push(OsStr::from_bytes(c).to_owned()),
        }
    }
    Some(out)
}

/// Components joined with `/` into a path relative to the root (resolved inside it only).
fn join(components: &[OsString]) -> OsString {
    let mut out = OsString::from("/");
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push("/");
        }
        out.push(c);
    }
    out
}
