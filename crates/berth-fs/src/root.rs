//! [`Root`]: a directory held open as the `/` of every lookup made through it.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::sys::{self, ioe, kind, open_child, openat2_in_root, stat, RETRIES};
use crate::walk::{walk, Missing, Opts, Walked};

/// Which resolver [`Root::open_at`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    /// The kernel's `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`.
    Openat2,
    /// The userspace walk (kernels before 5.6, or openat2 filtered by seccomp).
    Walk,
}

/// A directory held open as the root of later lookups. Paths given to it are container paths:
/// absolute or not, they are taken relative to the root, and symlinks in them resolve inside it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    dev: u64,
    resolver: Resolver,
    no_xdev: bool,
}

/// A path resolved inside a [`Root`] by [`Root::resolve`].
#[derive(Debug)]
pub struct Resolved {
    /// The path inside the root with every symlink resolved, absolute. Components past the
    /// first missing one are kept as named (cleaned).
    pub path: PathBuf,
    /// An `O_PATH` fd of the resolved object, when it exists.
    pub fd: Option<OwnedFd>,
}

impl Resolved {
    /// Whether the path exists and is a directory.
    pub fn is_dir(&self) -> io::Result<bool> {
        match &self.fd {
            Some(fd) => Ok(kind(&stat(fd)?) == libc::S_IFDIR),
            None => Ok(false),
        }
    }
}

fn open_flags(flags: OFlag) -> OFlag {
    flags | OFlag::O_CLOEXEC
}

