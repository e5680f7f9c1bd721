//! Whole-tree helpers for snapshot directories the store itself owns: a metadata-preserving
//! copy (for the copy snapshotter) and apparent-size accounting (for `system df`).

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Copy the contents of `src` into existing directory `dst`, preserving modes, owners,
/// mtimes, hardlinks, symlinks, device nodes and xattrs. Symlinks are copied, never followed.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let mut links = HashMap::new();
    copy_dir_contents(src, dst, &mut links)?;
    copy_meta(src, dst, &fs::symlink_metadata(src)?)
}

fn copy_dir_contents(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    for ent in fs::read_dir(src)? {
        let ent = ent?;
        let (s, d) = (ent.path(), dst.join(ent.file_name()));
        let md = fs::symlink_metadata(&s)?;
        let ft = md.file_type();
        if !ft.is_dir() && md.nlink() > 1 {
            if let Some(first) = links.get(&(md.dev(), md.ino())) {
                fs::hard_link(first, &d)?;
                continue;
            }
            links.insert((md.dev(), md.ino()), d.clone());
        }
        if ft.is_dir() {
            fs::create_dir(&d)?;
            copy_dir_contents(&s, &d, links)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
        } else if ft.is_file() {
            fs::copy(&s, &d)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let c = cpath(&d)?;
            // SAFETY: valid NUL-terminated path.
            if unsafe { libc::mknod(c.as_ptr(), md.mode(), md.rdev()) } < 0 {
                return Err(io::Error::last_os_error());
            }
        } else {
            continue; // sockets are not copied
        }
        copy_meta(&s, &d, &md)?;
    }
    Ok(())
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

fn copy_meta(src: &Path, dst: &Path, md: &fs::Metadata) -> io::Result<()> {
    let c = cpath(dst)?;
    // SAFETY: valid path; lchown does not follow symlinks.
    if unsafe { libc::lchown(c.as_ptr(), md.uid(), md.gid()) } < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EPERM) {
            return Err(e);
        }
    }
    copy_xattrs(src, dst)?;
    if !md.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(md.mode() & 0o7777))?;
    }
    let ts = [
        libc::timespec {
            tv_sec: md.atime() as libc::time_t,
            tv_nsec: md.atime_nsec() as _,
        },
        libc::timespec {
            tv_sec: md.mtime() as libc::time_t,
            tv_nsec: md.mtime_nsec() as _,
        },
    ];
    // SAFETY: valid path and two timespecs.
    if unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } < 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn copy_xattrs(src: &Path, dst: &Path) -> io::Result<()> {
    let (s, d) = (cpath(src)?, cpath(dst)?);
    let mut names = vec![0u8; 4096];
    // SAFETY: valid path and writable buffer of the given size.
    let n = unsafe { libc::llistxattr(s.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return Ok(());
    }
    names.truncate(n as usize);
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        let mut val = vec![0u8; 65536];
        // SAFETY: valid strings and buffer.
        let len = unsafe {
            libc::lgetxattr(
                s.as_ptr(),
                cname.as_ptr(),
                val.as_mut_ptr().cast(),
                val.len(),
            )
        };
        if len < 0 {
            continue;
        }
        // SAFETY: valid strings and buffer of `len` bytes.
        let r = unsafe {
            libc::lsetxattr(
                d.as_ptr(),
                cname.as_ptr(),
                val.as_ptr().cast(),
                len as usize,
                0,
            )
        };
        if r < 0 {
            tracing::warn!(path = %dst.display(), error = %io::Error::last_os_error(), "dropping xattr during copy");
        }
    }
    Ok(())
}

/// Apparent size of everything under `path`, counting each hardlinked inode once.
pub(crate) fn dir_size(path: &Path) -> u64 {
    fn walk(p: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
        let Ok(rd) = fs::read_dir(p) else { return 0 };
        let mut total = 0;
        for ent in rd.flatten() {
            let Ok(md) = ent.metadata() else { continue };
            if md.is_dir() {
                total += walk(&ent.path(), seen);
            } else if seen.insert((md.dev(), md.ino())) {
                total += md.len();
            }
        }
        total
    }
    walk(path, &mut HashSet::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_with_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("s"), tmp.path().join("d"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), b"data").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o4750)).unwrap();
        fs::hard_link(src.join("sub/f"), src.join("h")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", src.join("l")).unwrap();
        fs::create_dir(&dst).unwrap();
        copy_tree(&src, &dst).unwrap();
        let f = fs::metadata(dst.join("sub/f")).unwrap();
        assert_eq!(f.permissions().mode() & 0o7777, 0o4750);
        assert_eq!(f.ino(), fs::metadata(dst.join("h")).unwrap().ino());
        assert_eq!(
            fs::read_link(dst.join("l")).unwrap(),
            Path::new("/nonexistent")
        );
        assert_eq!(f.mtime(), fs::metadata(src.join("sub/f")).unwrap().mtime());
        assert_eq!(
            dir_size(&dst),
            4 + "/nonexistent".len() as u64,
            "file once (hardlink), plus the symlink"
        );
    }
}
