//! Extracting a tar stream into a container directory (`PUT /containers/{id}/archive`).
//!
//! berth-fs' extractor does the work: each entry's parent directory is resolved inside the
//! container root (`RESOLVE_IN_ROOT`, or its walk), and the entry is created relative to that
//! fd without following a symlink in its name, so a symlink the container swaps in can
//! redirect an entry only to another place inside its own root.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

use berth_fs::extract::{ExtractError, ExtractOptions, Extractor, Owner, Whiteouts};

/// How to extract.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOptions {
    /// Fail instead of replacing a directory with a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Owner for every entry (`None`: the archive's uid/gid).
    pub chown: Option<(u32, u32)>,
}

/// dockerd's cp rules for berth-fs' extractor: whiteouts are plain files, devices and fifos
/// are created (the daemon is root; the container's own devices cgroup still applies), the
/// `.` entry leaves the existing destination alone.
fn options(opts: UnpackOptions) -> ExtractOptions<'static> {
    ExtractOptions {
        whiteouts: Whiteouts::Plain,
        owner: match opts.chown {
            Some((uid, gid)) => Owner::Fixed(uid, gid),
            None => Owner::Keep,
        },
        allow_devices: true,
        no_overwrite_dir_non_dir: opts.no_overwrite_dir_non_dir,
        ..ExtractOptions::default()
    }
}

/// Extracts `r` into the directory `dest` (a clean absolute path inside `root`).
pub fn unpack(
    r: impl Read,
    root: &OwnedFd,
    dest: &str,
    opts: UnpackOptions,
) -> Result<(), ExtractError> {
    let root = berth_fs::Root::from_fd(root.as_fd().try_clone_to_owned().map_err(write_err)?)
        .map_err(write_err)?;
    Extractor::new(root, dest, options(opts)).extract(r)?;
    Ok(())
}

fn write_err(source: std::io::Error) -> ExtractError {
    ExtractError::Write {
        path: ".".into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fsops::open_root;

    #[test]
    fn a_symlink_to_slash_stays_in_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("dst")).unwrap();
        // A symlink to "/" in the root must resolve to the root, not the host's "/".
        std::os::unix::fs::symlink("/", root.join("dst/esc")).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "esc/marker", &b"hi"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let r = open_root(&root).unwrap();
        unpack(&data[..], &r, "/dst", UnpackOptions::default()).unwrap();
        assert_eq!(std::fs::read(root.join("marker")).unwrap(), b"hi");
    }
}
