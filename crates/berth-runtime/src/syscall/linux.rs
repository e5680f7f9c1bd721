//! The real implementation of [`Syscall`](super::Syscall).

use std::io::Write;
use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag};
use nix::sys::statvfs::FsFlags;
use nix::unistd::{Gid, Uid};

use super::Syscall;

/// Calls straight into the kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSyscall;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        nix::sys::stat::mknod(path, kind, perm, dev)
    }

    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        nix::unistd::symlinkat(target, nix::fcntl::AT_FDCWD, link)
    }

    fn lchown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
    }

    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
        nix::unistd::fchdir(dir)
    }

    fn chmod(&self, path: &Path, mode: Mode) -> nix::Result<()> {
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path,
            mode,
            FchmodatFlags::FollowSymlink,
        )
    }

    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        let st = nix::sys::statvfs::statvfs(path)?;
        Ok(statvfs_to_ms(st.flags()))
    }

    fn mount_setattr(
        &self,
        path: &Path,
        recursive: bool,
        attr_set: u64,
        attr_clr: u64,
    ) -> nix::Result<()> {
        /// struct mount_attr from <linux/mount.h> (MOUNT_ATTR_SIZE_VER0).
        #[repr(C)]
        struct MountAttr {
            attr_set: u64,
            attr_clr: u64,
            propagation: u64,
            userns_fd: u64,
        }
        let attr = MountAttr {
            attr_set,
            attr_clr,
            propagation: 0,
            userns_fd: 0,
        };
        let c_path =
            std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
                .map_err(|_| Errno::EINVAL)?;
        let flags = if recursive { libc::AT_RECURSIVE } else { 0 };
        // SAFETY: c_path is a valid NUL-terminated string and attr a properly laid out
        // mount_attr, both alive for the duration of the call; the size passed matches attr.
        let res = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                c_path.as_ptr(),
                flags,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        Errno::result(res).map(drop)
    }

    fn write_file(&self, path: &Path, contents: &[u8]) -> nix::Result<()> {
        let io_errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_errno)?;
        f.write_all(contents).map_err(io_errno)
    }
}

/// statvfs reports the per-mount flags with ST_* bits that differ from the MS_* ones mount(2)
/// takes; this translates the ones a remount can carry (see calculate_f_flags in fs/statfs.c).
fn statvfs_to_ms(st: FsFlags) -> MsFlags {
    /// ST_NOSYMFOLLOW and MS_NOSYMFOLLOW (Linux 5.10) are missing from nix.
    const ST_NOSYMFOLLOW: libc::c_ulong = 0x2000;
    const MS_NOSYMFOLLOW: libc::c_ulong = 0x100;
    let table = [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS),
        (FsFlags::ST_MANDLOCK, MsFlags::MS_MANDLOCK),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    let mut out = MsFlags::empty();
    for (st_flag, ms_flag) in table {
        if st.contains(st_flag) {
            out |= ms_flag;
        }
    }
    if st.bits() & ST_NOSYMFOLLOW != 0 {
        out |= MsFlags::from_bits_retain(MS_NOSYMFOLLOW);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_flags_translate_to_mount_flags() {
        let st = FsFlags::ST_RDONLY | FsFlags::ST_NOSUID | FsFlags::ST_RELATIME;
        assert_eq!(
            statvfs_to_ms(st),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_RELATIME
        );
        assert_eq!(statvfs_to_ms(FsFlags::empty()), MsFlags::empty());
    }

    #[test]
    fn mount_flags_of_proc_match_mountinfo() {
        // Compare with the kernel's other view of the same mount, the per-mount options in
        // /proc/self/mountinfo (field 6).
        let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let opts: Vec<&str> = info
            .lines()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .rfind(|f| f.get(4) == Some(&"/proc"))
            .and_then(|f| f.get(5).map(|o| o.split(',').collect()))
            .expect("/proc in mountinfo");
        let flags = LinuxSyscall
            .mount_flags(Path::new("/proc"))
            .expect("statvfs /proc");
        for (name, flag) in [
            ("ro", MsFlags::MS_RDONLY),
            ("nosuid", MsFlags::MS_NOSUID),
            ("nodev", MsFlags::MS_NODEV),
            ("noexec", MsFlags::MS_NOEXEC),
            ("relatime", MsFlags::MS_RELATIME),
        ] {
            assert_eq!(
                opts.contains(&name),
                flags.contains(flag),
                "{name}: {opts:?} vs {flags:?}"
            );
        }
    }
}
