//! Directory-fd based filesystem primitives for extracting untrusted trees.
//!
//! Every path is resolved relative to an open directory fd with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)`, so a symlink planted by
//! a layer resolves inside the layer directory, never outside it; final components are created
//! with `*at` calls that do not follow symlinks. Nothing here joins strings into host paths.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Resolution flags used for every lookup inside an extraction root.
pub(crate) const RESOLVE: u64 =
    libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_XDEV;

pub(crate) fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `struct open_how` from `linux/openat2.h` (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dir, path, flags, mode)` with [`RESOLVE`] semantics; `path` is relative to `dir`,
/// which acts as `/` for absolute symlinks and `..`.
pub(crate) fn open_in_root(
    dir: BorrowedFd<'_>,
    path: &OsStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let p = cstr(if path.is_empty() {
        OsStr::new(".")
    } else {
        path
    })?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve: RESOLVE,
    };
    loop {
        // SAFETY: `p` is a valid NUL-terminated string and `how` a valid open_how of the size
        // passed; the kernel does not retain either pointer.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if ret >= 0 {
            // SAFETY: the syscall returned a new fd that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EAGAIN) && e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Open a directory inside `root` for reading (and as a base for `*at` calls).
pub(crate) fn open_dir(root: BorrowedFd<'_>, path: &OsStr) -> io::Result<OwnedFd> {
    open_in_root(root, path, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Open `components` as a directory under `root`, creating missing directories (mode 0755)
/// one level at a time. Every step is resolved from `root` with [`RESOLVE`].
pub(crate) fn ensure_dir(root: BorrowedFd<'_>, components: &[OsString]) -> io::Result<OwnedFd> {
    let full = join(components);
    match open_dir(root, &full) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let mut parent = open_dir(root, OsStr::new("."))?;
    for i in 0..components.len() {
        let prefix = join(&components[..=i]);
        match open_dir(root, &prefix) {
            Ok(fd) => parent = fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                mkdir_at(parent.as_fd_ref(), &components[i], 0o755).or_else(ignore_exists)?;
                parent = open_dir(root, &prefix)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(parent)
}

trait AsFdRef {
    fn as_fd_ref(&self) -> BorrowedFd<'_>;
}

impl AsFdRef for OwnedFd {
    fn as_fd_ref(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

fn ignore_exists(e: io::Error) -> io::Result<()> {
    if e.raw_os_error() == Some(libc::EEXIST) {
        Ok(())
    } else {
        Err(e)
    }
}

/// Join components with `/` into a path relative to a root fd (never used against the host).
pub(crate) fn join(components: &[OsString]) -> OsString {
    let mut out = OsString::new();
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push("/");
        }
        out.push(c);
    }
    out
}

/// `mkdirat(dir, name, mode)`.
pub(crate) fn mkdir_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated name.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), mode) }).map(drop)
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)` for a single final component.
pub(crate) fn open_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated name; O_NOFOLLOW keeps a planted symlink from redirecting us.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            n.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    })?;
    // SAFETY: openat returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `Ok(None)` when absent.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<libc::stat>> {
    let n = cstr(name)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid fd, NUL-terminated name and a writable stat buffer.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            n.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENOENT) {
            Ok(None)
        } else {
            Err(e)
        };
    }
    // SAFETY: fstatat succeeded and filled the buffer.
    Ok(Some(unsafe { st.assume_init() }))
}

/// `fstat(fd)`.
#[allow(dead_code)]
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid fd and writable buffer.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded.
    Ok(unsafe { st.assume_init() })
}

/// Remove `name` in `dir` whatever it is (directories recursively, via fds, never following symlinks).
pub(crate) fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and name.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOENT) => return Ok(()),
        Some(libc::EISDIR) => {}
        _ => return Err(e),
    }
    let sub = open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    for child in read_dir_names(std::os::fd::AsFd::as_fd(&sub))? {
        remove_all_at(std::os::fd::AsFd::as_fd(&sub), &child)?;
    }
    // SAFETY: valid fd and name.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), libc::AT_REMOVEDIR) }).map(drop)
}

/// Names in a directory (without `.` and `..`), read through a dup of `dir`.
pub(crate) fn read_dir_names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let dup = open_at(dir, OsStr::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut d = nix::dir::Dir::from_fd(dup).map_err(io::Error::from)?;
    let mut out = Vec::new();
    for ent in d.iter() {
        let ent = ent.map_err(io::Error::from)?;
        let name = ent.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_owned());
        }
    }
    Ok(out)
}

