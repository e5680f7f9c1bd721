//! Writing a directory tree into a tar stream (commit layers, `export`), fd by fd.
//!
//! The tree may belong to a running container, so it is walked with `openat(O_NOFOLLOW)` on
//! directory fds: a symlink swapped in mid-walk is archived as a symlink, never followed.
//! In [`Whiteouts::FromOverlay`] mode an overlay upper dir becomes an OCI layer: char devices
//! 0:0 become `.wh.NAME` entries and opaque directories get a `.wh..wh..opq` entry.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tar::{EntryType, Header};

use crate::layer::fsops as fo;
use crate::layer::{WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

/// How to treat overlay whiteout markers found in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whiteouts {
    /// Convert overlay markers to OCI whiteout entries (commit).
    FromOverlay,
    /// Archive everything as it is (export of a merged root).
    Keep,
}

/// Append the contents of `root` (not `root` itself) to `builder`.
pub(crate) fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    mode: Whiteouts,
) -> io::Result<()> {
    append_tree_except(builder, root, mode, &HashSet::new())
}

/// [`append_tree`] leaving out `stubs` (relative paths like `etc/hosts`) where they are empty
/// files or empty directories: the mount points a runtime creates for bind mounts (docker
/// keeps them in a separate init layer, so they never reach a commit).
pub(crate) fn append_tree_except<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    mode: Whiteouts,
    stubs: &HashSet<String>,
) -> io::Result<()> {
    let dir = File::open(root)?;
    let mut links = HashMap::new();
    let mut w = Walk {
        mode,
        links: &mut links,
        stubs,
    };
    walk(builder, dir.as_fd(), "", &mut w)
}

/// State of one tree walk.
struct Walk<'a> {
    mode: Whiteouts,
    links: &'a mut HashMap<(u64, u64), String>,
    stubs: &'a HashSet<String>,
}

fn base_header(st: &libc::stat, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

fn pax_xattrs<W: Write>(b: &mut tar::Builder<W>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let xattrs: Vec<(String, Vec<u8>)> = fo::list_xattrs_fd(fd)?
        .into_iter()
        .filter(|(k, _)| !crate::rootless::is_overlay_xattr(k))
        .collect();
    if xattrs.is_empty() {
        return Ok(());
    }
    let keyed: Vec<(String, Vec<u8>)> = xattrs
        .into_iter()
        .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v))
        .collect();
    b.append_pax_extensions(keyed.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}

fn walk<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    prefix: &str,
    w: &mut Walk<'_>,
) -> io::Result<()> {
    let mut names = fo::read_dir_names(dir)?;
    names.sort();
    for name in names {
        entry(b, dir, &name, prefix, w, true)?;
    }
    Ok(())
}

/// Append selected paths of `root` (each non-recursively), e.g. the changes of a copy-mode
/// container. `deleted` paths become `.wh.` entries.
pub(crate) fn append_paths<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    paths: &[(String, bool)],
) -> io::Result<()> {
    let rootfd = fo::open_root(root)?;
    let mut links = HashMap::new();
    let none = HashSet::new();
    let mut w = Walk {
        mode: Whiteouts::Keep,
        links: &mut links,
        stubs: &none,
    };
    for (rel, deleted) in paths {
        let rel = rel.trim_start_matches('/');
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let prefix = if parent.is_empty() {
            String::new()
        } else {
            format!("{parent}/")
        };
        if *deleted {
            let mut h = Header::new_gnu();
            h.set_entry_type(EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(0);
            builder.append_data(
                &mut h,
                format!("{prefix}{WHITEOUT_PREFIX}{name}"),
                io::empty(),
            )?;
            continue;
        }
        let dir = rootfd.open_dir(parent)?;
        entry(
            builder,
            dir.as_fd(),
            OsStr::new(name),
            &prefix,
            &mut w,
            false,
        )?;
    }
    Ok(())
}

fn entry<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    prefix: &str,
    w: &mut Walk<'_>,
    recurse: bool,
) -> io::Result<()> {
    let mode = w.mode;
    let Some(st) = fo::lstat_at(dir, name)? else {
        return Ok(());
    };
    let path = format!("{prefix}{}", String::from_utf8_lossy(name.as_bytes()));
    let fmt = st.st_mode & libc::S_IFMT;
    if w.stubs.contains(&path) && is_stub(dir, name, fmt, &st)? {
        return Ok(());
    }
    if mode == Whiteouts::FromOverlay && fmt == libc::S_IFCHR && st.st_rdev == 0 {
        let mut h = base_header(&st, EntryType::Regular);
        h.set_mode(0o644);
        b.append_data(
            &mut h,
            format!(
                "{prefix}{WHITEOUT_PREFIX}{}",
                String::from_utf8_lossy(name.as_bytes())
            ),
            io::empty(),
        )?;
        return Ok(());
    }
    match fmt {
        libc::S_IFDIR => {
            let sub = fo::open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            pax_xattrs(b, sub.as_fd())?;
            let mut h = base_header(&st, EntryType::Directory);
            b.append_data(&mut h, format!("{path}/"), io::empty())?;
            if mode == Whiteouts::FromOverlay
                && fo::get_xattr_fd(sub.as_fd(), crate::rootless::opaque_xattr())?.as_deref()
                    == Some(b"y")
            {
                let mut h = base_header(&st, EntryType::Regular);
                h.set_mode(0o644);
                b.append_data(&mut h, format!("{path}/{WHITEOUT_OPAQUE}"), io::empty())?;
            }
            if recurse {
                walk(b, sub.as_fd(), &format!("{path}/"), w)?;
            }
        }
        libc::S_IFREG => {
            let key = (st.st_dev, st.st_ino);
            if st.st_nlink > 1 {
                if let Some(first) = w.links.get(&key) {
                    let mut h = base_header(&st, EntryType::Link);
                    b.append_link(&mut h, &path, first)?;
                    return Ok(());
                }
                w.links.insert(key, path.clone());
            }
            let f = File::from(fo::open_at(dir, name, libc::O_RDONLY, 0)?);
            pax_xattrs(b, f.as_fd())?;
            let mut h = base_header(&st, EntryType::Regular);
            let size = st.st_size as u64;
            h.set_size(size);
            // Exactly `size` bytes even if the file changes under us (zero-padded if it shrank).
            let data = f.take(size).chain(io::repeat(0)).take(size);
            b.append_data(&mut h, &path, data)?;
        }
        libc::S_IFLNK => {
            let target = fo::read_link_at(dir, name)?;
            let mut h = base_header(&st, EntryType::Symlink);
            b.append_link(&mut h, &path, Path::new(OsStr::new(&target)))?;
        }
        libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
            let kind = match fmt {
                libc::S_IFCHR => EntryType::Char,
                libc::S_IFBLK => EntryType::Block,
                _ => EntryType::Fifo,
            };
            let mut h = base_header(&st, kind);
            h.set_device_major(libc::major(st.st_rdev))?;
            h.set_device_minor(libc::minor(st.st_rdev))?;
            b.append_data(&mut h, &path, io::empty())?;
        }
        _ => {} // sockets are not archived
    }
    Ok(())
}

/// An empty regular file or an empty directory (a bind-mount target).
fn is_stub(dir: BorrowedFd<'_>, name: &OsStr, fmt: u32, st: &libc::stat) -> io::Result<bool> {
    Ok(match fmt {
        libc::S_IFREG => st.st_size == 0,
        libc::S_IFDIR => {
            let sub = fo::open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            fo::read_dir_names(sub.as_fd())?.is_empty()
        }
        _ => false,
    })
}
