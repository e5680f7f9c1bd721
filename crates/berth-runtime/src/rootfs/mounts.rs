//! Making one spec mount inside the rootfs.
//!
//! Every destination is resolved with [`RootDir`] and mounted through `/proc/self/fd/N`.
//! After a mount, the fd still names the directory *under* the new mount, so any follow-up
//! (bind remount for flags, propagation changes) re-resolves the path to reach the new mount.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, fstatat, SFlag};

use super::options::{ATIME_FLAGS, LOCKED_FLAGS};
use super::paths::{Create, Resolved, RootDir};
use super::plan::{sysfs_bind, Kind, PlannedMount};
use super::{cgroup, errno_text, RootfsError};
use crate::syscall::Syscall;

/// What every mount needs: the kernel, the rootfs, and namespace facts.
pub(crate) struct Ctx<'a> {
    pub(crate) sys: &'a dyn Syscall,
    pub(crate) root: &'a RootDir,
    pub(crate) new_cgroup_ns: bool,
}

/// procfs paths that may be bind-mounted over (what lxcfs emulates); anything else under
/// /proc could hide the kernel's view from security tools or expose a host file.
const PROC_ALLOWED: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// The filesystems that are mounted read-write and made read-only in `finalize`, because
/// their contents are created after mounting (device nodes, nested mountpoints).
pub(crate) fn delays_readonly(m: &PlannedMount) -> bool {
    matches!(&m.kind, Kind::Fs { fstype } if fstype == "tmpfs") || m.dest == Path::new("/dev")
}

/// Mounts `m` into the rootfs.
pub(crate) fn mount(ctx: &Ctx<'_>, m: &PlannedMount) -> Result<(), RootfsError> {
    match &m.kind {
        Kind::Bind {
            source,
            source_is_dir,
        } => bind(ctx, m, source, *source_is_dir),
        Kind::Proc => fresh(ctx, m, "proc", true),
        Kind::Sysfs => match fresh(ctx, m, "sysfs", true) {
            Err(RootfsError::Mount { reason, .. }) if reason == errno_text(Errno::EPERM) => {
                let (opts, source) = sysfs_bind(m.opts.clone());
                let bind_m = PlannedMount {
                    opts,
                    source,
                    ..m.clone()
                };
                bind(ctx, &bind_m, Path::new("/sys"), true)
            }
            other => other,
        },
        Kind::Cgroup => cgroup::mount(ctx, m),
        Kind::Fs { fstype } => fresh(ctx, m, fstype, false),
    }
}

/// Resolves `m.dest`, creating it as `create` says, and checks it is an acceptable place.
pub(crate) fn target(
    ctx: &Ctx<'_>,
    m: &PlannedMount,
    create: Create,
) -> Result<Resolved, RootfsError> {
    let resolved = ctx.root.resolve(&m.dest, create).map_err(|e| m.error(e))?;
    let rel = resolved
        .host_path
        .strip_prefix(ctx.root.path())
        .map(|p| Path::new("/").join(p))
        .unwrap_or_else(|_| PathBuf::from("/"));
    if rel == Path::new("/") {
        return Err(m.error("mountpoint resolves to the root of the container"));
    }
    check_proc(m, &rel)?;
    Ok(resolved)
}

/// Mounts under /proc are refused except the lxcfs-style files; /proc itself takes only a
/// procfs (fresh, or a bind of one).
fn check_proc(m: &PlannedMount, rel: &Path) -> Result<(), RootfsError> {
    if !rel.starts_with("/proc") {
        return Ok(());
    }
    if rel == Path::new("/proc") {
        let ok = match &m.kind {
            Kind::Proc => true,
            Kind::Bind { source, .. } => nix::sys::statfs::statfs(source)
                .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC),
            _ => false,
        };
        return if ok {
            Ok(())
        } else {
            Err(m.error("only a procfs can be mounted on /proc"))
        };
    }
    if PROC_ALLOWED.iter().any(|p| rel == Path::new(p)) {
        return Ok(());
    }
    Err(m.error(format!("{} is inside /proc", rel.display())))
}

/// A new filesystem instance (proc, sysfs, tmpfs, devpts, mqueue, anything else).
fn fresh(
    ctx: &Ctx<'_>,
    m: &PlannedMount,
    fstype: &str,
    must_be_dir: bool,
) -> Result<(), RootfsError> {
    let existing = ctx.root.resolve(&m.dest, Create::Nothing).ok();
    if must_be_dir {
        // Do not follow a final symlink for proc/sysfs: a "/proc -> /somewhere" link in the
        // image is refused rather than silently moving the kernel's views elsewhere.
        let (parent, name) = ctx
            .root
            .resolve_parent(&m.dest, true)
            .map_err(|e| m.error(e))?;
        match fstatat(
            parent.fd().as_fd(),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st)
                if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
                    != SFlag::S_IFDIR =>
            {
                return Err(m.error(format!(
                    "filesystem {fstype} must be mounted on ordinary directory"
                )));
            }
            _ => {}
        }
    }
    let mut data = m.opts.data.clone();
    if fstype == "tmpfs" && !data.iter().any(|d| d.starts_with("mode=")) {
        // A tmpfs over an existing directory keeps that directory's mode (e.g. 1777 for
        // /tmp), as runc does; an explicit mode= in the spec wins.
        if let Some(st) = existing.as_ref().and_then(|r| fstat(r.fd()).ok()) {
            data.insert(0, format!("mode={:04o}", st.st_mode & 0o7777));
        }
    }
    let dst = target(ctx, m, Create::Dir)?;
    let mut flags = m.opts.set;
    if delays_readonly(m) {
        flags.remove(MsFlags::MS_RDONLY);
    }
    let data = (!data.is_empty()).then(|| data.join(","));
    ctx.sys
        .mount(
            Some(Path::new(&m.source)),
            &dst.proc_path(),
            Some(fstype),
            flags,
            data.as_deref(),
        )
        .map_err(|e| m.error(errno_text(e)))?;
    propagate(ctx, m)?;
    recursive_attrs(ctx, m)
}