impl Root {
    /// Opens the host directory `path` as a root (it must be a directory; a symlink in the
    /// last component is refused). Uses openat2 when the kernel has it.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            open_flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW),
            Mode::empty(),
        )
        .map_err(ioe)?;
        Root::from_fd(fd)
    }

    /// Takes a directory fd as the root.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Root> {
        let st = stat(&fd)?;
        if kind(&st) != libc::S_IFDIR {
            return Err(ioe(nix::errno::Errno::ENOTDIR));
        }
        let resolver = if sys::openat2_supported() {
            Resolver::Openat2
        } else {
            Resolver::Walk
        };
        Ok(Root {
            fd,
            dev: st.st_dev,
            resolver,
            no_xdev: false,
        })
    }

    /// Uses `resolver` for [`Root::open_at`] (tests run every case through both).
    pub fn with_resolver(mut self, resolver: Resolver) -> Root {
        self.resolver = resolver;
        self
    }

    /// Also refuses lookups that cross a mount point (`RESOLVE_NO_XDEV`): for extraction roots,
    /// where nothing is mounted on purpose. The walk compares `st_dev`.
    pub fn no_xdev(mut self) -> Root {
        self.no_xdev = true;
        self
    }

    /// The resolver [`Root::open_at`] uses.
    pub fn resolver(&self) -> Resolver {
        self.resolver
    }

    fn walk(&self, path: &Path, follow_last: bool, missing: Missing) -> io::Result<Walked> {
        let opts = Opts {
            follow_last,
            missing,
            no_xdev: self.no_xdev,
        };
        walk(self.fd.as_fd(), self.dev, path, opts)
    }

    /// Opens `path` inside the root with `flags` (`O_NOFOLLOW` leaves a final symlink
    /// unfollowed, `O_CREAT` creates the last component in an existing directory with `mode`).
    pub fn open_at(&self, path: impl AsRef<Path>, flags: OFlag, mode: u32) -> io::Result<OwnedFd> {
        let path = path.as_ref();
        let mode = Mode::from_bits_truncate(mode);
        if self.resolver == Resolver::Openat2 {
            let rel = path.strip_prefix("/").unwrap_or(path);
            let rel = if rel.as_os_str().is_empty() {
                Path::new(".")
            } else {
                rel
            };
            match openat2_in_root(self.fd.as_fd(), rel, flags, mode, self.no_xdev) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
                r => return r,
            }
        }
        self.walk_open(path, flags, mode)
    }

    /// [`Root::open_at`] through the walk: resolve the parent, then open the last component
    /// with `O_NOFOLLOW`; if it became a symlink after the walk looked, walk again.
    fn walk_open(&self, path: &Path, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
        let exclusive = flags.contains(OFlag::O_CREAT | OFlag::O_EXCL);
        // Like open(2): O_CREAT|O_EXCL never follows a final symlink.
        let follow = !flags.contains(OFlag::O_NOFOLLOW) && !exclusive;
        let missing = if flags.contains(OFlag::O_CREAT) {
            Missing::Virtual
        } else {
            Missing::Fail
        };
        let mut last_err = ioe(nix::errno::Errno::ELOOP);
        for _ in 0..RETRIES {
            let w = self.walk(path, follow, missing)?;
            let Some((parent, name)) = w.parent_and_name() else {
                return open_child(self.fd.as_fd(), Path::new("."), flags, mode);
            };
            let parent = parent.ok_or_else(|| ioe(nix::errno::Errno::ENOENT))?;
            match open_child(parent, Path::new(name), flags, mode) {
                Ok(fd) if follow && kind(&stat(&fd)?) == libc::S_IFLNK => {}
                Err(e) if follow && e.raw_os_error() == Some(libc::ELOOP) => last_err = e,
                r => return r,
            }
        }
        Err(last_err)
    }

    /// Opens a directory inside the root for reading (and as a base for `*at` calls).
    pub fn open_dir(&self, path: impl AsRef<Path>) -> io::Result<OwnedFd> {
        self.open_at(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
    }

    /// Resolves `path` the way docker's `FollowSymlinkInScope` does: every symlink, the last
    /// one too, followed inside the root; a missing component and what follows it kept as
    /// named. Returns the resolved path and, when it exists, an `O_PATH` fd of it.
    pub fn resolve(&self, path: impl AsRef<Path>) -> io::Result<Resolved> {
        let w = self.walk(path.as_ref(), true, Missing::Virtual)?;
        let path = w.path();
        Ok(Resolved {
            path,
            fd: w.last_fd(),
        })
    }

    /// Creates `path` and its missing parents as directories (`mode`) inside the root,
    /// following symlinks inside it (a dangling one gets its target created); returns the
    /// directory opened for reading.
    pub fn mkdir_all(&self, path: impl AsRef<Path>, mode: u32) -> io::Result<OwnedFd> {
        let create = Missing::Create {
            dir: mode,
            file: None,
        };
        self.create_and_open(path.as_ref(), create, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
    }

    /// Creates missing parents of `path` as directories (`dir_mode`) and `path` itself as an
    /// empty file (`file_mode`) unless something exists there; returns an `O_PATH` fd of what
    /// is there (a file bind mount's mount point).
    pub fn create_file_all(
        &self,
        path: impl AsRef<Path>,
        dir_mode: u32,
        file_mode: u32,
    ) -> io::Result<OwnedFd> {
        let create = Missing::Create {
            dir: dir_mode,
            file: Some(file_mode),
        };
        self.create_and_open(path.as_ref(), create, OFlag::O_PATH)
    }

    fn create_and_open(&self, path: &Path, create: Missing, flags: OFlag) -> io::Result<OwnedFd> {
        let mut last_err = ioe(nix::errno::Errno::ELOOP);
        for _ in 0..RETRIES {
            let w = self.walk(path, true, create)?;
            let Some((Some(parent), name)) = w.parent_and_name() else {
                return open_child(self.fd.as_fd(), Path::new("."), flags, Mode::empty());
            };
            match open_child(parent, Path::new(name), flags, Mode::empty()) {
                Ok(fd) if kind(&stat(&fd)?) == libc::S_IFLNK => {}
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => last_err = e,
                r => return r,
            }
        }
        Err(last_err)
    }

    /// The parent directory of `path` resolved inside the root (`O_PATH`), and the last name,
    /// which is not looked at (for creating, renaming or removing it). `None` for the root.
    pub fn open_parent(&self, path: impl AsRef<Path>) -> io::Result<(OwnedFd, Option<OsString>)> {
        let (parent, name) = crate::clean::split(path);
        let fd = self.open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)?;
        Ok((fd, name))
    }

    /// Reads the file at `path` inside the root (symlinks followed inside it), at most `limit`
    /// bytes (`EFBIG` beyond). `None` when it does not exist.
    pub fn read(&self, path: impl AsRef<Path>, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let fd = match self.open_at(path, OFlag::O_RDONLY, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut buf = Vec::new();
        std::fs::File::from(fd)
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)?;
        if buf.len() as u64 > limit {
            return Err(ioe(nix::errno::Errno::EFBIG));
        }
        Ok(Some(buf))
    }
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
