//! Path resolution and file operations that can never leave a container's root.
//!
//! Every path a user names is resolved by berth-fs (`openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)`, or its userspace walk) against a directory fd of the container's root: absolute symlinks and `..` stay inside it,
//! whatever the container swaps in meanwhile (the CVE-2018-15664 class). Below that, every
//! step is relative to an fd already held (`openat(…, O_NOFOLLOW)`, `fstatat(AT_SYMLINK_NOFOLLOW)`,
//! `fchown`/`fchmod` on the opened file), so no later lookup re-walks a path the container
//! could have changed.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode};

/// nix errors as `io::Error`.
pub fn ioe(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Opens a directory on the host as the root of later resolutions (`O_PATH`).
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ioe)
}

/// Resolves `path` inside `root` (symlinks followed but scoped to `root`), through berth-fs
/// (openat2 `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, or its userspace walk on kernels
/// without it).
pub fn resolve(root: impl AsFd, path: &str, flags: OFlag) -> io::Result<OwnedFd> {
    let root = berth_fs::Root::from_fd(root.as_fd().try_clone_to_owned()?)?;
    root.open_at(path, flags, 0)
}

/// A cleaned absolute container path split into its parent directory and last name
/// (`/` has no name).
pub fn split(clean: &str) -> (&str, Option<&str>) {
    match clean.rsplit_once('/') {
        Some((_, "")) | None => ("/", None),
        Some(("", name)) => ("/", Some(name)),
        Some((parent, name)) => (parent, Some(name)),
    }
}

/// The parent directory of `clean` resolved in `root` (`O_PATH`), and the last name.
pub fn resolve_parent(root: impl AsFd, clean: &str) -> io::Result<(OwnedFd, Option<String>)> {
    let (parent, name) = split(clean);
    let fd = resolve(root, parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    Ok((fd, name.map(str::to_owned)))
}

/// `lstat` of `name` in `dir` (or of `dir` itself).
pub fn lstat_at(dir: impl AsFd, name: Option<&str>) -> io::Result<FileStat> {
    berth_fs::lstat_at(dir, name.map(OsStr::new))
}

/// Opens `name` in `dir` without following a symlink there (`None`: `dir` itself again).
pub fn open_at(dir: impl AsFd, name: Option<&str>, flags: OFlag) -> io::Result<OwnedFd> {
    berth_fs::open_child_at(dir, name.map(OsStr::new), flags)
}

/// The file type bits of a stat.
pub fn kind(st: &FileStat) -> u32 {
    berth_fs::kind(st)
}

/// Lists a directory's entry names (without `.` and `..`, sorted) through an fd of it.
pub fn list_dir(dir: impl AsFd) -> io::Result<Vec<Vec<u8>>> {
    Ok(berth_fs::list_dir(dir)?
        .into_iter()
        .map(std::ffi::OsString::into_vec)
        .collect())
}

/// Bytes as an `OsStr` name.
pub fn os(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}

/// Go's `os.FileMode` bits for a stat (what `X-Docker-Container-Path-Stat` carries).
pub fn go_mode(st: &FileStat) -> u32 {
    let mut m = st.st_mode & 0o777;
    m |= match kind(st) {
        libc::S_IFDIR => 1 << 31,
        libc::S_IFLNK => 1 << 27,
        libc::S_IFIFO => 1 << 25,
        libc::S_IFSOCK => 1 << 24,
        libc::S_IFBLK => 1 << 26,
        libc::S_IFCHR => (1 << 26) | (1 << 21),
        _ => 0,
    };
    if st.st_mode & libc::S_ISUID != 0 {
        m |= 1 << 23;
    }
    if st.st_mode & libc::S_ISGID != 0 {
        m |= 1 << 22;
    }
    if st.st_mode & libc::S_ISVTX != 0 {
        m |= 1 << 20;
    }
    m
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(split("/"), ("/", None));
        assert_eq!(split("/a"), ("/", Some("a")));
        assert_eq!(split("/a/b"), ("/a", Some("b")));
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside").unwrap();
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("dots")).unwrap();
        let r = open_root(&root).unwrap();
        for p in ["/up/etc/passwd", "/dots/etc/passwd", "/../../etc/passwd"] {
            let fd = resolve(&r, p, OFlag::O_RDONLY).unwrap();
            let s = std::fs::read_to_string(format!("/proc/self/fd/{}", {
                use std::os::fd::AsRawFd;
                fd.as_raw_fd()
            }))
            .unwrap();
            assert_eq!(s, "inside", "{p}");
        }
    }
}