/// A bind mount: the bind itself, then a bind remount to apply flags (MS_BIND ignores all
/// flags but MS_REC), then propagation.
fn bind(
    ctx: &Ctx<'_>,
    m: &PlannedMount,
    source: &Path,
    source_is_dir: bool,
) -> Result<(), RootfsError> {
    let create = if source_is_dir {
        Create::Dir
    } else {
        Create::File
    };
    let dst = target(ctx, m, create)?;
    let bind_flags = MsFlags::MS_BIND | (m.opts.set & MsFlags::MS_REC);
    ctx.sys
        .mount(Some(source), &dst.proc_path(), None, bind_flags, None)
        .map_err(|e| m.error(errno_text(e)))?;
    let wanted = m.opts.set - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !wanted.is_empty() || !m.opts.cleared.is_empty() {
        let top = ctx
            .root
            .resolve(&m.dest, Create::Nothing)
            .map_err(|e| m.error(e))?;
        remount_bind(ctx.sys, &top.proc_path(), source, wanted, m.opts.cleared)
            .map_err(|e| m.error(e))?;
    }
    propagate(ctx, m)?;
    recursive_attrs(ctx, m)
}

/// Applies `wanted` to the bind mount at `target` with MS_REMOUNT|MS_BIND, like
/// `mount --bind -o ...`: only the requested flags. When that fails with EPERM the source has
/// locked flags (a user namespace cannot clear nosuid/nodev/noexec/ro or change atime flags
/// of a mount it inherited), so retry with those flags kept, unless the user explicitly asked
/// to clear one of them.
pub(crate) fn remount_bind(
    sys: &dyn Syscall,
    target: &Path,
    source: &Path,
    wanted: MsFlags,
    cleared: MsFlags,
) -> Result<(), String> {
    let flags = wanted | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let first = match sys.mount(None, target, None, flags, None) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if first != Errno::EPERM {
        return Err(format!(
            "remount with {}: {}",
            flags_text(wanted),
            errno_text(first)
        ));
    }
    let src_flags = sys
        .mount_flags(source)
        .map_err(|e| format!("statfs {}: {}", source.display(), errno_text(e)))?;
    let locked_cleared = src_flags & cleared & LOCKED_FLAGS;
    if !locked_cleared.is_empty() {
        return Err(format!(
            "cannot clear locked flags {}: {}",
            flags_text(locked_cleared),
            errno_text(first)
        ));
    }
    let wanted_atime = wanted & ATIME_FLAGS;
    if !wanted_atime.is_empty() && wanted_atime != src_flags & ATIME_FLAGS {
        return Err(format!(
            "cannot change locked atime flags {}: {}",
            flags_text(src_flags & ATIME_FLAGS),
            errno_text(first)
        ));
    }
    let keep = src_flags & (LOCKED_FLAGS | ATIME_FLAGS);
    sys.mount(None, target, None, flags | keep, None)
        .map_err(|e| {
            format!(
                "remount with locked flags {} kept: {}",
                flags_text(keep),
                errno_text(e)
            )
        })
}

/// Applies the mount's propagation options, each its own mount(2), on the new mount.
fn propagate(ctx: &Ctx<'_>, m: &PlannedMount) -> Result<(), RootfsError> {
    if m.opts.propagation.is_empty() {
        return Ok(());
    }
    let top = ctx
        .root
        .resolve(&m.dest, Create::Nothing)
        .map_err(|e| m.error(e))?;
    for flags in &m.opts.propagation {
        ctx.sys
            .mount(None, &top.proc_path(), None, *flags, None)
            .map_err(|e| m.error(format!("set propagation: {}", errno_text(e))))?;
    }
    Ok(())
}

/// Applies `rro`-style options to the whole mounted tree with mount_setattr(2).
fn recursive_attrs(ctx: &Ctx<'_>, m: &PlannedMount) -> Result<(), RootfsError> {
    if m.opts.rec_set == 0 && m.opts.rec_clear == 0 {
        return Ok(());
    }
    let top = ctx
        .root
        .resolve(&m.dest, Create::Nothing)
        .map_err(|e| m.error(e))?;
    ctx.sys
        .mount_setattr(&top.proc_path(), true, m.opts.rec_set, m.opts.rec_clear)
        .map_err(|e| m.error(format!("set recursive mount attributes: {}", errno_text(e))))
}

/// Mount flags as mount(8) options, for messages.
pub(crate) fn flags_text(flags: MsFlags) -> String {
    let names = [
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
        (MsFlags::MS_NOATIME, "noatime"),
        (MsFlags::MS_NODIRATIME, "nodiratime"),
        (MsFlags::MS_RELATIME, "relatime"),
        (MsFlags::MS_STRICTATIME, "strictatime"),
        (MsFlags::MS_SYNCHRONOUS, "sync"),
        (MsFlags::MS_DIRSYNC, "dirsync"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if parts.is_empty() {
        "no flags".into()
    } else {
        parts.join(",")
    }
}