/// `mknodat(dir, name, mode, dev)`.
pub(crate) fn mknod_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let n = cstr(name)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: valid fd and name.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), n.as_ptr(), mode, dev) }).map(drop)
}

/// `symlinkat(target, dir, name)`: the link's content is data, never resolved here.
pub(crate) fn symlink_at(target: &OsStr, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let t = cstr(target)?;
    let n = cstr(name)?;
    // SAFETY: valid strings and fd.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) }).map(drop)
}

/// Hard-link the object behind `src` (an `O_PATH` fd, possibly a symlink) as `dir/name`.
pub(crate) fn link_fd_at(src: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fds, empty source path with AT_EMPTY_PATH links the fd's inode itself.
    cvt(unsafe {
        libc::linkat(
            src.as_raw_fd(),
            c"".as_ptr(),
            dir.as_raw_fd(),
            n.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)` (lchown relative to a dir fd).
pub(crate) fn lchown_at(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and name.
    cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            n.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `fchown(fd)`.
pub(crate) fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid fd.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// `fchmod(fd)`, including setuid/setgid/sticky bits.
pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: valid fd.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode & 0o7777) }).map(drop)
}

/// `fchmodat(dir, name)` for non-symlinks that cannot be opened (devices, fifos).
pub(crate) fn chmod_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and name; callers only use it on just-created non-symlinks.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), n.as_ptr(), mode & 0o7777, 0) }).map(drop)
}

fn times(mtime: i64) -> [libc::timespec; 2] {
    let t = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    [t, t]
}

/// Set atime and mtime of `dir/name` without following symlinks.
pub(crate) fn set_mtime_at(dir: BorrowedFd<'_>, name: &OsStr, mtime: i64) -> io::Result<()> {
    let n = cstr(name)?;
    let ts = times(mtime);
    // SAFETY: valid fd, name and a two-element timespec array.
    cvt(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            n.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// Set atime and mtime of an open file or directory.
pub(crate) fn set_mtime_fd(fd: BorrowedFd<'_>, mtime: i64) -> io::Result<()> {
    let ts = times(mtime);
    // SAFETY: valid fd and a two-element timespec array.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) }).map(drop)
}

/// `fsetxattr(fd, name, value)`.
pub(crate) fn set_xattr_fd(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let n = cstr(OsStr::new(name))?;
    // SAFETY: valid fd, name and value buffer of the given length.
    cvt(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

/// `lsetxattr` on `dir/name` (for symlinks, which cannot be opened), addressed through
/// `/proc/self/fd/<dir>/<name>` so the directory is the verified fd, not a host path.
pub(crate) fn set_xattr_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    key: &str,
    value: &[u8],
) -> io::Result<()> {
    let mut p = OsString::from(format!("/proc/self/fd/{}/", dir.as_raw_fd()));
    p.push(name);
    let p = cstr(&p)?;
    let k = cstr(OsStr::new(key))?;
    // SAFETY: valid strings and value buffer; lsetxattr does not follow the final symlink.
    cvt(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

/// Read an xattr of an open fd; `Ok(None)` when it is not set.
pub(crate) fn get_xattr_fd(fd: BorrowedFd<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
    let n = cstr(OsStr::new(name))?;
    let mut buf = vec![0u8; 256];
    // SAFETY: valid fd, name and writable buffer of the given length.
    let r = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(None),
            _ => Err(e),
        };
    }
    buf.truncate(r as usize);
    Ok(Some(buf))
}

/// All extended attributes of an open file or directory.
pub(crate) fn list_xattrs_fd(fd: BorrowedFd<'_>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    // SAFETY: valid fd and writable buffer of the given length.
    let n = unsafe { libc::flistxattr(fd.as_raw_fd(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENOTSUP) {
            Ok(Vec::new())
        } else {
            Err(e)
        };
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let cname = cstr(OsStr::new(name))?;
        let mut val = vec![0u8; 65536];
        // SAFETY: valid fd, name and buffer.
        let len = unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                cname.as_ptr(),
                val.as_mut_ptr().cast(),
                val.len(),
            )
        };
        if len < 0 {
            continue;
        }
        val.truncate(len as usize);
        out.push((name.to_owned(), val));
    }
    Ok(out)
}

/// `readlinkat(dir, name)`.
pub(crate) fn read_link_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OsString> {
    let n = cstr(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: valid fd, name and buffer.
    let len = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(len as usize);
    Ok(OsString::from_vec(buf))
}
