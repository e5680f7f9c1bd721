//! The filesystem primitives of layer unpacking and layer diffs, all from berth-fs: paths are
//! resolved by [`berth_fs::Root`] (openat2 `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV`, or its userspace walk), last components handled by `berth_fs::ops`,
//! which never follow a symlink. The adapters below keep the shapes this crate's callers use.

use std::ffi::OsStr;
use std::io;
use std::os::fd::BorrowedFd;

pub(crate) use berth_fs::ops::*;
pub(crate) use berth_fs::{list_dir as read_dir_names, read_link_at};

/// `lstat` of `name` in `dir` without following it; `Ok(None)` when absent.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<libc::stat>> {
    match berth_fs::lstat_at(dir, Some(name)) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens `root` as an extraction root: lookups stay inside it and never cross a mount.
pub(crate) fn open_root(root: &std::path::Path) -> io::Result<berth_fs::Root> {
    Ok(berth_fs::Root::open(root)?.no_xdev())
}
