//! Switching the process's root to the rootfs.
//!
//! pivot_root(2) is preferred over chroot(2) because it detaches the host's mount tree from
//! the container's namespace entirely (chroot leaves it reachable). `pivot_root(".", ".")`
//! (the LXC trick runc uses) stacks the old root on top of the new one, so no `put_old`
//! directory has to be created in the image; the old root is then lazily unmounted.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag, AT_FDCWD};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;

use super::cgroup::parse_mountinfo;
use super::RootfsError;
use crate::syscall::Syscall;

/// Phase 2: make `rootfs` the process's root (pivot_root, or chroot when `no_pivot`).
///
/// With `no_pivot` (for rootfs on a ramfs, where pivot_root is impossible), the rootfs mount
/// is moved over `/` and chrooted into; host procfs/sysfs mounts are detached first, because
/// they would otherwise stay reachable and let the container mount new procfs instances.
pub fn pivot(sys: &dyn Syscall, rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    if no_pivot {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| RootfsError::Invalid(format!("read /proc/self/mountinfo: {e}")))?;
        move_root(sys, rootfs, &mountinfo)
    } else {
        pivot_root(sys, rootfs)
    }
}

fn sys_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> RootfsError + 'a {
    move |errno| RootfsError::Sys {
        what,
        path: path.to_path_buf(),
        errno,
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd, RootfsError> {
    openat(
        AT_FDCWD,
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys_err("open", path))
}

fn pivot_root(sys: &dyn Syscall, rootfs: &Path) -> Result<(), RootfsError> {
    let dot = Path::new(".");
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(rootfs)?;
    sys.fchdir(new_root.as_fd())
        .map_err(sys_err("chdir", rootfs))?;
    sys.pivot_root(dot, dot)
        .map_err(sys_err("pivot_root", rootfs))?;
    // "." is the old root now (kernel behaviour, not a promise): go there explicitly.
    sys.fchdir(old_root.as_fd())
        .map_err(sys_err("chdir to old root", Path::new("/")))?;
    // Slave before unmounting, so the unmounts cannot propagate to the host. Not private:
    // that races with host tools that expect the mounts to be released.
    sys.mount(None, dot, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
        .map_err(sys_err("make old root rslave", Path::new("/")))?;
    sys.umount2(dot, MntFlags::MNT_DETACH)
        .map_err(sys_err("unmount old root", Path::new("/")))?;
    sys.chdir(Path::new("/"))
        .map_err(sys_err("chdir", Path::new("/")))
}

fn move_root(sys: &dyn Syscall, rootfs: &Path, mountinfo: &str) -> Result<(), RootfsError> {
    let host_kernel_fs: Vec<_> = parse_mountinfo(mountinfo)
        .into_iter()
        .filter(|m| m.root == "/" && (m.fstype == "proc" || m.fstype == "sysfs"))
        .filter(|m| !m.mount_point.starts_with(rootfs))
        .collect();
    for m in &host_kernel_fs {
        let p = m.mount_point.as_path();
        match sys.mount(None, p, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None) {
            Ok(()) => {}
            // A parent was already detached.
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(sys_err("make rslave", p)(e)),
        }
        match sys.umount2(p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            // Not allowed to unmount (user namespace): cover it instead.
            Err(Errno::EINVAL | Errno::EPERM) => sys
                .mount(
                    Some(Path::new("tmpfs")),
                    p,
                    Some("tmpfs"),
                    MsFlags::empty(),
                    None,
                )
                .map_err(sys_err("cover", p))?,
            Err(e) => return Err(sys_err("unmount", p)(e)),
        }
    }
    sys.chdir(rootfs).map_err(sys_err("chdir", rootfs))?;
    sys.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
        .map_err(sys_err("move mount to /", rootfs))?;
    sys.chroot(Path::new("."))
        .map_err(sys_err("chroot", rootfs))?;
    sys.chdir(Path::new("/"))
        .map_err(sys_err("chdir", Path::new("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::recording::{Call, RecordingSyscall};

    #[test]
    fn pivot_root_sequence_matches_runc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rootfs = std::fs::canonicalize(dir.path()).expect("canonical");
        let sys = RecordingSyscall::default();
        pivot(&sys, &rootfs, false).expect("pivot");
        let dot = || std::path::PathBuf::from(".");
        assert_eq!(
            *sys.calls.borrow(),
            vec![
                Call::Fchdir(rootfs.clone()),
                Call::PivotRoot(dot(), dot()),
                Call::Fchdir("/".into()),
                Call::Mount {
                    source: None,
                    target: dot(),
                    fstype: None,
                    flags: MsFlags::MS_SLAVE | MsFlags::MS_REC,
                    data: None
                },
                Call::Umount2(dot(), MntFlags::MNT_DETACH),
                Call::Chdir("/".into()),
            ]
        );
    }

    #[test]
    fn pivot_root_failure_is_reported() {
        let sys = RecordingSyscall::default();
        sys.fail_when(|c| matches!(c, Call::PivotRoot(..)), Errno::EINVAL);
        let err = pivot(&sys, Path::new("/"), false).expect_err("fails");
        assert_eq!(err.to_string(), "pivot_root /: invalid argument");
    }

    #[test]
    fn move_root_detaches_host_proc_and_sys_then_chroots() {
        let mountinfo = "\
22 1 0:21 / /proc rw - proc proc rw
23 1 0:22 / /sys rw - sysfs sysfs rw
24 22 0:30 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw
50 40 0:40 / /bundle/rootfs/proc rw - proc proc rw
51 1 0:41 /sub /srv/sys rw - sysfs sysfs rw
";
        let sys = RecordingSyscall::default();
        sys.fail_when(
            |c| matches!(c, Call::Umount2(p, _) if p == Path::new("/sys")),
            Errno::EPERM,
        );
        move_root(&sys, Path::new("/bundle/rootfs"), mountinfo).expect("move root");
        let slave = |p: &str| Call::Mount {
            source: None,
            target: p.into(),
            fstype: None,
            flags: MsFlags::MS_SLAVE | MsFlags::MS_REC,
            data: None,
        };
        assert_eq!(
            *sys.calls.borrow(),
            vec![
                slave("/proc"),
                Call::Umount2("/proc".into(), MntFlags::MNT_DETACH),
                slave("/sys"),
                Call::Umount2("/sys".into(), MntFlags::MNT_DETACH),
                Call::Mount {
                    source: Some("tmpfs".into()),
                    target: "/sys".into(),
                    fstype: Some("tmpfs".into()),
                    flags: MsFlags::empty(),
                    data: None
                },
                Call::Chdir("/bundle/rootfs".into()),
                Call::Mount {
                    source: Some("/bundle/rootfs".into()),
                    target: "/".into(),
                    fstype: None,
                    flags: MsFlags::MS_MOVE,
                    data: None
                },
                Call::Chroot(".".into()),
                Call::Chdir("/".into()),
            ]
        );
    }
}
