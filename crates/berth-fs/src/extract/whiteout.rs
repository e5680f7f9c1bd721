//! OCI whiteouts: converted to overlayfs' form or applied as deletions.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use super::{ExtractError, Extractor, Whiteouts, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
use crate::ops;

impl Extractor<'_> {
    /// `.wh.NAME` in `parent` (full components), `target` being NAME.
    pub(super) fn whiteout(
        &mut self,
        parent: &[OsString],
        name: &[u8],
        target: &[u8],
        shown: &str,
    ) -> Result<(), ExtractError> {
        let wr = |source| ExtractError::Write {
            path: shown.to_owned(),
            source,
        };
        if name == WHITEOUT_OPAQUE.as_bytes() {
            return self.opaque(parent).map_err(wr);
        }
        if target.is_empty()
            || target == b"."
            || target == b".."
            || target.starts_with(WHITEOUT_PREFIX.as_bytes())
        {
            return Err(ExtractError::BadWhiteout(shown.to_owned()));
        }
        let pdir = self.ensure_dir(parent).map_err(wr)?;
        let target = OsStr::from_bytes(target);
        ops::remove_all_at(pdir.as_fd(), target).map_err(wr)?;
        if self.opts.whiteouts == Whiteouts::Overlay {
            ops::mknod_at(pdir.as_fd(), target, libc::S_IFCHR, 0, 0).map_err(wr)?;
        }
        Ok(())
    }

    /// The opaque marker: an xattr on the directory (Overlay), or everything in it that this
    /// archive did not write removed (Apply).
    fn opaque(&mut self, parent: &[OsString]) -> io::Result<()> {
        let pdir = self.ensure_dir(parent)?;
        if self.opts.whiteouts == Whiteouts::Overlay {
            return ops::set_xattr_fd(pdir.as_fd(), self.opts.opaque_xattr, b"y");
        }
        for child in crate::list_dir(pdir.as_fd())? {
            let mut p = parent.to_vec();
            p.push(child.clone());
            if !self.written.contains(&p) {
                ops::remove_all_at(pdir.as_fd(), &child)?;
            }
        }
        Ok(())
    }
}
