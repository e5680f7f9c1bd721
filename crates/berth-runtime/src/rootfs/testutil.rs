//! Helpers shared by the rootfs unit tests.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

use crate::syscall::recording::Call;

/// A temporary bundle with a `rootfs` directory; paths are canonical so they compare equal
/// to what /proc/self/fd reports.
pub(crate) struct Bundle {
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
    pub(crate) rootfs: PathBuf,
}

impl Bundle {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = std::fs::canonicalize(dir.path()).expect("canonicalize");
        let rootfs = path.join("rootfs");
        std::fs::create_dir(&rootfs).expect("mkdir rootfs");
        Bundle {
            _dir: dir,
            path,
            rootfs,
        }
    }

    /// `rel` inside the rootfs.
    pub(crate) fn in_root(&self, rel: &str) -> PathBuf {
        self.rootfs.join(rel.trim_start_matches('/'))
    }
}

/// A spec from JSON (with `ociVersion` added).
pub(crate) fn spec(mut json: serde_json::Value) -> Spec {
    json["ociVersion"] = "1.2.0".into();
    serde_json::from_value(json).expect("spec json")
}

/// A recorded mount call.
pub(crate) fn mnt(
    source: Option<&str>,
    target: impl AsRef<Path>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Call {
    Call::Mount {
        source: source.map(PathBuf::from),
        target: target.as_ref().to_path_buf(),
        fstype: fstype.map(str::to_owned),
        flags,
        data: data.map(str::to_owned),
    }
}

/// A propagation/remount-style call (no source, type or data).
pub(crate) fn flags_only(target: impl AsRef<Path>, flags: MsFlags) -> Call {
    mnt(None, target, None, flags, None)
}
