//! The container's /dev: device nodes, the standard symlinks, /dev/ptmx, /dev/console.
//!
//! Nodes are made with mknod(2); in a user namespace the kernel refuses that (EPERM), so —
//! as runc does — the host's node is bind-mounted onto an empty file instead, which gives the
//! same device with the host's ownership and mode.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, makedev, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::mounts::Ctx;
use super::paths::{Create, Resolved};
use super::plan::Device;
use super::{errno_text, RootfsError};

/// The symlinks every /dev has (`/dev/core` only when the kernel has /proc/kcore).
const SYMLINKS: [(&str, &str); 4] = [
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

/// Creates `devices`, the /dev symlinks, the /dev/ptmx link to the devpts instance's ptmx,
/// and, with a terminal, an empty /dev/console to bind the pty onto later.
pub(crate) fn setup(
    ctx: &Ctx<'_>,
    devices: &[Device],
    use_bind: bool,
    terminal: bool,
) -> Result<(), RootfsError> {
    for d in devices {
        create(ctx, d, use_bind)?;
    }
    ptmx(ctx)?;
    let kcore = Path::new("/proc/kcore")
        .exists()
        .then_some(("/proc/kcore", "/dev/core"));
    for (target, link) in SYMLINKS.into_iter().chain(kcore) {
        let (dir, name) = ctx.root.resolve_parent(Path::new(link), true)?;
        match ctx.sys.symlink(Path::new(target), &dir.child(&name)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(errno) => {
                return Err(RootfsError::Sys {
                    what: "symlink",
                    path: link.into(),
                    errno,
                })
            }
        }
    }
    if terminal {
        ctx.root.resolve(Path::new("/dev/console"), Create::File)?;
    }
    Ok(())
}

fn create(ctx: &Ctx<'_>, d: &Device, use_bind: bool) -> Result<(), RootfsError> {
    let (dir, name) = ctx.root.resolve_parent(&d.path, true)?;
    if !use_bind {
        let node = dir.child(&name);
        let mode = Mode::from_bits_truncate(d.mode);
        match ctx
            .sys
            .mknod(&node, d.kind, mode, makedev(d.major, d.minor))
        {
            Ok(()) => {
                // mknod's mode went through the umask; the spec's mode is exact.
                let sys_err = |what, errno| RootfsError::Sys {
                    what,
                    path: d.path.clone(),
                    errno,
                };
                ctx.sys
                    .chmod(&node, mode)
                    .map_err(|e| sys_err("chmod", e))?;
                return ctx
                    .sys
                    .lchown(&node, d.uid, d.gid)
                    .map_err(|e| sys_err("chown", e));
            }
            // Already there (the image ships it, or a spec mount provided it): keep it.
            Err(Errno::EEXIST) => return Ok(()),
            Err(Errno::EPERM) => {}
            Err(errno) => {
                return Err(RootfsError::Sys {
                    what: "mknod",
                    path: d.path.clone(),
                    errno,
                })
            }
        }
    }
    bind_device(ctx, d, &dir, &name)
}

fn bind_device(ctx: &Ctx<'_>, d: &Device, dir: &Resolved, name: &OsStr) -> Result<(), RootfsError> {
    let sys_err = |what, errno| RootfsError::Sys {
        what,
        path: d.path.clone(),
        errno,
    };
    let file = mountpoint_file(dir, name).map_err(|e| sys_err("create device mountpoint", e))?;
    let target = Path::new("/proc/self/fd").join(file.as_raw_fd().to_string());
    ctx.sys
        .mount(Some(&d.path), &target, None, MsFlags::MS_BIND, None)
        .map_err(|e| RootfsError::Mount {
            src: d.path.display().to_string(),
            dest: d.path.clone(),
            reason: errno_text(e),
        })
}

/// An O_PATH fd on `name` in `dir`, created as an empty file if missing. Never opens an
/// existing node for reading (that could be a tty becoming our controlling terminal), never
/// follows a symlink.
fn mountpoint_file(dir: &Resolved, name: &OsStr) -> nix::Result<OwnedFd> {
    let open_path = || {
        openat(
            dir.fd().as_fd(),
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    let fd = match open_path() {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            match openat(
                dir.fd().as_fd(),
                name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC
                    | OFlag::O_RDONLY,
                Mode::empty(),
            ) {
                Ok(_) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
            open_path()?
        }
        Err(e) => return Err(e),
    };
    if fstat(&fd)?.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits() {
        return Err(Errno::ELOOP);
    }
    Ok(fd)
}

/// /dev/ptmx must be the devpts instance's own ptmx (a `newinstance` devpts is only reached
/// through it), so replace whatever is there by a `pts/ptmx` symlink.
fn ptmx(ctx: &Ctx<'_>) -> Result<(), RootfsError> {
    let (dir, name) = ctx.root.resolve_parent(Path::new("/dev/ptmx"), true)?;
    let sys_err = |what, errno| RootfsError::Sys {
        what,
        path: "/dev/ptmx".into(),
        errno,
    };
    match unlinkat(
        dir.fd().as_fd(),
        name.as_os_str(),
        UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys_err("unlink", e)),
    }
    ctx.sys
        .symlink(Path::new("pts/ptmx"), &dir.child(&name))
        .map_err(|e| sys_err("symlink", e))
}
