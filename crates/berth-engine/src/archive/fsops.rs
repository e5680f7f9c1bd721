//! Path resolution and file operations that can never leave a container's root.
//!
//! Every path a user names is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! against a directory fd of the container's root: absolute symlinks and `..` stay inside it,
//! whatever the container swaps in meanwhile (the CVE-2018-15664 class). Below that, every
//! step is relative to an fd already held (`openat(…, O_NOFOLLOW)`, `fstatat(AT_SYMLINK_NOFOLLOW)`,
//! `fchown`/`fchmod` on the opened file), so no later lookup re-walks a path the container
//! could have changed.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::AtFlags;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, FileStat, Mode};

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

/// Resolves `path` inside `root` (symlinks followed but scoped to `root`).
pub fn resolve(root: impl AsFd, path: &str, flags: OFlag) -> io::Result<OwnedFd> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    loop {
        match openat2(root.as_fd(), rel, how) {
            // The kernel asks for a retry when a rename raced the walk.
            Err(nix::Error::EAGAIN) => continue,
            r => return r.map_err(ioe),
        }
    }
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
    let name = name.unwrap_or(".");
    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(ioe)
}

/// Opens `name` in `dir` without following a symlink there (`None`: `dir` itself again).
pub fn open_at(dir: impl AsFd, name: Option<&str>, flags: OFlag) -> io::Result<OwnedFd> {
    let name = name.unwrap_or(".");
    openat(
        dir,
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ioe)
}

/// The file type bits of a stat.
pub fn kind(st: &FileStat) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// Lists a directory's entry names (without `.` and `..`) through an fd of it.
pub fn list_dir(dir: impl AsFd) -> io::Result<Vec<Vec<u8>>> {
    let fd = open_at(dir, None, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let mut d = nix::dir::Dir::from_fd(fd).map_err(ioe)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.map_err(ioe)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    names.sort();
    Ok(names)
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
