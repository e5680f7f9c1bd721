//! Phase 3, inside the new root: read-only remounts, sysctls, read-only and masked paths.
//!
//! These run after pivot_root on purpose: the paths are container paths, and the kernel
//! resolves them inside the container's root, so nothing here can reach the host.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, fstatat, makedev, SFlag};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::options::{self, rootfs_propagation};
use super::paths::{lexical_clean, Create, Resolved, RootDir};
use super::{errno_text, sysctl, RootfsError};
use crate::syscall::Syscall;

/// Phase 3, inside the new root: sysctls, masked paths, read-only paths, read-only root.
///
/// Order: creating `process.cwd` if missing, the read-only remounts delayed
/// by [`super::prepare`] (tmpfs and /dev), `root.readonly`, sysctls, `readonlyPaths`,
/// `maskedPaths`, and last the root propagation asked for by `linux.rootfsPropagation` when it
/// is shared/unbindable (it can only be applied to the new `/`, and an unbindable `/` would
/// refuse the bind mounts before it). Call [`super::mount_console`] before this: with a read-only /dev it could
/// not create /dev/console any more (prepare creates it when `process.terminal` is set).
pub fn finalize(sys: &dyn Syscall, spec: &Spec) -> Result<(), RootfsError> {
    finalize_in(sys, spec, Path::new("/"))
}

/// [`finalize`] with the container's root at `root` (tests use a temporary directory).
pub(crate) fn finalize_in(sys: &dyn Syscall, spec: &Spec, root: &Path) -> Result<(), RootfsError> {
    let linux = spec.linux().as_ref();
    let dir = RootDir::open(root)?;
    // The working directory may not exist in the image; create it while `/` is writable.
    if let Some(cwd) = spec
        .process()
        .as_ref()
        .map(|p| p.cwd())
        .filter(|c| !c.as_os_str().is_empty())
    {
        dir.resolve(cwd, Create::Dir)?;
    }
    delayed_readonly(sys, spec, &dir)?;
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        readonly_root(sys, root)?;
    }
    if let Some(sysctls) = linux.and_then(|l| l.sysctl().as_ref()) {
        let has_ns = |t: LinuxNamespaceType| {
            linux
                .and_then(|l| l.namespaces().as_ref())
                .is_some_and(|nss| nss.iter().any(|ns| ns.typ() == t))
        };
        let mut keys: Vec<&String> = sysctls.keys().collect();
        keys.sort();
        for key in keys {
            sysctl::validate(key, &has_ns)?;
            let path = root.join("proc/sys").join(sysctl::relative_path(key)?);
            let value = sysctls.get(key).map(String::as_str).unwrap_or_default();
            sys.write_file(&path, value.as_bytes())
                .map_err(|errno| RootfsError::Sys {
                    what: "write sysctl",
                    path: PathBuf::from(key),
                    errno,
                })?;
        }
    }
    for path in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or_default()
    {
        readonly_path(sys, &dir, Path::new(path))?;
    }
    let masked = linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or_default();
    if !masked.is_empty() {
        let dev_null = verified_dev_null(&dir)?;
        let mut seen = HashSet::new();
        for path in masked {
            if seen.insert(lexical_clean(Path::new(path))) {
                mask_path(sys, &dir, Path::new(path), &dev_null.proc_path())?;
            }
        }
    }
    // Last: an unbindable `/` would refuse the bind mounts of read-only and masked paths.
    if let Some(p) = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|p| !p.is_empty())
    {
        let flags = rootfs_propagation(p)?;
        if !flags.intersects(MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE) {
            sys.mount(None, root, None, flags, None)
                .map_err(|errno| RootfsError::Sys {
                    what: "set propagation of",
                    path: "/".into(),
                    errno,
                })?;
        }
    }
    Ok(())
}

/// The container's /dev/null, checked to be the real 1:3 character device: the image (when
/// /dev is not a tmpfs) could ship a regular file or a symlink there, and masking with it
/// would then expose that file instead of hiding the masked one.
fn verified_dev_null(dir: &RootDir) -> Result<Resolved, RootfsError> {
    let (parent, name) = dir.resolve_parent(Path::new("/dev/null"), false)?;
    let st =
        fstatat(parent.fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|errno| {
            RootfsError::Sys {
                what: "stat",
                path: "/dev/null".into(),
                errno,
            }
        })?;
    let is_char = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR;
    if !is_char || st.st_rdev != makedev(1, 3) {
        return Err(RootfsError::Invalid(
            "cannot mask paths: the container's /dev/null is not the null device".into(),
        ));
    }
    dir.resolve(Path::new("/dev/null"), Create::Nothing)
}

