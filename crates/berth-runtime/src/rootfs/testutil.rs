//! Helpers shared by the rootfs unit tests.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

use crate::syscall::recording::{Call, RecordingSyscall};

use super::{prepare, RootfsError, RootfsOptions};

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

pub(crate) const REC_SLAVE: MsFlags = MsFlags::MS_SLAVE.union(MsFlags::MS_REC);
pub(crate) const BIND: MsFlags = MsFlags::MS_BIND;
pub(crate) const REMOUNT: MsFlags = MsFlags::MS_BIND.union(MsFlags::MS_REMOUNT);

pub(crate) fn run_prepare(b: &Bundle, s: &Spec, sys: &RecordingSyscall) -> Result<(), RootfsError> {
    let opts = RootfsOptions {
        rootfs: &b.rootfs,
        bundle: &b.path,
        new_cgroup_ns: false,
    };
    prepare(sys, s, &opts)
}

/// The three calls every prepare starts with.
pub(crate) fn preamble(b: &Bundle) -> Vec<Call> {
    let root = b.rootfs.to_str().expect("utf8");
    vec![
        flags_only("/", REC_SLAVE),
        flags_only(&b.rootfs, MsFlags::MS_SLAVE),
        mnt(
            Some(root),
            &b.rootfs,
            Some("bind"),
            BIND | MsFlags::MS_REC,
            None,
        ),
    ]
}

/// A spec mounting /dev as a bind, so that no device setup is recorded.
pub(crate) fn no_dev_mount(b: &Bundle) -> serde_json::Value {
    std::fs::create_dir_all(b.path.join("devdir")).expect("mkdir");
    serde_json::json!({"destination": "/dev", "type": "bind", "source": "devdir", "options": ["rbind"]})
}
