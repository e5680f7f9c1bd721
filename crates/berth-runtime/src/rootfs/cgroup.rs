//! The `cgroup` mount type.
//!
//! On a cgroup v2 (unified) host it is a cgroup2 mount — in a new cgroup namespace that shows
//! the container's own cgroup as the root. On a v1 or hybrid host there is no single
//! filesystem to mount: like runc, we mount a tmpfs at the destination and, inside it, one
//! directory per v1 hierarchy (`cpu,cpuacct`, `memory`, `systemd`...) holding either a bind of
//! the container's own cgroup in that hierarchy, or (new cgroup namespace) a fresh v1 mount
//! of that hierarchy, which the namespace roots at the container's cgroup. Merged hierarchies
//! get the usual `cpu -> cpu,cpuacct` symlinks.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::mounts::{remount_bind, target, Ctx};
use super::paths::Create;
use super::plan::PlannedMount;
use super::{errno_text, RootfsError};

/// The flags runc gives the cgroup tmpfs and fresh v1 mounts.
const DEFAULT_FLAGS: MsFlags = MsFlags::MS_NOEXEC
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV);

/// One line of /proc/self/mountinfo, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// The path inside the filesystem that is mounted (the cgroup a v1 mount shows as root).
    pub(crate) root: String,
    pub(crate) mount_point: PathBuf,
    pub(crate) fstype: String,
    pub(crate) super_options: Vec<String>,
}

/// Parses /proc/self/mountinfo (proc(5)); unparseable lines are skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(MountInfo {
                root: unescape(pre.get(3)?),
                mount_point: PathBuf::from(unescape(pre.get(4)?)),
                fstype: (*post.first()?).to_owned(),
                super_options: post.get(2)?.split(',').map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of /proc/self/cgroup: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupLine {
    /// Comma-separated controllers (`cpu,cpuacct`, `name=systemd`); empty for v2.
    pub(crate) controllers: String,
    pub(crate) path: String,
}

/// Parses /proc/self/cgroup.
pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            Some(CgroupLine {
                controllers: parts.next()?.to_owned(),
                path: parts.next()?.to_owned(),
            })
        })
        .collect()
}

/// Whether /sys/fs/cgroup is a cgroup2 mount (a unified host; hybrid hosts are v1 here).
pub(crate) fn is_unified(mounts: &[MountInfo]) -> bool {
    mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/sys/fs/cgroup"))
        .is_some_and(|m| m.fstype == "cgroup2")
}

/// One v1 hierarchy as the container will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Hierarchy {
    /// Directory name under the destination: the host mount point's base name.
    pub(crate) name: String,
    /// Host path of the container's own cgroup in it (bind source).
    pub(crate) source: PathBuf,
    /// The mount data selecting the hierarchy (`cpu,cpuacct`, `name=systemd`).
    pub(crate) controllers: String,
}

/// The v1 hierarchies mounted on the host, each with our own cgroup in it. A hierarchy is
/// matched to its /proc/self/cgroup line by its controllers; when our cgroup is not below the
/// mount's root (another namespace's view), the mount's root is used.
pub(crate) fn v1_hierarchies(mounts: &[MountInfo], cgroups: &[CgroupLine]) -> Vec<V1Hierarchy> {
    let mut out: Vec<V1Hierarchy> = Vec::new();
    for m in mounts.iter().filter(|m| m.fstype == "cgroup") {
        let Some(line) = cgroups.iter().find(|l| {
            !l.controllers.is_empty()
                && l.controllers
                    .split(',')
                    .all(|c| m.super_options.iter().any(|o| o == c))
        }) else {
            continue;
        };
        let Some(name) = m.mount_point.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if out
            .iter()
            .any(|h| h.controllers == line.controllers || h.name == name)
        {
            continue; // the same hierarchy mounted twice
        }
        let rel = Path::new(&line.path)
            .strip_prefix(&m.root)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let source = if rel.as_os_str().is_empty() {
            m.mount_point.clone()
        } else {
            m.mount_point.join(rel)
        };
        out.push(V1Hierarchy {
            name: name.to_owned(),
            source,
            controllers: line.controllers.clone(),
        });
    }
    out
}

/// Mounts the spec's `cgroup` mount `m`, reading the host's mountinfo and our cgroups.
pub(crate) fn mount(ctx: &Ctx<'_>, m: &PlannedMount) -> Result<(), RootfsError> {
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| m.error(format!("read {p}: {e}")));
    let mounts = parse_mountinfo(&read("/proc/self/mountinfo")?);
    let cgroups = parse_proc_cgroup(&read("/proc/self/cgroup")?);
    mount_with(ctx, m, &mounts, &cgroups)
}

