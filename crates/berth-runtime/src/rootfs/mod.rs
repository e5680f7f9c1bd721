//! The container's root filesystem: mounts, /dev, pivot_root, masked and read-only paths.
//!
//! Called from the container's init process, inside its new mount namespace, in three phases
//! (so that the `createContainer` hooks can run between the first two, as the spec requires):
//! [`prepare`] before the hooks, [`pivot`] after them, then [`finalize`] inside the new root.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::syscall::Syscall;

/// Why building the root filesystem failed.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{what} {path}: {errno}")]
    Sys {
        what: &'static str,
        path: PathBuf,
        errno: nix::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// What [`prepare`] needs besides the spec.
#[derive(Debug, Clone)]
pub struct RootfsOptions<'a> {
    /// Absolute host path of the rootfs (already resolved against the bundle).
    pub rootfs: &'a Path,
    /// The bundle directory (relative bind sources resolve against it).
    pub bundle: &'a Path,
    /// Whether the container got a new cgroup namespace (affects how `cgroup` mounts are made).
    pub new_cgroup_ns: bool,
}

/// Phase 1, before `createContainer` hooks: propagation, the rootfs bind, every spec mount, /dev.
pub fn prepare(sys: &dyn Syscall, spec: &Spec, opts: &RootfsOptions<'_>) -> Result<(), RootfsError> {
    let _ = (sys, spec, opts);
    Err(RootfsError::Invalid("rootfs setup not implemented yet".into()))
}

/// Phase 2: make `rootfs` the process's root (pivot_root, or chroot when `no_pivot`).
pub fn pivot(sys: &dyn Syscall, rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    let _ = (sys, rootfs, no_pivot);
    Err(RootfsError::Invalid("pivot not implemented yet".into()))
}

/// Phase 3, inside the new root: sysctls, masked paths, read-only paths, read-only root.
pub fn finalize(sys: &dyn Syscall, spec: &Spec) -> Result<(), RootfsError> {
    let _ = (sys, spec);
    Err(RootfsError::Invalid("finalize not implemented yet".into()))
}

/// Bind-mounts the terminal's pty slave over `/dev/console` (inside the new root).
pub fn mount_console(sys: &dyn Syscall, pty_slave: &Path) -> Result<(), RootfsError> {
    let _ = (sys, pty_slave);
    Err(RootfsError::Invalid("console not implemented yet".into()))
}
