//! Writing a container path as a tar stream (`GET /containers/{id}/archive`), walking only
//! through fds: each directory is opened `O_NOFOLLOW` relative to its parent's fd, each file
//! is checked after opening to be the inode that was listed, and symlinks are stored as links,
//! never followed.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{fstat, major, minor, FileStat};
use tar::{EntryType, Header};

use crate::fsops::{kind, list_dir, lstat_at, open_at, os};

/// A tar writer over one container root.
struct Packer<W: Write> {
    builder: tar::Builder<W>,
    /// (dev, ino) of files with several links → the first name written.
    links: HashMap<(u64, u64), PathBuf>,
}

/// Writes `name` in `parent` (`None`: `parent` itself) and everything below it, with entry
/// names starting at `rebase`.
pub fn pack(w: impl Write, parent: &OwnedFd, name: Option<&str>, rebase: &str) -> io::Result<()> {
    let mut p = Packer {
        builder: tar::Builder::new(w),
        links: HashMap::new(),
    };
    p.builder.follow_symlinks(false);
    p.add(parent, name.map(|n| n.as_bytes()), PathBuf::from(rebase))?;
    p.builder.finish()
}

fn header(st: &FileStat, entry: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(entry);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

fn same(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

fn raced() -> io::Error {
    io::Error::other("file changed while it was being copied")
}

impl<W: Write> Packer<W> {
    fn add(&mut self, parent: &OwnedFd, name: Option<&[u8]>, path: PathBuf) -> io::Result<()> {
        // Names are bytes (not necessarily UTF-8), passed to the kernel through `os`.
        let st = match name {
            Some(n) => {
                nix::sys::stat::fstatat(parent, os(n), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(crate::fsops::ioe)?
            }
            None => lstat_at(parent, None)?,
        };
        let open = |flags: OFlag| -> io::Result<OwnedFd> {
            match name {
                Some(n) => nix::fcntl::openat(
                    parent,
                    os(n),
                    flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(crate::fsops::ioe),
                None => open_at(parent, None, flags),
            }
        };
        match kind(&st) {
            libc::S_IFDIR => {
                let dir = open(OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                if !same(&fstat(&dir).map_err(crate::fsops::ioe)?, &st) {
                    return Err(raced());
                }
                let mut h = header(&st, EntryType::Directory);
                self.builder.append_data(&mut h, &path, io::empty())?;
                for child in list_dir(&dir)? {
                    let p = path.join(os(&child));
                    self.add(&dir, Some(&child), p)?;
                }
            }
            libc::S_IFREG => {
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) {
                        let first = first.clone();
                        let mut h = header(&st, EntryType::Link);
                        return self.builder.append_link(&mut h, &path, &first);
                    }
                    self.links.insert((st.st_dev, st.st_ino), path.clone());
                }
                let fd = open(OFlag::O_RDONLY)?;
                let now = fstat(&fd).map_err(crate::fsops::ioe)?;
                if !same(&now, &st) || kind(&now) != libc::S_IFREG {
                    return Err(raced());
                }
                let size = now.st_size.max(0) as u64;
                let mut h = header(&now, EntryType::Regular);
                h.set_size(size);
                // Exactly `size` bytes even if the file changes meanwhile: the header is written.
                let data = std::fs::File::from(fd)
                    .take(size)
                    .chain(io::repeat(0))
                    .take(size);
                self.builder.append_data(&mut h, &path, data)?;
            }
            libc::S_IFLNK => {
                let target = match name {
                    Some(n) => readlinkat(parent.as_fd(), os(n)),
                    None => readlinkat(parent.as_fd(), ""),
                }
                .map_err(crate::fsops::ioe)?;
                let mut h = header(&st, EntryType::Symlink);
                self.builder.append_link(&mut h, &path, target)?;
            }
            k @ (libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) => {
                let entry = match k {
                    libc::S_IFCHR => EntryType::Char,
                    libc::S_IFBLK => EntryType::Block,
                    _ => EntryType::Fifo,
                };
                let mut h = header(&st, entry);
                if k != libc::S_IFIFO {
                    h.set_device_major(major(st.st_rdev) as u32)?;
                    h.set_device_minor(minor(st.st_rdev) as u32)?;
                }
                self.builder.append_data(&mut h, &path, io::empty())?;
            }
            // Sockets cannot be archived (docker skips them too).
            _ => {}
        }
        Ok(())
    }
}