/// [`mount`] with the host's mount table and our cgroups given (tests pass crafted ones).
pub(crate) fn mount_with(
    ctx: &Ctx<'_>,
    m: &PlannedMount,
    mounts: &[MountInfo],
    cgroups: &[CgroupLine],
) -> Result<(), RootfsError> {
    if is_unified(mounts) {
        mount_v2(ctx, m, cgroups)
    } else {
        mount_v1(ctx, m, &v1_hierarchies(mounts, cgroups))
    }
}

fn mount_v2(ctx: &Ctx<'_>, m: &PlannedMount, cgroups: &[CgroupLine]) -> Result<(), RootfsError> {
    let dst = target(ctx, m, Create::Dir)?;
    let flags = m.opts.set;
    let data = m.opts.data_string();
    match ctx.sys.mount(
        Some(Path::new("cgroup")),
        &dst.proc_path(),
        Some("cgroup2"),
        flags,
        data.as_deref(),
    ) {
        Ok(()) => return Ok(()),
        Err(Errno::EPERM | Errno::EBUSY) => {}
        Err(e) => return Err(m.error(errno_text(e))),
    }
    // In a user namespace without its own cgroup namespace cgroup2 cannot be mounted: bind
    // the host's (or, with a cgroup namespace, our own part of it) instead.
    let own = cgroups
        .iter()
        .find(|l| l.controllers.is_empty())
        .map(|l| l.path.as_str());
    let source = match own {
        Some(path) if ctx.new_cgroup_ns => {
            Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'))
        }
        _ => PathBuf::from("/sys/fs/cgroup"),
    };
    ctx.sys
        .mount(
            Some(&source),
            &dst.proc_path(),
            None,
            MsFlags::MS_BIND,
            None,
        )
        .map_err(|e| m.error(format!("bind {}: {}", source.display(), errno_text(e))))?;
    let wanted = flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
    if !wanted.is_empty() {
        let top = ctx
            .root
            .resolve(&m.dest, Create::Nothing)
            .map_err(|e| m.error(e))?;
        remount_bind(ctx.sys, &top.proc_path(), &source, wanted, m.opts.cleared)
            .map_err(|e| m.error(e))?;
    }
    Ok(())
}

fn mount_v1(
    ctx: &Ctx<'_>,
    m: &PlannedMount,
    hierarchies: &[V1Hierarchy],
) -> Result<(), RootfsError> {
    let dst = target(ctx, m, Create::Dir)?;
    ctx.sys
        .mount(
            Some(Path::new("tmpfs")),
            &dst.proc_path(),
            Some("tmpfs"),
            DEFAULT_FLAGS,
            Some("mode=755"),
        )
        .map_err(|e| m.error(format!("tmpfs: {}", errno_text(e))))?;
    let readonly = m.opts.readonly();
    for h in hierarchies {
        let sub = ctx
            .root
            .resolve(&m.dest.join(&h.name), Create::Dir)
            .map_err(|e| m.error(e))?;
        if ctx.new_cgroup_ns {
            let mut flags = DEFAULT_FLAGS;
            if readonly {
                flags |= MsFlags::MS_RDONLY;
            }
            let source = if h.controllers == "name=systemd" {
                "systemd"
            } else {
                "cgroup"
            };
            ctx.sys
                .mount(
                    Some(Path::new(source)),
                    &sub.proc_path(),
                    Some("cgroup"),
                    flags,
                    Some(&h.controllers),
                )
                .map_err(|e| m.error(format!("cgroup {}: {}", h.controllers, errno_text(e))))?;
        } else {
            ctx.sys
                .mount(
                    Some(&h.source),
                    &sub.proc_path(),
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .map_err(|e| m.error(format!("bind {}: {}", h.source.display(), errno_text(e))))?;
            let wanted = m.opts.set - (MsFlags::MS_BIND | MsFlags::MS_REC);
            if !wanted.is_empty() {
                let top = ctx
                    .root
                    .resolve(&m.dest.join(&h.name), Create::Nothing)
                    .map_err(|e| m.error(e))?;
                remount_bind(ctx.sys, &top.proc_path(), &h.source, wanted, m.opts.cleared)
                    .map_err(|e| m.error(e))?;
            }
        }
    }
    let top = ctx
        .root
        .resolve(&m.dest, Create::Nothing)
        .map_err(|e| m.error(e))?;
    for h in hierarchies.iter().filter(|h| h.name.contains(',')) {
        for single in h.name.split(',') {
            match ctx
                .sys
                .symlink(Path::new(&h.name), &top.child(single.as_ref()))
            {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(m.error(format!("symlink {single}: {}", errno_text(e)))),
            }
        }
    }
    if readonly {
        ctx.sys
            .mount(
                None,
                &top.proc_path(),
                None,
                DEFAULT_FLAGS | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
                None,
            )
            .map_err(|e| m.error(format!("remount tmpfs read-only: {}", errno_text(e))))?;
    }
    for flags in &m.opts.propagation {
        ctx.sys
            .mount(None, &top.proc_path(), None, *flags, None)
            .map_err(|e| m.error(format!("set propagation: {}", errno_text(e))))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
