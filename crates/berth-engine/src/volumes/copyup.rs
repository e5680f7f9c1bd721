//! Docker's copy-up: an empty volume mounted over image content is first filled with that
//! content (ownership, modes, times, symlinks and device nodes kept). The image side is
//! resolved inside the container root; both trees are walked through fds only.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{
    fchmod, fstatat, futimens, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

use crate::fsops::{ioe, kind, list_dir, open_root, os, resolve};

/// Fills `volume_dir` from `dest` inside `rootfs` when the volume is empty and `dest` is a
/// directory there; returns whether it copied.
pub fn copy_up(rootfs: &Path, dest: &str, volume_dir: &Path) -> io::Result<bool> {
    let root = open_root(rootfs)?;
    let src = match resolve(&root, dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(fd) => fd,
        // Nothing (or no directory) there in the image: nothing to copy.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
            return Ok(false)
        }
        Err(e) => return Err(e),
    };
    let dst = nix::fcntl::open(
        volume_dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ioe)?;
    if !list_dir(&dst)?.is_empty() {
        return Ok(false);
    }
    copy_dir(&src, &dst)?;
    // The volume's root takes the owner and mode of the directory it covers.
    let st = nix::sys::stat::fstat(&src).map_err(ioe)?;
    set_meta(&dst, &st)?;
    Ok(true)
}

fn set_meta(fd: &OwnedFd, st: &FileStat) -> io::Result<()> {
    fchown(
        fd,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
    .map_err(ioe)?;
    fchmod(fd, Mode::from_bits_truncate(st.st_mode & 0o7777)).map_err(ioe)?;
    let (a, m) = times(st);
    let _ = futimens(fd, &a, &m);
    Ok(())
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

fn copy_dir(src: &OwnedFd, dst: &OwnedFd) -> io::Result<()> {
    for name in list_dir(src)? {
        let n = os(&name);
        let st = fstatat(src, n, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(ioe)?;
        let owner = (
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        );
        match kind(&st) {
            libc::S_IFDIR => {
                match mkdirat(dst, n, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(ioe(e)),
                }
                let sub_src = open_child(src, n, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                let sub_dst = open_child(dst, n, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                copy_dir(&sub_src, &sub_dst)?;
                set_meta(&sub_dst, &st)?;
            }
            libc::S_IFREG => {
                let from = open_child(src, n, OFlag::O_RDONLY)?;
                let to = nix::fcntl::openat(
                    dst,
                    n,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(ioe)?;
                let mut f = std::fs::File::from(to);
                io::copy(&mut std::fs::File::from(from), &mut f)?;
                set_meta(&OwnedFd::from(f), &st)?;
            }
            libc::S_IFLNK => {
                let target = readlinkat(src, n).map_err(ioe)?;
                symlinkat(target.as_os_str(), dst, n).map_err(ioe)?;
                fchownat(dst, n, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(ioe)?;
                let (a, m) = times(&st);
                let _ = utimensat(dst, n, &a, &m, UtimensatFlags::NoFollowSymlink);
            }
            k @ (libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) => {
                let sflag = SFlag::from_bits_truncate(k);
                mknodat(
                    dst,
                    n,
                    sflag,
                    Mode::from_bits_truncate(st.st_mode & 0o7777),
                    st.st_rdev,
                )
                .map_err(ioe)?;
                fchownat(dst, n, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(ioe)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn open_child(dir: &OwnedFd, name: &std::ffi::OsStr, flags: OFlag) -> io::Result<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ioe)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn fills_an_empty_volume_once() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::write(root.join("data/sub/f"), "image").unwrap();
        std::fs::set_permissions(
            root.join("data/sub/f"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/shadow", root.join("data/link")).unwrap();
        std::fs::set_permissions(root.join("data"), std::fs::Permissions::from_mode(0o711))
            .unwrap();
        let vol = d.path().join("vol");
        std::fs::create_dir(&vol).unwrap();
        assert!(copy_up(&root, "/data", &vol).unwrap());
        assert_eq!(std::fs::read_to_string(vol.join("sub/f")).unwrap(), "image");
        assert_eq!(
            std::fs::metadata(vol.join("sub/f")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_link(vol.join("link")).unwrap().to_str(),
            Some("/etc/shadow")
        );
        assert_eq!(std::fs::metadata(&vol).unwrap().mode() & 0o777, 0o711);
        // Not empty any more: a second mount copies nothing.
        assert!(!copy_up(&root, "/data", &vol).unwrap());
        assert!(!copy_up(&root, "/missing", &vol).unwrap());
    }
}
