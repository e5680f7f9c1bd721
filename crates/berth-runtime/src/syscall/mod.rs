//! Kernel calls used while building a container's root, behind a trait.
//!
//! Why: the mount/device/path logic is the most intricate part of the runtime, and a trait lets
//! its unit tests run without root against a recording implementation (`RecordingSyscall`).

mod linux;
#[cfg(test)]
pub(crate) mod recording;

pub use linux::LinuxSyscall;

use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

/// The kernel operations the rootfs setup needs. Errors are raw errno values; callers add context.
pub trait Syscall {
    /// mount(2).
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// umount2(2).
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    /// chroot(2).
    fn chroot(&self, path: &Path) -> nix::Result<()>;
    /// chdir(2).
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    /// mknod(2).
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()>;
    /// symlink(2): `link` points at `target`.
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()>;
    /// chown(2) without following a final symlink.
    fn lchown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()>;
    /// fchdir(2): pivot_root needs to move between directories it holds open, because the
    /// paths stop meaning the same thing half-way through.
    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()>;
    /// chmod(2), following symlinks: mknod's mode is filtered by the umask, devices need the
    /// exact mode of the spec.
    fn chmod(&self, path: &Path, mode: Mode) -> nix::Result<()>;
    /// The per-mount flags (`MS_RDONLY`, `MS_NOSUID`, `MS_NODEV`, `MS_NOEXEC`, atime flags...)
    /// of the mount holding `path`, from statvfs(2). Bind remounts in a user namespace must
    /// repeat the locked ones, or the kernel answers EPERM.
    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags>;
    /// mount_setattr(2) on the mount at `path` (and, when `recursive`, every mount below it):
    /// sets `attr_set` and clears `attr_clr` (`MOUNT_ATTR_*` bits). The only way to make a
    /// whole bind-mounted tree read-only (`rro`), which a bind remount cannot do.
    fn mount_setattr(
        &self,
        path: &Path,
        recursive: bool,
        attr_set: u64,
        attr_clr: u64,
    ) -> nix::Result<()>;
    /// Writes `contents` to an existing file (no create, truncate): used for /proc/sys.
    fn write_file(&self, path: &Path, contents: &[u8]) -> nix::Result<()>;
}
