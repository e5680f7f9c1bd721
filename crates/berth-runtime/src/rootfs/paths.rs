//! Resolving container paths inside the rootfs without ever escaping it.
//!
//! Why: the rootfs comes from an image, so any component of a mount destination may be a
//! symlink (`etc -> /`, `a -> ../../..`). Joining the destination onto the rootfs path and
//! handing it to mount(2) would let the kernel follow such links onto the host. Instead the
//! path is resolved by berth-fs against an fd of the rootfs, as if it were `/`
//! (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: one syscall for a path that exists;
//! its userspace walk creates what is missing and stands in on kernels without openat2). The
//! result is an O_PATH fd, checked once more against the kernel's view of where it is, and
//! callers mount onto `/proc/self/fd/N` so the kernel acts on exactly that inode.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag, AT_FDCWD};
use nix::sys::stat::Mode;

use super::RootfsError;

/// What to do when (parts of) the path do not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Fail with ENOENT.
    Nothing,
    /// Create missing components as directories (mode 0755).
    Dir,
    /// Create missing parents as directories and the last component as an empty file (0644):
    /// the mountpoint of a file bind mount.
    File,
}

/// An open handle on the rootfs, and its canonical host path (for messages and containment
/// checks).
#[derive(Debug)]
pub(crate) struct RootDir {
    root: berth_fs::Root,
    path: PathBuf,
}

/// A path resolved inside a [`RootDir`], held open as an O_PATH fd.
#[derive(Debug)]
pub(crate) struct Resolved {
    fd: OwnedFd,
    /// Where the fd points on the host (from /proc/self/fd), for error messages.
    pub(crate) host_path: PathBuf,
}

impl Resolved {
    /// The magic-link path naming exactly this inode, for calls that take paths.
    pub(crate) fn proc_path(&self) -> PathBuf {
        fd_path(self.fd.as_raw_fd())
    }

    /// `name` inside this directory, through the fd (so the directory cannot be swapped).
    pub(crate) fn child(&self, name: &OsStr) -> PathBuf {
        self.proc_path().join(name)
    }

    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

fn fd_path(fd: i32) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

/// Where an fd points, per the kernel.
pub(crate) fn fd_target(fd: &OwnedFd) -> nix::Result<PathBuf> {
    nix::fcntl::readlink(&fd_path(fd.as_raw_fd())).map(PathBuf::from)
}

impl RootDir {
    /// Opens `path` (which must be an existing directory) as the root for later lookups.
    pub(crate) fn open(path: &Path) -> Result<Self, RootfsError> {
        let sys = |errno| RootfsError::Sys {
            what: "open rootfs",
            path: path.to_path_buf(),
            errno,
        };
        let fd = openat(
            AT_FDCWD,
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys)?;
        let path = fd_target(&fd).map_err(sys)?;
        let root = berth_fs::Root::from_fd(fd).map_err(|e| sys(errno(&e)))?;
        Ok(RootDir { root, path })
    }

    /// The canonical host path of the root.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Resolves the container path `unsafe_path` (absolute or not, it is always taken relative
    /// to the root) and opens it, creating what is missing as `create` says.
    pub(crate) fn resolve(
        &self,
        unsafe_path: &Path,
        create: Create,
    ) -> Result<Resolved, RootfsError> {
        let fd = self
            .walk(unsafe_path, create)
            .map_err(|errno| RootfsError::Sys {
                what: "resolve in rootfs",
                path: unsafe_path.to_path_buf(),
                errno,
            })?;
        self.checked(fd, unsafe_path)
    }

    /// Resolves the parent directory of `unsafe_path` (creating missing directories when
    /// `create_parents`) and returns it with the last component's name, which is *not* looked
    /// at: for creating device nodes and symlinks in it.
    pub(crate) fn resolve_parent(
        &self,
        unsafe_path: &Path,
        create_parents: bool,
    ) -> Result<(Resolved, OsString), RootfsError> {
        let clean = lexical_clean(unsafe_path);
        let name = clean.file_name().map(OsStr::to_os_string).ok_or_else(|| {
            RootfsError::Invalid(format!("{} has no final component", unsafe_path.display()))
        })?;
        let parent = clean.parent().unwrap_or(Path::new("/"));
        let create = if create_parents {
            Create::Dir
        } else {
            Create::Nothing
        };
        Ok((self.resolve(parent, create)?, name))
    }

    /// Verifies, with the kernel's view of the fd, that the walk stayed inside the root.
    fn checked(&self, fd: OwnedFd, unsafe_path: &Path) -> Result<Resolved, RootfsError> {
        let host_path = fd_target(&fd).map_err(|errno| RootfsError::Sys {
            what: "readlink resolved",
            path: unsafe_path.to_path_buf(),
            errno,
        })?;
        if !host_path.starts_with(&self.path) {
            return Err(RootfsError::Invalid(format!(
                "{} resolves to {}, outside of the rootfs {}",
                unsafe_path.display(),
                host_path.display(),
                self.path.display()
            )));
        }
        Ok(Resolved { fd, host_path })
    }

    /// Opens the path (O_PATH, symlinks followed inside the root); only when something is
    /// missing does the walk run to create it (mode 0755 directories, a 0644 file last).
    fn walk(&self, unsafe_path: &Path, create: Create) -> nix::Result<OwnedFd> {
        let found = self.root.open_at(unsafe_path, OFlag::O_PATH, 0);
        let made = match (found, create) {
            (Err(e), Create::Dir) if e.raw_os_error() == Some(libc::ENOENT) => {
                self.root.mkdir_all(unsafe_path, 0o755)
            }
            (Err(e), Create::File) if e.raw_os_error() == Some(libc::ENOENT) => {
                self.root.create_file_all(unsafe_path, 0o755, 0o644)
            }
            (r, _) => r,
        };
        made.map_err(|e| errno(&e))
    }
}

/// The errno of a berth-fs error.
fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// `/`-rooted lexical cleanup (`..` cannot climb above `/`), for comparing container paths
/// such as "/dev" and "/dev/" or "/proc/../dev" without touching the filesystem.
pub(crate) fn lexical_clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for comp in path.components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp_root() -> (tempfile::TempDir, RootDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = RootDir::open(dir.path()).expect("open root");
        (dir, root)
    }

