//! A [`Syscall`](super::Syscall) that records calls instead of making them, for unit tests.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

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
}

/// Records every call; every call succeeds.
#[derive(Debug, Default)]
pub(crate) struct RecordingSyscall {
    pub(crate) calls: RefCell<Vec<Call>>,
}

impl RecordingSyscall {
    fn push(&self, call: Call) -> nix::Result<()> {
        self.calls.borrow_mut().push(call);
        Ok(())
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
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_owned),
            flags,
            data: data.map(str::to_owned),
        })
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        self.push(Call::Umount2(target.to_path_buf(), flags))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.push(Call::PivotRoot(new_root.to_path_buf(), put_old.to_path_buf()))
    }
    fn chroot(&self, path: &Path) -> nix::Result<()> {
        self.push(Call::Chroot(path.to_path_buf()))
    }
    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.push(Call::Chdir(path.to_path_buf()))
    }
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        self.push(Call::Mknod(path.to_path_buf(), kind, perm, dev))
    }
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        self.push(Call::Symlink(target.to_path_buf(), link.to_path_buf()))
    }
    fn lchown(&self, path: &Path, uid: u32, gid: u32) -> nix::Result<()> {
        self.push(Call::Lchown(path.to_path_buf(), uid, gid))
    }
}