/// Resolves a container path, `None` when it does not exist (masked and read-only paths that
/// are missing are skipped, per the spec's "if it exists").
fn existing(dir: &RootDir, path: &Path) -> Result<Option<Resolved>, RootfsError> {
    match dir.resolve(path, Create::Nothing) {
        Ok(r) => Ok(Some(r)),
        Err(RootfsError::Sys {
            errno: Errno::ENOENT,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// tmpfs mounts and /dev were mounted read-write so they could be filled; make the ones the
/// spec wants read-only so now.
fn delayed_readonly(sys: &dyn Syscall, spec: &Spec, dir: &RootDir) -> Result<(), RootfsError> {
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let opts = options::parse(m.options().as_deref().unwrap_or_default())?;
        let dest = lexical_clean(m.destination());
        let tmpfs = m.typ().as_deref() == Some("tmpfs") && !opts.is_bind();
        if !opts.readonly() || !(tmpfs || dest == Path::new("/dev")) {
            continue;
        }
        let target = dir.resolve(&dest, Create::Nothing)?;
        let flags = (opts.set - (MsFlags::MS_BIND | MsFlags::MS_REC))
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY;
        sys.mount(None, &target.proc_path(), None, flags, None)
            .map_err(|e| RootfsError::Mount {
                src: m.typ().clone().unwrap_or_default(),
                dest: dest.clone(),
                reason: format!("remount read-only: {}", errno_text(e)),
            })?;
    }
    Ok(())
}

/// `root.readonly`: a bind remount of `/` read-only, keeping its locked flags if the plain
/// remount is refused.
fn readonly_root(sys: &dyn Syscall, root: &Path) -> Result<(), RootfsError> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    let err = |errno| RootfsError::Sys {
        what: "remount read-only",
        path: "/".into(),
        errno,
    };
    match sys.mount(None, root, None, flags, None) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            let current = sys.mount_flags(root).map_err(err)?;
            sys.mount(None, root, None, flags | current, None)
                .map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

/// A bind of the path onto itself, remounted read-only with its nosuid/nodev/noexec kept.
fn readonly_path(sys: &dyn Syscall, dir: &RootDir, path: &Path) -> Result<(), RootfsError> {
    let Some(target) = existing(dir, path)? else {
        return Ok(());
    };
    let fail = |step: &str, e: Errno| RootfsError::Mount {
        src: path.display().to_string(),
        dest: path.to_path_buf(),
        reason: format!("{step}: {}", errno_text(e)),
    };
    let proc_path = target.proc_path();
    sys.mount(
        Some(&proc_path),
        &proc_path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| fail("bind", e))?;
    let top = dir.resolve(path, Create::Nothing)?;
    let locked = sys
        .mount_flags(&top.proc_path())
        .map_err(|e| fail("statfs", e))?
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let flags = locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    sys.mount(None, &top.proc_path(), None, flags, None)
        .map_err(|e| fail("remount read-only", e))
}

/// Hides a path: /dev/null over a file, an empty read-only tmpfs over a directory.
fn mask_path(
    sys: &dyn Syscall,
    dir: &RootDir,
    path: &Path,
    dev_null: &Path,
) -> Result<(), RootfsError> {
    let Some(target) = existing(dir, path)? else {
        return Ok(());
    };
    let st = fstat(target.fd()).map_err(|errno| RootfsError::Sys {
        what: "stat",
        path: path.into(),
        errno,
    })?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR;
    let res = if is_dir {
        sys.mount(
            Some(Path::new("tmpfs")),
            &target.proc_path(),
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        )
    } else {
        sys.mount(
            Some(dev_null),
            &target.proc_path(),
            None,
            MsFlags::MS_BIND,
            None,
        )
    };
    res.map_err(|e| RootfsError::Mount {
        src: if is_dir {
            "tmpfs".into()
        } else {
            "/dev/null".into()
        },
        dest: path.to_path_buf(),
        reason: format!("mask: {}", errno_text(e)),
    })
}
