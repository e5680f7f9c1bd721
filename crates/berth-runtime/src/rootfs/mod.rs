//! The container's root filesystem: mounts, /dev, pivot_root, masked and read-only paths.
//!
//! Called from the container's init process, inside its new mount namespace, in three phases
//! (so that the `createContainer` hooks can run between the first two, as the spec requires):
//! [`prepare`] before the hooks, [`pivot`] after them, then [`finalize`] inside the new root.
//!
//! Every mount destination is resolved inside the rootfs with [`paths::RootDir`] (symlinks
//! cannot lead out of it) and mounted through `/proc/self/fd/N` of the resolved inode.

mod cgroup;
mod devices;
mod finalize;
mod mounts;
mod options;
mod paths;
mod pivot;
mod plan;
mod sysctl;

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

use crate::syscall::Syscall;

pub use finalize::finalize;
pub use pivot::pivot;

/// Why building the root filesystem failed.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A kernel call on `path` failed.
    #[error("{what} {}: {}", path.display(), errno_text(*errno))]
    Sys {
        what: &'static str,
        path: PathBuf,
        errno: nix::Error,
    },
    /// One spec mount failed; `reason` says at which step.
    #[error("mount {src} to {}: {reason}", dest.display())]
    Mount {
        /// The mount's source as the spec gave it (or its type when it has none).
        src: String,
        /// The destination inside the container.
        dest: PathBuf,
        reason: String,
    },
    /// The spec asks for something invalid or unsupported; nothing was done for it.
    #[error("{0}")]
    Invalid(String),
}

/// An errno the way runc prints it: "no such file or directory".
pub(crate) fn errno_text(errno: Errno) -> String {
    errno.desc().to_lowercase()
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
///
/// The whole spec is validated first (destinations, options, bind sources, devices, sysctl
/// names), so an invalid spec fails before any mount is made.
pub fn prepare(
    sys: &dyn Syscall,
    spec: &Spec,
    opts: &RootfsOptions<'_>,
) -> Result<(), RootfsError> {
    let plan = plan::Plan::new(spec, opts)?;
    let root_prop = plan
        .rootfs_propagation
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    sys.mount(None, Path::new("/"), None, root_prop, None)
        .map_err(|errno| RootfsError::Sys {
            what: "set propagation of",
            path: "/".into(),
            errno,
        })?;
    parent_mount_private(sys, opts.rootfs, root_prop)?;
    sys.mount(
        Some(opts.rootfs),
        opts.rootfs,
        Some("bind"),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|errno| RootfsError::Sys {
        what: "bind mount rootfs",
        path: opts.rootfs.into(),
        errno,
    })?;

    // Opened after the bind so that lookups start on the new mount, not the one below it.
    let root = paths::RootDir::open(opts.rootfs)?;
    let ctx = mounts::Ctx {
        sys,
        root: &root,
        new_cgroup_ns: opts.new_cgroup_ns,
    };
    for m in &plan.mounts {
        mounts::mount(&ctx, m)?;
    }
    if plan.setup_dev {
        devices::setup(&ctx, &plan.devices, plan.use_bind_devices, plan.terminal)?;
    }
    Ok(())
}

/// Makes the mount holding the rootfs not shared (slave when `/` was made slave, else
/// private): pivot_root(2) refuses a shared parent, and a bind of the rootfs under a shared
/// parent would propagate back to the host. mount(2) answers EINVAL for a path that is not a
/// mount point, so walk up until one accepts.
fn parent_mount_private(
    sys: &dyn Syscall,
    rootfs: &Path,
    root_prop: MsFlags,
) -> Result<(), RootfsError> {
    let flags = if root_prop.contains(MsFlags::MS_SLAVE) {
        MsFlags::MS_SLAVE
    } else {
        MsFlags::MS_PRIVATE
    };
    let mut path = rootfs;
    loop {
        match sys.mount(None, path, None, flags, None) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) => match path.parent() {
                Some(parent) => path = parent,
                None => break,
            },
            Err(errno) => {
                return Err(RootfsError::Sys {
                    what: "set propagation of",
                    path: path.into(),
                    errno,
                })
            }
        }
    }
    Err(RootfsError::Sys {
        what: "set propagation of",
        path: path.into(),
        errno: Errno::EINVAL,
    })
}

/// Bind-mounts the terminal's pty slave over `/dev/console` (inside the new root).
pub fn mount_console(sys: &dyn Syscall, pty_slave: &Path) -> Result<(), RootfsError> {
    mount_console_in(sys, pty_slave, Path::new("/"))
}

fn mount_console_in(sys: &dyn Syscall, pty_slave: &Path, root: &Path) -> Result<(), RootfsError> {
    let root = paths::RootDir::open(root)?;
    let console = root.resolve(Path::new("/dev/console"), paths::Create::File)?;
    sys.mount(
        Some(pty_slave),
        &console.proc_path(),
        None,
        MsFlags::MS_BIND,
        None,
    )
    .map_err(|errno| RootfsError::Mount {
        src: pty_slave.display().to_string(),
        dest: "/dev/console".into(),
        reason: errno_text(errno),
    })
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_phases;

#[cfg(test)]
mod kernel_tests;