    #[test]
    fn plain_path_is_created_under_root() {
        let (_d, root) = tmp_root();
        let r = root
            .resolve(Path::new("/a/b/c"), Create::Dir)
            .expect("resolve");
        assert_eq!(r.host_path, root.path().join("a/b/c"));
        assert!(root.path().join("a/b/c").is_dir());
    }

    #[test]
    fn file_mountpoint_is_an_empty_file_with_dir_parents() {
        let (_d, root) = tmp_root();
        let r = root
            .resolve(Path::new("etc/resolv.conf"), Create::File)
            .expect("resolve");
        assert_eq!(r.host_path, root.path().join("etc/resolv.conf"));
        let meta = std::fs::metadata(&r.host_path).expect("stat");
        assert!(meta.is_file());
        assert_eq!(meta.len(), 0);
    }

    #[test]
    fn absolute_symlink_is_relative_to_root() {
        let (_d, root) = tmp_root();
        let outside = tempfile::tempdir().expect("outside");
        let outside_path = outside.path().to_path_buf();
        // etc -> /tmp/.../outside: on the host that exists; in the container it must not be it.
        symlink(&outside_path, root.path().join("etc")).expect("symlink");
        let r = root
            .resolve(Path::new("/etc/hosts"), Create::File)
            .expect("resolve");
        let inside = root
            .path()
            .join(outside_path.strip_prefix("/").expect("abs"));
        assert_eq!(r.host_path, inside.join("hosts"));
        assert!(
            !outside_path.join("hosts").exists(),
            "created a file outside the rootfs"
        );
    }

    #[test]
    fn dotdot_symlinks_cannot_climb_out() {
        let (_d, root) = tmp_root();
        std::fs::create_dir_all(root.path().join("a/b")).expect("mkdir");
        symlink("../../../../../..", root.path().join("a/b/up")).expect("symlink");
        let r = root
            .resolve(Path::new("/a/b/up/x"), Create::Dir)
            .expect("resolve");
        assert_eq!(r.host_path, root.path().join("x"));
        let r = root
            .resolve(Path::new("/../../../y"), Create::Dir)
            .expect("resolve");
        assert_eq!(r.host_path, root.path().join("y"));
    }

    #[test]
    fn dotdot_after_symlink_goes_to_target_parent() {
        let (_d, root) = tmp_root();
        std::fs::create_dir_all(root.path().join("real/sub")).expect("mkdir");
        symlink("/real/sub", root.path().join("link")).expect("symlink");
        let r = root
            .resolve(Path::new("/link/../z"), Create::Dir)
            .expect("resolve");
        assert_eq!(r.host_path, root.path().join("real/z"));
    }

    #[test]
    fn dangling_symlink_target_is_created_inside() {
        let (_d, root) = tmp_root();
        symlink("/var/run", root.path().join("run")).expect("symlink");
        let r = root
            .resolve(Path::new("/run/lock"), Create::Dir)
            .expect("resolve");
        assert_eq!(r.host_path, root.path().join("var/run/lock"));
    }

    #[test]
    fn symlink_loop_fails_with_eloop() {
        let (_d, root) = tmp_root();
        symlink("/b", root.path().join("a")).expect("symlink");
        symlink("/a", root.path().join("b")).expect("symlink");
        let err = root
            .resolve(Path::new("/a/x"), Create::Dir)
            .expect_err("loop");
        assert!(
            matches!(
                err,
                RootfsError::Sys {
                    errno: Errno::ELOOP,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_path_without_create_is_enoent() {
        let (_d, root) = tmp_root();
        let err = root
            .resolve(Path::new("/nope/x"), Create::Nothing)
            .expect_err("missing");
        assert!(
            matches!(
                err,
                RootfsError::Sys {
                    errno: Errno::ENOENT,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn file_in_the_middle_is_enotdir() {
        let (_d, root) = tmp_root();
        std::fs::write(root.path().join("f"), b"").expect("write");
        let err = root
            .resolve(Path::new("/f/x"), Create::Dir)
            .expect_err("enotdir");
        assert!(
            matches!(
                err,
                RootfsError::Sys {
                    errno: Errno::ENOTDIR,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn resolve_parent_keeps_last_name_unresolved() {
        let (_d, root) = tmp_root();
        symlink("/elsewhere", root.path().join("dev")).expect("symlink");
        let (dir, name) = root
            .resolve_parent(Path::new("/dev/null"), true)
            .expect("parent");
        assert_eq!(dir.host_path, root.path().join("elsewhere"));
        assert_eq!(name, "null");
        assert_eq!(
            crate::syscall::recording::normalize(&dir.child(&name)),
            root.path().join("elsewhere/null")
        );
    }

    #[test]
    fn lexical_clean_never_climbs_above_root() {
        assert_eq!(
            lexical_clean(Path::new("/proc/../../dev/")),
            PathBuf::from("/dev")
        );
        assert_eq!(
            lexical_clean(Path::new("dev/./pts")),
            PathBuf::from("/dev/pts")
        );
        assert_eq!(lexical_clean(Path::new("/")), PathBuf::from("/"));
    }
}
