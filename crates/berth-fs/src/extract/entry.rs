//! One tar entry: its name cleaned and checked, its parent resolved, then one function per
//! entry kind.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use tar::EntryType;

use super::meta::Meta;
use super::{clean_entry, join, ExtractError, Extractor, Whiteouts, WHITEOUT_PREFIX};
use crate::ops;

/// What every kind handler gets: the entry's name as shown in errors, its full components
/// inside the root, its parent directory fd and last name.
pub(super) struct Target<'a> {
    pub shown: &'a str,
    pub full: &'a [OsString],
    pub parent: BorrowedFd<'a>,
    pub name: &'a OsStr,
}

impl Target<'_> {
    pub(super) fn wr(&self) -> impl Fn(io::Error) -> ExtractError + '_ {
        |source| ExtractError::Write {
            path: self.shown.to_owned(),
            source,
        }
    }
}

fn is_file(kind: EntryType) -> bool {
    matches!(
        kind,
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
    )
}

impl Extractor<'_> {
    /// Extracts one entry.
    pub fn entry<R: Read>(&mut self, mut e: tar::Entry<'_, R>) -> Result<(), ExtractError> {
        self.stats.entries += 1;
        let raw_name = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let comps = clean_entry(&raw_name).ok_or_else(|| ExtractError::Escape(shown.clone()))?;
        let meta = self.meta(&mut e).map_err(ExtractError::Read)?;
        let kind = e.header().entry_type();
        let cached = self.parent_cache.take();
        let full = self.full(&comps);
        let Some((name, parent)) = full.split_last().filter(|_| !comps.is_empty()) else {
            return self.dest_entry(kind, &meta, &shown);
        };
        let name_bytes = name.as_bytes();
        if self.opts.whiteouts != Whiteouts::Plain {
            if let Some(target) = name_bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
                return self.whiteout(parent, name_bytes, target, &shown);
            }
        }
        let pdir = match cached.filter(|(p, _)| is_file(kind) && p.as_slice() == parent) {
            Some((_, fd)) => fd,
            None => self
                .ensure_dir(parent)
                .map_err(|source| ExtractError::Write {
                    path: shown.clone(),
                    source,
                })?,
        };
        let t = Target {
            shown: &shown,
            full: &full,
            parent: pdir.as_fd(),
            name,
        };
        let created = self.by_kind(&mut e, kind, &t, &meta)?;
        if is_file(kind) {
            self.parent_cache = Some((parent.to_vec(), pdir));
        }
        if created && self.opts.whiteouts == Whiteouts::Apply {
            self.written.insert(full);
        }
        Ok(())
    }

    /// Dispatches on the entry kind; `false` when nothing was created.
    fn by_kind<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        kind: EntryType,
        t: &Target<'_>,
        meta: &Meta,
    ) -> Result<bool, ExtractError> {
        match kind {
            EntryType::Directory => self.dir(t, meta)?,
            k if is_file(k) => self.file(e, t, meta)?,
            EntryType::Symlink => self.symlink(&link_name(e), t, meta)?,
            EntryType::Link => self.hardlink(&link_name(e), t)?,
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return self.device(e.header(), kind, t, meta)
            }
            other => {
                tracing::debug!(entry = %t.shown, kind = ?other, "skipping unsupported tar entry type");
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The `.` entry: only its metadata, and only when asked.
    fn dest_entry(
        &mut self,
        kind: EntryType,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ExtractError> {
        if kind == EntryType::Directory && self.opts.dest_meta {
            let wr = |source| ExtractError::Write {
                path: shown.to_owned(),
                source,
            };
            let fd = self.root.open_dir(join(&self.dest)).map_err(wr)?;
            self.set_meta_fd(fd.as_fd(), meta).map_err(wr)?;
            self.dir_times.push((self.dest.clone(), meta.mtime));
        }
        Ok(())
    }

    fn dir(&mut self, t: &Target<'_>, meta: &Meta) -> Result<(), ExtractError> {
        let wr = t.wr();
        match ops_lstat(t.parent, t.name).map_err(&wr)? {
            Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
            Some(_) => {
                self.make_room(t, true)?;
                ops::mkdir_at(t.parent, t.name, 0o700).map_err(&wr)?;
            }
            None => ops::mkdir_at(t.parent, t.name, 0o700).map_err(&wr)?,
        }
        let fd =
            ops::open_at(t.parent, t.name, libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(&wr)?;
        self.set_meta_fd(fd.as_fd(), meta).map_err(&wr)?;
        self.dir_times.push((t.full.to_vec(), meta.mtime));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        t: &Target<'_>,
        meta: &Meta,
    ) -> Result<(), ExtractError> {
        let wr = t.wr();
        // Create exclusively (never through an existing symlink); only when something is in
        // the way clear it and retry: one syscall less per new file.
        let create = || {
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
            ops::open_at(t.parent, t.name, flags, 0o600)
        };
        let fd = match create() {
            Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {
                self.make_room(t, false)?;
                create()
            }
            other => other,
        }
        .map_err(&wr)?;
        let mut f = File::from(fd);
        loop {
            let n = e.read(&mut self.buf).map_err(ExtractError::Read)?;
            if n == 0 {
                break;
            }
            f.write_all(&self.buf[..n]).map_err(&wr)?;
            self.stats.content_bytes += n as u64;
        }
        self.set_meta_fd(f.as_fd(), meta).map_err(&wr)?;
        ops::set_mtime_fd(f.as_fd(), meta.mtime).map_err(&wr)
    }

    fn symlink(&mut self, target: &[u8], t: &Target<'_>, meta: &Meta) -> Result<(), ExtractError> {
        let wr = t.wr();
        self.make_room(t, false)?;
        ops::symlink_at(OsStr::from_bytes(target), t.parent, t.name).map_err(&wr)?;
        self.set_meta_at(t, meta, false).map_err(&wr)
    }

    /// A hard link to an earlier entry: the target is named relative to the destination, must
    /// stay below it, and is opened without following a final symlink (linking a symlink links
    /// the symlink, never what it points to).
    fn hardlink(&mut self, target: &[u8], t: &Target<'_>) -> Result<(), ExtractError> {
        let escape = || ExtractError::Escape(String::from_utf8_lossy(target).into_owned());
        let tcomps = clean_entry(target)
            .filter(|c| !c.is_empty())
            .ok_or_else(escape)?;
        let tfull = self.full(&tcomps);
        let wr = t.wr();
        let src = self
            .root
            .open_at(
                join(&tfull),
                crate::OFlag::O_PATH | crate::OFlag::O_NOFOLLOW,
                0,
            )
            .map_err(&wr)?;
        if tfull.as_slice() != t.full {
            self.make_room(t, false)?;
            ops::link_fd_at(src.as_fd(), t.parent, t.name).map_err(&wr)?;
        }
        Ok(())
    }

    /// Char and block devices (when allowed) and fifos; the 0:0 char device is an overlay
    /// whiteout, a deletion in Apply mode.
    fn device(
        &mut self,
        h: &tar::Header,
        kind: EntryType,
        t: &Target<'_>,
        meta: &Meta,
    ) -> Result<bool, ExtractError> {
        let major = h.device_major().ok().flatten().unwrap_or(0);
        let minor = h.device_minor().ok().flatten().unwrap_or(0);
        let fmt = match kind {
            EntryType::Char => libc::S_IFCHR,
            EntryType::Block => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        let whiteout_dev = kind == EntryType::Char && major == 0 && minor == 0;
        if kind != EntryType::Fifo && !whiteout_dev && !self.opts.allow_devices {
            return Err(ExtractError::Device(t.shown.to_owned()));
        }
        let wr = t.wr();
        self.make_room(t, false)?;
        if whiteout_dev && self.opts.whiteouts == Whiteouts::Apply {
            return Ok(false); // the removal above is the whole effect
        }
        match ops::mknod_at(t.parent, t.name, fmt | (meta.mode & 0o7777), major, minor) {
            Err(e)
                if self.opts.skip_unpermitted_devices && e.raw_os_error() == Some(libc::EPERM) =>
            {
                tracing::debug!(entry = %t.shown, "device node not permitted: skipped");
                return Ok(false);
            }
            r => r.map_err(&wr)?,
        }
        self.set_meta_at(t, meta, true).map_err(&wr)?;
        Ok(true)
    }

    /// Clears the way for a new entry: an existing directory stays for a directory, anything
    /// else is removed (recursively, through fds), unless `no_overwrite_dir_non_dir` forbids
    /// the swap.
    fn make_room(&self, t: &Target<'_>, is_dir: bool) -> Result<(), ExtractError> {
        let wr = t.wr();
        if self.opts.no_overwrite_dir_non_dir {
            if let Some(st) = ops_lstat(t.parent, t.name).map_err(&wr)? {
                let existing_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
                if existing_dir != is_dir {
                    let name = t.name.to_string_lossy();
                    return Err(ExtractError::Overwrite(if is_dir {
                        format!("cannot overwrite non-directory \"{name}\" with directory")
                    } else {
                        format!("cannot overwrite directory \"{name}\" with non-directory")
                    }));
                }
            }
        }
        ops::remove_all_at(t.parent, t.name).map_err(wr)
    }
}

/// `lstat` of `name` in `dir`, `None` when it does not exist.
fn ops_lstat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<libc::stat>> {
    match crate::lstat_at(dir, Some(name)) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn link_name<R: Read>(e: &tar::Entry<'_, R>) -> Vec<u8> {
    e.link_name_bytes()
        .map(|c| c.into_owned())
        .unwrap_or_default()
}
