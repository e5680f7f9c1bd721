//! Single-component operations relative to a directory fd already resolved inside a root:
//! none of them follows a symlink in the name they are given.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};

use crate::sys::{ioe, open_child};

pub use nix::sys::stat::FileStat;

/// `lstat` of `name` in `dir` (`None`: `fstat` of the fd itself, whatever it is).
pub fn lstat_at(dir: impl AsFd, name: Option<&OsStr>) -> io::Result<FileStat> {
    match name {
        Some(name) => fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(ioe),
        None => crate::sys::stat(dir),
    }
}

/// Opens `name` in `dir` without following a symlink there (`None`: `dir` itself again).
pub fn open_child_at(dir: impl AsFd, name: Option<&OsStr>, flags: OFlag) -> io::Result<OwnedFd> {
    let name = name.unwrap_or(OsStr::new("."));
    open_child(dir.as_fd(), name.as_ref(), flags, Mode::empty())
}

/// The target of the symlink `name` in `dir`, as bytes (never resolved here).
pub fn read_link_at(dir: impl AsFd, name: &OsStr) -> io::Result<OsString> {
    nix::fcntl::readlinkat(dir.as_fd(), name).map_err(ioe)
}

/// A directory's entry names (without `.` and `..`), sorted, read through a fresh fd of it.
pub fn list_dir(dir: impl AsFd) -> io::Result<Vec<OsString>> {
    let fd = open_child_at(dir, None, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let mut d = nix::dir::Dir::from_fd(fd).map_err(ioe)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.map_err(ioe)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}
