//! The mount a container root needs, and performing/undoing it.
//!
//! Overlay mounts are made with the new mount API (`fsopen`/`fsconfig`/`fsmount`/`move_mount`)
//! adding one `lowerdir+` at a time, so the number of layers is not limited by the one-page
//! limit on mount(2)'s option string. [`Mount::options`] also renders the classic option string
//! with short relative names (`l/<id>`) for callers that mount from the store root.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Overlay features Berth turns off: with `redirect_dir` or `metacopy` the upper dir would
/// not hold complete copies (commit and diff read it as a layer), and `index` ties lower
/// dirs to one upper, which breaks sharing layers between containers.
pub const OVERLAY_FIXED_OPTIONS: [(&str, &str); 3] = [
    ("index", "off"),
    ("redirect_dir", "off"),
    ("metacopy", "off"),
];

/// How to mount a container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// An overlay over image layers.
    Overlay {
        /// The store root that the relative names below are relative to.
        base: PathBuf,
        /// Short link names of the lower layers, topmost first (`l/<26 chars>`).
        lowers: Vec<String>,
        /// Upper dir, relative to `base`.
        upper: String,
        /// Work dir, relative to `base`.
        work: String,
    },
    /// A bind mount of a full copy (copy snapshotter, or a scratch image).
    Bind {
        /// The directory to bind.
        source: PathBuf,
    },
}

pub(super) fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

pub(super) fn cvt(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Mount {
    /// Filesystem type for mount(2): `overlay` or `none` (bind).
    pub fn fs_type(&self) -> &'static str {
        match self {
            Mount::Overlay { .. } => "overlay",
            Mount::Bind { .. } => "none",
        }
    }

    /// The source argument for mount(2).
    pub fn source(&self) -> PathBuf {
        match self {
            Mount::Overlay { .. } => PathBuf::from("overlay"),
            Mount::Bind { source } => source.clone(),
        }
    }

    /// Classic mount options. For overlay the paths are relative to `base`, so the mount must
    /// be made with `base` as the working directory (as Docker's overlay2 does from its root);
    /// short names keep 120+ layers under the 4096-byte limit.
    pub fn options(&self) -> Vec<String> {
        match self {
            Mount::Overlay {
                lowers,
                upper,
                work,
                ..
            } => {
                vec![
                    format!("lowerdir={}", lowers.join(":")),
                    format!("upperdir={upper}"),
                    format!("workdir={work}"),
                ]
            }
            Mount::Bind { .. } => vec!["rbind".to_owned()],
        }
    }

    /// Absolute lower directories, topmost first.
    pub fn lower_dirs(&self) -> Vec<PathBuf> {
        match self {
            Mount::Overlay { base, lowers, .. } => lowers.iter().map(|l| base.join(l)).collect(),
            Mount::Bind { .. } => Vec::new(),
        }
    }

    /// Mount onto `target` (an existing directory) in the caller's mount namespace.
    pub fn mount(&self, target: &Path) -> io::Result<()> {
        match self {
            Mount::Bind { source } => {
                let (s, t) = (cstr(source)?, cstr(target)?);
                // SAFETY: valid NUL-terminated strings; null fstype/data are allowed for bind mounts.
                let r = unsafe {
                    libc::mount(
                        s.as_ptr(),
                        t.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    )
                };
                cvt(r.into()).map(drop)
            }
            Mount::Overlay {
                base, upper, work, ..
            } => mount_overlay(
                &self.lower_dirs(),
                &base.join(upper),
                &base.join(work),
                target,
            ),
        }
    }
}

/// Unmount `target`, lazily if it is busy.
pub fn unmount(target: &Path) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::umount2(t.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EBUSY) {
        return Err(e);
    }
    // SAFETY: as above.
    cvt(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) }.into()).map(drop)
}

pub(super) fn fsconfig_string(fd: &OwnedFd, key: &str, value: Option<&Path>) -> io::Result<()> {
    fsconfig(fd, key, value)
        .map_err(|e| io::Error::new(e.kind(), format!("overlay option {key}: {e}")))
}

fn fsconfig(fd: &OwnedFd, key: &str, value: Option<&Path>) -> io::Result<()> {
    let k = CString::new(key).map_err(|_| io::Error::other("NUL in key"))?;
    let v = value.map(cstr).transpose()?;
    let vp = v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
    let cmd = if value.is_some() {
        libc::FSCONFIG_SET_STRING
    } else {
        libc::FSCONFIG_SET_FLAG
    };
    // SAFETY: valid fd and NUL-terminated strings (or null for flags); aux must be 0.
    cvt(unsafe { libc::syscall(libc::SYS_fsconfig, fd.as_raw_fd(), cmd, k.as_ptr(), vp, 0) })
        .map(drop)
}

/// Mounts the overlay with the new mount API; kernels before 6.8 (whose overlayfs does not
/// know `lowerdir+`, e.g. 6.1's legacy option parser) refuse it with EINVAL at create time, and
/// get the classic mount(2) option string with absolute paths instead.
fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    match mount_overlay_fsconfig(lowers, upper, work, target) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            mount_overlay_classic(lowers, upper, work, target)
        }
        r => r,
    }
}

fn mount_overlay_classic(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> io::Result<()> {
    let joined: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        joined.join(":"),
        upper.display(),
        work.display()
    );
    data.push_str(&crate::rootless::overlay_option_string());
    let data = CString::new(data).map_err(|_| io::Error::other("NUL in overlay options"))?;
    let t = cstr(target)?;
    // SAFETY: valid NUL-terminated strings.
    let r = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            t.as_ptr(),
            c"overlay".as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    cvt(r.into()).map(drop)
}

fn mount_overlay_fsconfig(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> io::Result<()> {
    // SAFETY: valid NUL-terminated fs name.
    let fsfd =
        cvt(unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), libc::FSOPEN_CLOEXEC) })?;
    // SAFETY: fsopen returned a new fd we own.
    let fsfd = unsafe { OwnedFd::from_raw_fd(fsfd as i32) };
    for l in lowers {
        fsconfig_string(&fsfd, "lowerdir+", Some(l))?;
    }
    fsconfig_string(&fsfd, "upperdir", Some(upper))?;
    fsconfig_string(&fsfd, "workdir", Some(work))?;
    for (k, v) in crate::rootless::overlay_options() {
        fsconfig_string(&fsfd, k, v.map(Path::new))?;
    }
    // SAFETY: valid fd; CMD_CREATE takes no key/value.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    })?;
    // SAFETY: valid fd.
    let mfd = cvt(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fsfd.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: fsmount returned a new fd we own.
    let mfd = unsafe { OwnedFd::from_raw_fd(mfd as i32) };
    let t = cstr(target)?;
    // SAFETY: valid fds and paths; F_EMPTY_PATH moves the detached mount behind `mfd`.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mfd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// Whether this kernel can mount overlayfs at all.
pub fn overlay_supported() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .is_ok_and(|s| s.lines().any(|l| l.trim_end().ends_with("\toverlay")))
}
