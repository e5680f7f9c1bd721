//! The per-entry extraction logic behind [`super::apply`].

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use berth_fs::OFlag;
use tar::EntryType;

use super::fsops as fo;
use super::path::clean;
use super::{ApplyOptions, LayerError, WhiteoutMode, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

pub(super) struct Unpacker<'o> {
    root: berth_fs::Root,
    opts: &'o ApplyOptions,
    dir_times: Vec<(Vec<OsString>, i64)>,
    /// Paths written by this layer (copy mode: opaque dirs keep only these).
    written: HashSet<Vec<OsString>>,
    buf: Vec<u8>,
    /// The parent directory of the last regular file, reused by the next regular file in the
    /// same directory (layers list a directory's files together): saves a resolve + close per
    /// file. Any other entry kind may change the tree, so it drops the cache.
    parent_cache: Option<(Vec<OsString>, OwnedFd)>,
    pub(super) content_bytes: u64,
    pub(super) entries: u64,
}

struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl<'o> Unpacker<'o> {
    pub(super) fn new(target: &Path, opts: &'o ApplyOptions) -> Result<Self, LayerError> {
        let root = fo::open_root(target).map_err(|e| LayerError::Target(target.to_owned(), e))?;
        Ok(Unpacker {
            root,
            opts,
            dir_times: Vec::new(),
            written: HashSet::new(),
            buf: vec![0; 1 << 20],
            parent_cache: None,
            content_bytes: 0,
            entries: 0,
        })
    }

    pub(super) fn entry<R: Read>(&mut self, mut e: tar::Entry<'_, R>) -> Result<(), LayerError> {
        self.entries += 1;
        let raw_name = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let comps = clean(&raw_name).ok_or_else(|| LayerError::PathEscape(shown.clone()))?;
        let meta = self.meta(&mut e).map_err(LayerError::Read)?;
        let kind = e.header().entry_type();
        let is_file = matches!(
            kind,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
        );
        let cached = self.parent_cache.take();
        let wr = |source: io::Error| LayerError::Write {
            path: shown.clone(),
            source,
        };

        let Some((name, parent)) = comps.split_last() else {
            // The root directory itself: only its metadata applies.
            if kind == EntryType::Directory {
                let fd = self.root.open_dir(".").map_err(wr)?;
                self.set_meta_fd(fd.as_fd(), &meta).map_err(wr)?;
                self.dir_times.push((Vec::new(), meta.mtime));
            }
            return Ok(());
        };
        let name_bytes = name.as_bytes();
        if let Some(target) = name_bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            return self
                .whiteout(parent, name_bytes, target)
                .map_err(|err| match err {
                    WhiteoutErr::Bad => LayerError::BadWhiteout(shown.clone()),
                    WhiteoutErr::Io(source) => LayerError::Write {
                        path: shown.clone(),
                        source,
                    },
                });
        }
        let pdir = match cached.filter(|(p, _)| is_file && p.as_slice() == parent) {
            Some((_, fd)) => fd,
            None => self.ensure_dir(parent).map_err(wr)?,
        };
        let pfd = pdir.as_fd();
        match kind {
            EntryType::Directory => {
                match fo::lstat_at(pfd, name).map_err(wr)? {
                    Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
                    Some(_) => {
                        fo::remove_all_at(pfd, name).map_err(wr)?;
                        fo::mkdir_at(pfd, name, 0o700).map_err(wr)?;
                    }
                    None => fo::mkdir_at(pfd, name, 0o700).map_err(wr)?,
                }
                let fd =
                    fo::open_at(pfd, name, libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(wr)?;
                self.set_meta_fd(fd.as_fd(), &meta).map_err(wr)?;
                self.dir_times.push((comps.clone(), meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                // Create exclusively (never through an existing symlink); only when something
                // is in the way remove it and retry — one syscall less per new file.
                let create = || {
                    fo::open_at(
                        pfd,
                        name,
                        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                        0o600,
                    )
                };
                let fd = match create() {
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                        fo::remove_all_at(pfd, name).map_err(wr)?;
                        create()
                    }
                    other => other,
                }
                .map_err(wr)?;
                let mut f = File::from(fd);
                loop {
                    let n = e.read(&mut self.buf).map_err(LayerError::Read)?;
                    if n == 0 {
                        break;
                    }
                    f.write_all(&self.buf[..n]).map_err(wr)?;
                    self.content_bytes += n as u64;
                }
                self.set_meta_fd(f.as_fd(), &meta).map_err(wr)?;
                fo::set_mtime_fd(f.as_fd(), meta.mtime).map_err(wr)?;
            }
            EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                fo::remove_all_at(pfd, name).map_err(wr)?;
                fo::symlink_at(OsStr::from_bytes(&target), pfd, name).map_err(wr)?;
                if self.opts.same_owner {
                    let r = fo::lchown_at(pfd, name, meta.uid, meta.gid);
                    crate::rootless::tolerate_chown(r, meta.uid, meta.gid).map_err(wr)?;
                }
                for (k, v) in &meta.xattrs {
                    xattr_result(fo::set_xattr_at(pfd, name, k, v)).map_err(wr)?;
                }
                fo::set_mtime_at(pfd, name, meta.mtime).map_err(wr)?;
            }
            EntryType::Link => {
                let target = e
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let tcomps = clean(&target).filter(|c| !c.is_empty()).ok_or_else(|| {
                    LayerError::PathEscape(String::from_utf8_lossy(&target).into_owned())
                })?;
                let src = self
                    .root
                    .open_at(join(&tcomps), OFlag::O_PATH | OFlag::O_NOFOLLOW, 0)
                    .map_err(wr)?;
                if tcomps != comps {
                    fo::remove_all_at(pfd, name).map_err(wr)?;
                    fo::link_fd_at(src.as_fd(), pfd, name).map_err(wr)?;
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let major = e.header().device_major().ok().flatten().unwrap_or(0);
                let minor = e.header().device_minor().ok().flatten().unwrap_or(0);
                let fmt = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let whiteout_dev = kind == EntryType::Char && major == 0 && minor == 0;
                if kind != EntryType::Fifo && !whiteout_dev && !self.opts.allow_devices {
                    return Err(LayerError::DeviceNotAllowed(shown));
                }
                fo::remove_all_at(pfd, name).map_err(wr)?;
                if whiteout_dev && self.opts.whiteouts == WhiteoutMode::Apply {
                    return Ok(()); // an overlay-format whiteout: the removal above is the whole effect
                }
                match fo::mknod_at(pfd, name, fmt | (meta.mode & 0o7777), major, minor) {
                    Err(e) if crate::rootless::skip_device(&e) => {
                        tracing::debug!(entry = %shown, "rootless: device node skipped");
                        return Ok(());
                    }
                    r => r.map_err(wr)?,
                }
                if self.opts.same_owner {
                    let r = fo::lchown_at(pfd, name, meta.uid, meta.gid);
                    crate::rootless::tolerate_chown(r, meta.uid, meta.gid).map_err(wr)?;
                }
                fo::chmod_at(pfd, name, meta.mode).map_err(wr)?;
                fo::set_mtime_at(pfd, name, meta.mtime).map_err(wr)?;
            }
            other => {
                tracing::debug!(entry = %shown, kind = ?other, "skipping unsupported tar entry type");
                return Ok(());
            }
        }
        if is_file {
            self.parent_cache = Some((parent.to_vec(), pdir));
        }
        if self.opts.whiteouts == WhiteoutMode::Apply {
            self.written.insert(comps);
        }
        Ok(())
    }

    fn whiteout(
        &mut self,
        parent: &[OsString],
        name: &[u8],
        target: &[u8],
    ) -> Result<(), WhiteoutErr> {
        let pdir = self.ensure_dir(parent)?;
        if name == WHITEOUT_OPAQUE.as_bytes() {
            match self.opts.whiteouts {
                WhiteoutMode::Overlay => {
                    fo::set_xattr_fd(pdir.as_fd(), crate::rootless::opaque_xattr(), b"y")?
                }
                WhiteoutMode::Apply => {
                    for child in fo::read_dir_names(pdir.as_fd())? {
                        let mut p = parent.to_vec();
                        p.push(child.clone());
                        if !self.written.contains(&p) {
                            fo::remove_all_at(pdir.as_fd(), &child)?;
                        }
                    }
                }
            }
            return Ok(());
        }
        if target.is_empty()
            || target == b"."
            || target == b".."
            || target.starts_with(WHITEOUT_PREFIX.as_bytes())
        {
            return Err(WhiteoutErr::Bad);
        }
        let target = OsStr::from_bytes(target);
        fo::remove_all_at(pdir.as_fd(), target)?;
        if self.opts.whiteouts == WhiteoutMode::Overlay {
            fo::mknod_at(pdir.as_fd(), target, libc::S_IFCHR, 0, 0)?;
        }
        Ok(())
    }

    fn meta<R: Read>(&self, e: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
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
                    // overlayfs interprets these; a layer must never smuggle them in.
                    if crate::rootless::is_overlay_xattr(name) {
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

    /// Opens the directory `comps` for `*at` calls, creating what is missing (0755) inside
    /// the root; the common case (it exists) is one lookup.
    fn ensure_dir(&self, comps: &[OsString]) -> io::Result<OwnedFd> {
        let path = join(comps);
        match self.root.open_dir(&path) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.root.mkdir_all(&path, 0o755),
            r => r,
        }
    }

    fn set_meta_fd(&self, fd: BorrowedFd<'_>, m: &Meta) -> io::Result<()> {
        if self.opts.same_owner {
            crate::rootless::tolerate_chown(fo::fchown(fd, m.uid, m.gid), m.uid, m.gid)?;
        }
        fo::fchmod(fd, m.mode)?;
        for (k, v) in &m.xattrs {
            xattr_result(fo::set_xattr_fd(fd, k, v))?;
        }
        Ok(())
    }

    /// Directory mtimes last, after everything inside them has been written.
    pub(super) fn finish(&mut self) -> Result<(), LayerError> {
        for (comps, mtime) in self.dir_times.iter().rev() {
            let path = join(comps);
            let wr = |source| LayerError::Write {
                path: path.to_string_lossy().into_owned(),
                source,
            };
            // A later entry may have replaced the directory with something else.
            let Ok(fd) = self.root.open_dir(&path) else {
                continue;
            };
            fo::set_mtime_fd(fd.as_fd(), *mtime).map_err(wr)?;
        }
        Ok(())
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

/// Components joined into a path inside the root.
fn join(components: &[OsString]) -> OsString {
    let mut out = OsString::from("/");
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push("/");
        }
        out.push(c);
    }
    out
}

enum WhiteoutErr {
    Bad,
    Io(io::Error),
}

impl From<io::Error> for WhiteoutErr {
    fn from(e: io::Error) -> Self {
        WhiteoutErr::Io(e)
    }
}
