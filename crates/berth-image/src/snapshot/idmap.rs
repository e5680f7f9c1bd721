//! Idmapped container roots, for user-namespace-remapped containers (`--userns-remap`).
//!
//! Layers stay owned by real root on disk and shared with containers that are not remapped:
//! instead of chowning copies, each lower layer is cloned as a detached mount
//! (`open_tree(OPEN_TREE_CLONE)`) and given the container's id mapping
//! (`mount_setattr(MOUNT_ATTR_IDMAP)`), so an on-disk uid 0 reads as the remapped root. The
//! overlay is made over those clones (overlayfs takes idmapped lower layers since 5.19); it
//! keeps its own references, so the clones are dropped right after. Kernels from 6.13 take the
//! detached clones as file descriptors (`FSCONFIG_SET_FD`); older ones get them attached at
//! temporary directories for the duration of the mount. The upper dir is not idmapped: what the
//! container writes lands on disk owned by its remapped ids.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::mount::{cstr, cvt, fsconfig_string, Mount, OVERLAY_FIXED_OPTIONS};

/// One line of a uid or gid map: `size` ids from `container` inside map to `host` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMapping {
    /// First id inside the namespace.
    pub container: u32,
    /// First id on the host.
    pub host: u32,
    /// How many ids.
    pub size: u32,
}

fn map_text(map: &[IdMapping]) -> String {
    map.iter()
        .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
        .collect()
}

/// A user namespace with these maps, held by an fd: what `MOUNT_ATTR_IDMAP` takes. A child is
/// cloned straight into a new user namespace (no `unshare`, which a threaded process may not
/// do for user namespaces), its maps are written, the namespace is opened and the child killed.
pub fn userns_fd(uid_map: &[IdMapping], gid_map: &[IdMapping]) -> io::Result<OwnedFd> {
    // SAFETY: fork-like clone (no new stack); the child only makes raw system calls
    // (pause, _exit), which are async-signal-safe in a copy of a threaded process.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        loop {
            // SAFETY: pause(2) only waits for the parent's SIGKILL.
            unsafe { libc::pause() };
        }
    }
    let pid = cvt(pid)? as libc::pid_t;
    let result = (|| {
        fs::write(format!("/proc/{pid}/uid_map"), map_text(uid_map))
            .map_err(|e| io::Error::new(e.kind(), format!("write uid_map: {e}")))?;
        fs::write(format!("/proc/{pid}/gid_map"), map_text(gid_map))
            .map_err(|e| io::Error::new(e.kind(), format!("write gid_map: {e}")))?;
        let f = fs::File::open(format!("/proc/{pid}/ns/user"))?;
        Ok(OwnedFd::from(f))
    })();
    // SAFETY: our own child; SIGKILL then reap it so no zombie is left.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    result
}

/// A detached clone of the directory tree at `path` with the mapping of `userns` applied.
pub fn idmapped_tree(path: &Path, userns: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    // SAFETY: valid NUL-terminated path; OPEN_TREE_CLONE returns a new detached mount fd.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            p.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    })
    .map_err(|e| io::Error::new(e.kind(), format!("open_tree {}: {e}", path.display())))?;
    // SAFETY: open_tree returned a new fd we own.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, and a correctly sized mount_attr.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })
    .map_err(|e| io::Error::new(e.kind(), format!("idmap {}: {e}", path.display())))?;
    Ok(tree)
}

/// Attach the detached mount `tree` at `target`.
fn attach(tree: BorrowedFd<'_>, target: &Path) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: valid fd and path; F_EMPTY_PATH moves the detached mount behind `tree`.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

fn set_fd(fs: &OwnedFd, key: &str, fd: BorrowedFd<'_>) -> io::Result<()> {
    let k = std::ffi::CString::new(key).map_err(|_| io::Error::other("NUL in key"))?;
    // SAFETY: valid fds and key; FSCONFIG_SET_FD takes the fd in `aux` and a null value.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_SET_FD,
            k.as_ptr(),
            std::ptr::null::<u8>(),
            fd.as_raw_fd(),
        )
    })
    .map(drop)
}

/// A lower layer as overlayfs is told about it.
enum Lower<'a> {
    Fd(BorrowedFd<'a>),
    Path(&'a Path),
}

fn mount_overlay(lowers: &[Lower<'_>], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    // SAFETY: valid NUL-terminated fs name.
    let fsfd =
        cvt(unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), libc::FSOPEN_CLOEXEC) })?;
    // SAFETY: fsopen returned a new fd we own.
    let fsfd = unsafe { OwnedFd::from_raw_fd(fsfd as i32) };
    for l in lowers {
        match l {
            Lower::Fd(fd) => set_fd(&fsfd, "lowerdir+", *fd)?,
            Lower::Path(p) => fsconfig_string(&fsfd, "lowerdir+", Some(p))?,
        }
    }
    fsconfig_string(&fsfd, "upperdir", Some(upper))?;
    fsconfig_string(&fsfd, "workdir", Some(work))?;
    for (k, v) in OVERLAY_FIXED_OPTIONS {
        fsconfig_string(&fsfd, k, Some(Path::new(v)))?;
    }
    // SAFETY: valid fd; CMD_CREATE takes no key/value.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map_err(|e| io::Error::new(e.kind(), format!("overlay over idmapped layers: {e}")))?;
    // SAFETY: valid fd.
    let mfd = cvt(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fsfd.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: fsmount returned a new fd we own.
    let mfd = unsafe { OwnedFd::from_raw_fd(mfd as i32) };
    attach(mfd.as_fd(), target)
}

/// Idmapped clones attached at temporary directories; detached and removed on drop.
struct Attached {
    dir: PathBuf,
    points: Vec<PathBuf>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        for p in &self.points {
            if let Ok(c) = cstr(p) {
                // SAFETY: valid path; the overlay keeps its own references to the layer.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The fallback for kernels whose overlayfs takes layers only by path (before 6.13).
fn mount_overlay_attached(
    trees: &[OwnedFd],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> io::Result<()> {
    let base = target.parent().unwrap_or(Path::new("/"));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = base.join(format!(".{name}-idmap-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let mut att = Attached {
        dir,
        points: Vec::new(),
    };
    for (i, t) in trees.iter().enumerate() {
        let p = att.dir.join(i.to_string());
        fs::create_dir(&p)?;
        attach(t.as_fd(), &p)?;
        att.points.push(p);
    }
    let lowers: Vec<Lower<'_>> = att.points.iter().map(|p| Lower::Path(p)).collect();
    mount_overlay(&lowers, upper, work, target)
}

impl Mount {
    /// Like [`Mount::mount`], with the id mapping of `userns` applied to the image's files
    /// (every lower layer, or the bound copy); the upper dir is used as is.
    pub fn mount_idmapped(&self, target: &Path, userns: BorrowedFd<'_>) -> io::Result<()> {
        match self {
            Mount::Bind { source } => attach(idmapped_tree(source, userns)?.as_fd(), target),
            Mount::Overlay {
                base, upper, work, ..
            } => {
                let trees = self
                    .lower_dirs()
                    .iter()
                    .map(|l| idmapped_tree(l, userns))
                    .collect::<io::Result<Vec<_>>>()?;
                let (upper, work) = (base.join(upper), base.join(work));
                let lowers: Vec<Lower<'_>> = trees.iter().map(|t| Lower::Fd(t.as_fd())).collect();
                match mount_overlay(&lowers, &upper, &work, target) {
                    // Layers by fd are unknown to this overlayfs: attach them for a moment.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        mount_overlay_attached(&trees, &upper, &work, target)
                    }
                    r => r,
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "idmap_tests.rs"]
mod tests;
