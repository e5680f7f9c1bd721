//! The userspace resolver: one component at a time from a directory fd, the way
//! `RESOLVE_IN_ROOT` resolves, for kernels without openat2 and for what openat2 cannot do
//! (create missing directories, name the resolved path).
//!
//! A stack holds the fds of the directories walked so far: `..` pops it (never below the
//! root), an absolute symlink restarts at the root, a relative one continues from the directory
//! holding it. Each step opens with `O_PATH | O_NOFOLLOW` and reads a symlink from the very
//! inode it opened, so a concurrent swap cannot redirect us: at worst we resolve a path that
//! existed inside the root at some moment.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{fchmod, mkdirat, Mode};

use crate::sys::{ioe, is_procfs, kind, open_child, stat, RETRIES};

/// Same limit as the kernel's MAXSYMLINKS.
const MAX_SYMLINKS: usize = 40;

/// What the walk does with a component that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Fail with `ENOENT`.
    Fail,
    /// Keep going lexically (docker's `FollowSymlinkInScope`): the rest is named, not opened.
    Virtual,
    /// Create missing directories with this mode; the last component too, as an empty file
    /// with `file` mode when that is set.
    Create { dir: u32, file: Option<u32> },
}

/// How to walk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opts {
    /// Follow a symlink in the last component (`O_NOFOLLOW` semantics when false).
    pub follow_last: bool,
    pub missing: Missing,
    /// Refuse to cross onto another filesystem (`RESOLVE_NO_XDEV`, by `st_dev`).
    pub no_xdev: bool,
}

/// One resolved component: its name and, unless it does not exist, an `O_PATH` fd of it.
#[derive(Debug)]
pub(crate) struct Step {
    pub name: OsString,
    pub fd: Option<OwnedFd>,
}

/// The components a walk ended on, the root first (with an empty name).
#[derive(Debug)]
pub(crate) struct Walked {
    pub stack: Vec<Step>,
}

impl Walked {
    /// The resolved path inside the root, absolute.
    pub fn path(&self) -> PathBuf {
        let mut p = PathBuf::from("/");
        for s in &self.stack[1..] {
            p.push(&s.name);
        }
        p
    }

    /// The directory holding the last component and its name (`None`: the root itself).
    pub fn parent_and_name(&self) -> Option<(Option<BorrowedFd<'_>>, &OsStr)> {
        let n = self.stack.len();
        if n < 2 {
            return None;
        }
        let parent = self.stack[n - 2].fd.as_ref().map(AsFd::as_fd);
        Some((parent, self.stack[n - 1].name.as_os_str()))
    }

    /// The fd of the last component, if it exists.
    pub fn last_fd(self) -> Option<OwnedFd> {
        self.stack.into_iter().next_back().and_then(|s| s.fd)
    }
}

/// The non-empty, non-`.` components of a path, `..` kept.
fn components(path: &OsStr) -> VecDeque<OsString> {
    path.as_bytes()
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsStr::from_bytes(c).to_os_string())
        .collect()
}

/// Walks `path` from `root` (whose `st_dev` is `root_dev`).
pub(crate) fn walk(
    root: BorrowedFd<'_>,
    root_dev: u64,
    path: &Path,
    opts: Opts,
) -> io::Result<Walked> {
    let root_fd = root.try_clone_to_owned()?;
    let mut stack = vec![Step {
        name: OsString::new(),
        fd: Some(root_fd),
    }];
    let mut queue = components(path.as_os_str());
    let (mut links, mut creations) = (0usize, 0usize);
    while let Some(name) = queue.pop_front() {
        if name.as_bytes() == b".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let last = queue.is_empty();
        let Some(dir) = stack.last().and_then(|s| s.fd.as_ref()) else {
            // Below a missing directory everything is missing too.
            stack.push(Step { name, fd: None });
            continue;
        };
        let fd = match open_child(dir.as_fd(), Path::new(&name), OFlag::O_PATH, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => match opts.missing {
                Missing::Fail => return Err(e),
                Missing::Virtual => {
                    stack.push(Step { name, fd: None });
                    continue;
                }
                Missing::Create { dir: dmode, file } => {
                    creations += 1;
                    if creations > RETRIES + path.as_os_str().len() {
                        return Err(ioe(Errno::EAGAIN));
                    }
                    make(dir.as_fd(), &name, dmode, file.filter(|_| last))?;
                    queue.push_front(name);
                    continue;
                }
            },
            Err(e) => return Err(e),
        };
        let st = stat(&fd)?;
        if opts.no_xdev && st.st_dev != root_dev {
            return Err(ioe(Errno::EXDEV));
        }
        match kind(&st) {
            libc::S_IFLNK if !last || opts.follow_last => {
                links += 1;
                if links > MAX_SYMLINKS || is_procfs(&fd)? {
                    return Err(ioe(Errno::ELOOP));
                }
                let target = readlinkat(&fd, "").map_err(ioe)?;
                if target.as_bytes().starts_with(b"/") {
                    stack.truncate(1);
                }
                for c in components(&target).into_iter().rev() {
                    queue.push_front(c);
                }
            }
            libc::S_IFDIR => stack.push(Step { name, fd: Some(fd) }),
            _ if last => stack.push(Step { name, fd: Some(fd) }),
            _ => return Err(ioe(Errno::ENOTDIR)),
        }
    }
    Ok(Walked { stack })
}

/// Creates `name` in `dir`: an empty file (`file` mode) or a directory, with exactly that mode
/// whatever the process's umask (a daemon runs with a strict one, while what it creates in a
/// container's root must be usable by the container's users). `EEXIST` is fine (someone
/// created it meanwhile): the walk looks the name up again either way.
fn make(dir: BorrowedFd<'_>, name: &OsStr, dmode: u32, file: Option<u32>) -> io::Result<()> {
    let exact = |fd: OwnedFd, mode: u32| fchmod(&fd, Mode::from_bits_truncate(mode)).map_err(ioe);
    let res = match file {
        Some(fmode) => open_child(
            dir,
            Path::new(name),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDONLY,
            Mode::from_bits_truncate(fmode),
        )
        .and_then(|fd| exact(fd, fmode)),
        None => mkdirat(dir, name, Mode::from_bits_truncate(dmode))
            .map_err(ioe)
            .and_then(|()| {
                let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
                open_child(dir, Path::new(name), flags, Mode::empty())
            })
            .and_then(|fd| exact(fd, dmode)),
    };
    match res {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}
