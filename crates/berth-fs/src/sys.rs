//! The few syscalls the resolvers need, as `io::Result`s.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, FileStat, Mode};

/// nix errors as `io::Error` (the errno is what callers match on).
pub(crate) fn ioe(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// How many times a lookup that a concurrent rename disturbed (`EAGAIN` from openat2, a final
/// component swapped for a symlink under the walk) is retried before giving up.
pub(crate) const RETRIES: usize = 32;

/// Whether this kernel has openat2 (Linux 5.6+); probed once. A seccomp filter that answers
/// `ENOSYS` counts as "no".
pub fn openat2_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT);
        !matches!(
            openat2(nix::fcntl::AT_FDCWD, "/", how),
            Err(Errno::ENOSYS) | Err(Errno::EPERM)
        )
    })
}

/// `openat2(dir, rel, flags, mode)` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (and
/// `RESOLVE_NO_XDEV` when asked), retried while the kernel reports a racing rename.
pub(crate) fn openat2_in_root(
    dir: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlag,
    mode: Mode,
    no_xdev: bool,
) -> io::Result<OwnedFd> {
    let mut resolve = ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    if no_xdev {
        resolve |= ResolveFlag::RESOLVE_NO_XDEV;
    }
    let mut how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(resolve);
    if flags.intersects(OFlag::O_CREAT | OFlag::O_TMPFILE) {
        how = how.mode(mode);
    }
    let mut last = Errno::EAGAIN;
    for _ in 0..RETRIES {
        match openat2(dir, rel, how) {
            Err(e @ (Errno::EAGAIN | Errno::EINTR)) => last = e,
            r => return r.map_err(ioe),
        }
    }
    Err(ioe(last))
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`: one component, never a symlink.
pub(crate) fn open_child(
    dir: BorrowedFd<'_>,
    name: &Path,
    flags: OFlag,
    mode: Mode,
) -> io::Result<OwnedFd> {
    openat(
        dir,
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(ioe)
}

/// `fstat` of an fd.
pub(crate) fn stat(fd: impl AsFd) -> io::Result<FileStat> {
    fstat(fd.as_fd()).map_err(ioe)
}

/// The file type bits of a stat.
pub fn kind(st: &FileStat) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// Whether an `O_PATH` fd of a symlink is a procfs link. The kernel's magic links
/// (`/proc/self/root`, `/proc/<pid>/fd/N`, `cwd`, `exe`) only live in procfs and do not resolve
/// by their text, so the walk refuses every procfs symlink with `ELOOP`, the answer
/// `RESOLVE_NO_MAGICLINKS` gives for magic ones.
pub(crate) fn is_procfs(fd: impl AsFd) -> io::Result<bool> {
    let st = nix::sys::statfs::fstatfs(fd.as_fd()).map_err(ioe)?;
    Ok(st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}
