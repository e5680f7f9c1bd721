//! A [`Syscall`](super::Syscall) that records calls instead of making them, for unit tests.
//!
//! The rootfs code names its targets `/proc/self/fd/N[/name]` (an O_PATH fd of a path it
//! resolved safely inside the rootfs). Fd numbers are not stable across tests, so the recorder
//! rewrites such paths to what the fd points at: the assertions then read as real paths.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::Syscall;

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount2(PathBuf, MntFlags),
    PivotRoot(PathBuf, PathBuf),
    Chroot(PathBuf),
    Chdir(PathBuf),
    Mknod(PathBuf, SFlag, Mode, u64),
    Symlink(PathBuf, PathBuf),
    Lchown(PathBuf, u32, u32),
    Fchdir(PathBuf),
    Chmod(PathBuf, Mode),
    WriteFile(PathBuf, String),
    /// path, recursive, attr_set, attr_clr
    MountSetattr(PathBuf, bool, u64, u64),
}

type FailRule = (Box<dyn Fn(&Call) -> bool>, Errno);

/// Records every call; every call succeeds unless a rule added by [`Self::fail_when`] matches.
#[derive(Default)]
pub(crate) struct RecordingSyscall {
    pub(crate) calls: RefCell<Vec<Call>>,
    /// Answers for [`Syscall::mount_flags`], by (normalised) path; absent paths answer empty.
    pub(crate) flags_of: RefCell<HashMap<PathBuf, MsFlags>>,
    fail: RefCell<Vec<FailRule>>,
}

impl std::fmt::Debug for RecordingSyscall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSyscall")
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl RecordingSyscall {
    /// Makes every later call matching `pred` fail with `errno` (it is still recorded).
    pub(crate) fn fail_when(&self, pred: impl Fn(&Call) -> bool + 'static, errno: Errno) {
        self.fail.borrow_mut().push((Box::new(pred), errno));
    }

    /// The recorded mount calls only, the most common thing tests look at.
    pub(crate) fn mounts(&self) -> Vec<Call> {
        self.calls
            .borrow()
            .iter()
            .filter(|c| matches!(c, Call::Mount { .. }))
            .cloned()
            .collect()
    }

    fn push(&self, call: Call) -> nix::Result<()> {
        let failure = self
            .fail
            .borrow()
            .iter()
            .find(|(pred, _)| pred(&call))
            .map(|(_, errno)| *errno);
        self.calls.borrow_mut().push(call);
        match failure {
            Some(errno) => Err(errno),
            None => Ok(()),
        }
    }
}

/// Rewrites `/proc/self/fd/N/rest` to `readlink(/proc/self/fd/N)/rest`; other paths unchanged.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix("/proc/self/fd") else {
        return path.to_path_buf();
    };
    let mut comps = rest.components();
    let Some(Component::Normal(fd)) = comps.next() else {
        return path.to_path_buf();
    };
    if fd.to_str().and_then(|s| s.parse::<i32>().ok()).is_none() {
        return path.to_path_buf();
    }
    match std::fs::read_link(Path::new("/proc/self/fd").join(fd)) {
        Ok(target) => target.join(comps.as_path()),
        Err(_) => path.to_path_buf(),
    }
}

impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.push(Call::Mount {
            source: source.map(normalize),
            target: normalize(target),
            fstype: fstype.map(str::to_owned),
            flags,
            data: data.map(str::to_owned),
        })
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        self.push(Call::Umount2(normalize(target), flags))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.push(Call::PivotRoot(
            new_root.to_path_buf(),
            put_old.to_path_buf(),
        ))
    }
    fn chroot(&self, path: &Path) -> nix::Result<()> {
        self.push(Call::Chroot(path.to_path_buf()))
    }
    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.push(Call::Chdir(normalize(path)))
    }
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        self.push(Call::Mknod(normalize(path), kind, perm, dev))
    }
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        self.push(Call::Symlink(target.to_path_buf(), normalize(link)))
    }
    fn lchown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        self.push(Call::Lchown(normalize(path), uid, gid))
    }
    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
        let path = Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string());
        self.push(Call::Fchdir(normalize(&path)))
    }
    fn chmod(&self, path: &Path, mode: Mode) -> nix::Result<()> {
        self.push(Call::Chmod(normalize(path), mode))
    }
    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        Ok(self
            .flags_of
            .borrow()
            .get(&normalize(path))
            .copied()
            .unwrap_or_else(MsFlags::empty))
    }
    fn mount_setattr(
        &self,
        path: &Path,
        recursive: bool,
        attr_set: u64,
        attr_clr: u64,
    ) -> nix::Result<()> {
        self.push(Call::MountSetattr(
            normalize(path),
            recursive,
            attr_set,
            attr_clr,
        ))
    }
    fn write_file(&self, path: &Path, contents: &[u8]) -> nix::Result<()> {
        let text = String::from_utf8_lossy(contents).into_owned();
        self.push(Call::WriteFile(normalize(path), text))
    }
}
