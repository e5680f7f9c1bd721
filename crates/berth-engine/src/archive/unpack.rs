//! Extracting a tar stream into a container directory (`PUT /containers/{id}/archive`).
//!
//! Each entry's parent directory is resolved inside the container root (`RESOLVE_IN_ROOT`), and
//! the entry is created relative to that fd with `O_EXCL | O_NOFOLLOW` (or `mkdirat`,
//! `symlinkat`, `mknodat`); ownership, mode and times are then set through the new file's own
//! fd or with `AT_SYMLINK_NOFOLLOW`. A symlink the container swaps in can redirect an entry
//! only to another place inside its own root.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, futimens, makedev, mkdirat, mknodat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use tar::EntryType;

use super::fsops::{ioe, kind, lstat_at, open_at, resolve, resolve_parent};
use crate::volumes::clean_path;

/// How to extract.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOptions {
    /// Fail instead of replacing a directory with a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Owner for every entry (`None`: the archive's uid/gid).
    pub chown: Option<(u32, u32)>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The entry's path as clean relative components; `..` is refused.
fn components(raw: &[u8]) -> io::Result<Vec<String>> {
    let s = String::from_utf8_lossy(raw);
    let mut out = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(invalid(format!(
                    "invalid archive entry {s:?}: contains '..'"
                )))
            }
            c => out.push(c.to_owned()),
        }
    }
    Ok(out)
}

/// Extracts `r` into the directory `dest` (a clean absolute path inside `root`).
pub fn unpack(r: impl Read, root: &OwnedFd, dest: &str, opts: UnpackOptions) -> io::Result<()> {
    let mut archive = tar::Archive::new(r);
    let mut cached: Option<(String, OwnedFd)> = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let comps = components(&entry.path_bytes())?;
        let Some((name, parents)) = comps.split_last() else {
            continue;
        };
        let parent_path = clean_path(&format!("{dest}/{}", parents.join("/")));
        let parent = match cached.take() {
            Some((p, fd)) if p == parent_path => fd,
            _ => resolve(root, &parent_path, OFlag::O_PATH | OFlag::O_DIRECTORY)?,
        };
        let h = entry.header();
        let mode = h.mode()? & 0o7777;
        let (uid, gid) = match opts.chown {
            Some(ids) => ids,
            None => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
        };
        let mtime = h.mtime().unwrap_or(0) as i64;
        let ty = h.entry_type();
        let owner = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        let fix = |fd: &OwnedFd| -> io::Result<()> {
            fchown(fd, owner.0, owner.1).map_err(ioe)?;
            fchmod(fd, Mode::from_bits_truncate(mode)).map_err(ioe)
        };
        match ty {
            EntryType::Directory => {
                make_room(&parent, name, true, opts)?;
                match mkdirat(&parent, name.as_str(), Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(ioe(e)),
                }
                fix(&open_at(
                    &parent,
                    Some(name),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                )?)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                make_room(&parent, name, false, opts)?;
                let fd = nix::fcntl::openat(
                    &parent,
                    name.as_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(ioe)?;
                let mut f = std::fs::File::from(fd);
                io::copy(&mut entry, &mut f)?;
                let fd = OwnedFd::from(f);
                fix(&fd)?;
                let t = TimeSpec::new(mtime, 0);
                let _ = futimens(&fd, &t, &t);
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| invalid("symlink entry without a target".into()))?
                    .into_owned();
                make_room(&parent, name, false, opts)?;
                symlinkat(super::fsops::os(&target), &parent, name.as_str()).map_err(ioe)?;
                fchownat(
                    &parent,
                    name.as_str(),
                    owner.0,
                    owner.1,
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(ioe)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| invalid("link entry without a target".into()))?;
                let tcomps = components(&target)?;
                let tpath = clean_path(&format!("{dest}/{}", tcomps.join("/")));
                let (tparent, tname) = resolve_parent(root, &tpath)?;
                let tname = tname.ok_or_else(|| invalid("hard link to '/'".into()))?;
                make_room(&parent, name, false, opts)?;
                linkat(
                    &tparent,
                    tname.as_str(),
                    &parent,
                    name.as_str(),
                    AtFlags::empty(),
                )
                .map_err(ioe)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (kind, dev) = match ty {
                    EntryType::Char => (SFlag::S_IFCHR, true),
                    EntryType::Block => (SFlag::S_IFBLK, true),
                    _ => (SFlag::S_IFIFO, false),
                };
                let rdev = if dev {
                    makedev(
                        u64::from(h.device_major()?.unwrap_or(0)),
                        u64::from(h.device_minor()?.unwrap_or(0)),
                    )
                } else {
                    0
                };
                make_room(&parent, name, false, opts)?;
                mknodat(
                    &parent,
                    name.as_str(),
                    kind,
                    Mode::from_bits_truncate(mode),
                    rdev,
                )
                .map_err(ioe)?;
                fchownat(
                    &parent,
                    name.as_str(),
                    owner.0,
                    owner.1,
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(ioe)?;
            }
            // Pax/GNU metadata entries are consumed by the tar reader; others are skipped.
            _ => {}
        }
        cached = Some((parent_path, parent));
    }
    Ok(())
}

/// Clears the way for a new entry `name` in `dir`: an existing directory stays for a
/// directory entry; anything else is unlinked (an existing non-empty directory in the way of
/// a file is an error, as is any dir/non-dir swap with `no_overwrite_dir_non_dir`).
fn make_room(dir: &OwnedFd, name: &str, is_dir: bool, opts: UnpackOptions) -> io::Result<()> {
    let st = match lstat_at(dir, Some(name)) {
        Ok(st) => st,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let existing_dir = kind(&st) == libc::S_IFDIR;
    if existing_dir && is_dir {
        return Ok(());
    }
    if opts.no_overwrite_dir_non_dir && existing_dir != is_dir {
        return Err(invalid(if is_dir {
            format!("cannot overwrite non-directory \"{name}\" with directory")
        } else {
            format!("cannot overwrite directory \"{name}\" with non-directory")
        }));
    }
    let flag = if existing_dir {
        UnlinkatFlags::RemoveDir
    } else {
        UnlinkatFlags::NoRemoveDir
    };
    match unlinkat(dir.as_fd(), name, flag) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::ENOTEMPTY) => Err(invalid(format!(
            "cannot overwrite directory \"{name}\" with non-directory"
        ))),
        Err(e) => Err(ioe(e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::archive::fsops::open_root;

    #[test]
    fn refuses_dotdot_and_stays_in_root() {
        assert!(components(b"../x").is_err());
        assert_eq!(components(b"./a//b/").unwrap(), ["a", "b"]);
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("dst")).unwrap();
        // A symlink to "/" in the root must resolve to the root, not the host's "/".
        std::os::unix::fs::symlink("/", root.join("dst/esc")).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "esc/marker", &b"hi"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let r = open_root(&root).unwrap();
        unpack(&data[..], &r, "/dst", UnpackOptions::default()).unwrap();
        assert_eq!(std::fs::read(root.join("marker")).unwrap(), b"hi");
    }
}
