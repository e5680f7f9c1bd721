//! Ownership, mode, times and xattrs of extracted entries.

use std::io::{self, Read};
use std::os::fd::BorrowedFd;

use super::entry::Target;
use super::{Extractor, Owner};
use crate::ops;

/// An entry's metadata as the archive gives it.
pub(super) struct Meta {
    uid: u32,
    gid: u32,
    pub mode: u32,
    pub mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Extractor<'_> {
    pub(super) fn meta<R: Read>(&self, e: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
        let h = e.header();
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mode = h.mode().unwrap_or(0o644);
        let mtime = h.mtime().unwrap_or(0) as i64;
        let mut xattrs = Vec::new();
        if self.opts.xattrs {
            if let Some(exts) = e.pax_extensions()? {
                for ext in exts {
                    let ext = ext?;
                    let Ok(key) = ext.key() else { continue };
                    let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
                        continue;
                    };
                    if (self.opts.skip_xattr)(name) {
                        continue;
                    }
                    xattrs.push((name.to_owned(), ext.value_bytes().to_vec()));
                }
            }
        }
        Ok(Meta {
            uid,
            gid,
            mode,
            mtime,
            xattrs,
        })
    }

    /// The owner an entry gets, `None` to leave it alone.
    fn owner(&self, m: &Meta) -> io::Result<Option<(u32, u32)>> {
        Ok(match self.opts.owner {
            Owner::Ignore => None,
            Owner::Keep => Some((m.uid, m.gid)),
            Owner::Fixed(u, g) => Some((u, g)),
            Owner::Map(f) => Some(f(m.uid, m.gid)?),
        })
    }

    fn chown_result(&self, r: io::Result<()>, uid: u32, gid: u32) -> io::Result<()> {
        match r {
            Err(e)
                if self.opts.tolerate_chown
                    && matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EPERM)) =>
            {
                tracing::debug!(uid, gid, "ownership not kept ({e})");
                Ok(())
            }
            r => r,
        }
    }

    /// Owner, mode and xattrs through the entry's own fd (files and directories).
    pub(super) fn set_meta_fd(&self, fd: BorrowedFd<'_>, m: &Meta) -> io::Result<()> {
        if let Some((uid, gid)) = self.owner(m)? {
            self.chown_result(ops::fchown(fd, uid, gid), uid, gid)?;
        }
        ops::fchmod(fd, m.mode)?;
        for (k, v) in &m.xattrs {
            xattr_result(ops::set_xattr_fd(fd, k, v))?;
        }
        Ok(())
    }

    /// Owner, mode (`chmod`: devices and fifos only; symlinks have none), xattrs (symlinks)
    /// and times of an entry that cannot be opened, by name without following it.
    pub(super) fn set_meta_at(&self, t: &Target<'_>, m: &Meta, chmod: bool) -> io::Result<()> {
        if let Some((uid, gid)) = self.owner(m)? {
            let r = ops::lchown_at(t.parent, t.name, uid, gid);
            self.chown_result(r, uid, gid)?;
        }
        if chmod {
            ops::chmod_at(t.parent, t.name, m.mode)?;
        } else {
            for (k, v) in &m.xattrs {
                xattr_result(ops::set_xattr_at(t.parent, t.name, k, v))?;
            }
        }
        ops::set_mtime_at(t.parent, t.name, m.mtime)
    }
}

/// Filesystems without xattr support (or user xattrs on symlinks) are not fatal.
fn xattr_result(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => {
            tracing::warn!(error = %e, "dropping extended attribute");
            Ok(())
        }
        r => r,
    }
}
