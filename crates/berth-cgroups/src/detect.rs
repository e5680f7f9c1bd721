//! Finding the cgroup hierarchies: which version(s) are mounted where, and which cgroup this
//! process sits in, read from `/proc/self/mountinfo` and `/proc/self/cgroup`.
//!
//! Hybrid hosts (v1 controllers plus a cgroup2 mount, typically at `/sys/fs/cgroup/unified`)
//! are first-class: each controller is used from whichever hierarchy holds it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The v1 controllers this crate knows how to name (named hierarchies such as
/// `name=systemd` are not controllers and are left alone).
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// How the host's cgroups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 hierarchies plus a cgroup2 mount holding the controllers v1 does not.
    Hybrid,
    /// Only the v2 unified hierarchy.
    Unified,
}

/// One mounted hierarchy and where this process sits in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted (e.g. `/sys/fs/cgroup/memory`).
    pub mount_point: PathBuf,
    /// The cgroup that mount point shows (mountinfo's root field, usually `/`).
    pub mount_root: PathBuf,
    /// v1: the controllers bound to it; v2: empty (read `cgroup.controllers` instead).
    pub controllers: Vec<String>,
    /// This process's cgroup in it, as `/proc/self/cgroup` says (absolute in the hierarchy).
    pub own_cgroup: PathBuf,
}

impl Hierarchy {
    /// The directory of a cgroup given as an absolute path within the hierarchy.
    pub fn dir_of(&self, cgroup: &Path) -> PathBuf {
        let rel = cgroup.strip_prefix(&self.mount_root).unwrap_or(cgroup);
        let rel = rel.strip_prefix("/").unwrap_or(rel);
        self.mount_point.join(rel)
    }
}

/// All cgroup hierarchies visible to this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// v1 hierarchies with at least one known controller, in mount order.
    pub v1: Vec<Hierarchy>,
    /// The cgroup2 hierarchy, if mounted.
    pub unified: Option<Hierarchy>,
}

impl Layout {
    /// Read this process's mount table and cgroup membership.
    pub fn detect() -> Result<Layout> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("read", "/proc/self/mountinfo", e))?;
        let pc = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| Error::io("read", "/proc/self/cgroup", e))?;
        Layout::parse(&mi, &pc)
    }

    /// Build the layout from the text of `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Result<Layout> {
        let membership = parse_proc_cgroup(proc_cgroup);
        let mut v1: Vec<Hierarchy> = Vec::new();
        let mut unified: Option<Hierarchy> = None;
        for line in mountinfo.lines() {
            let Some(m) = parse_mountinfo_line(line) else {
                continue;
            };
            match m.fstype.as_str() {
                "cgroup" => {
                    let controllers: Vec<String> = m
                        .super_opts
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    // A second mount of an already-seen hierarchy (bind mount) adds nothing.
                    if v1.iter().any(|h| h.controllers == controllers) {
                        continue;
                    }
                    let own = controllers
                        .iter()
                        .find_map(|c| membership.get(c.as_str()))
                        .cloned()
                        .unwrap_or_else(|| PathBuf::from("/"));
                    v1.push(Hierarchy {
                        mount_point: m.mount_point,
                        mount_root: m.root,
                        controllers,
                        own_cgroup: own,
                    });
                }
                "cgroup2" => {
                    let preferred = m.mount_point == Path::new("/sys/fs/cgroup")
                        || m.mount_point == Path::new("/sys/fs/cgroup/unified");
                    if unified.is_none() || preferred {
                        let own = membership
                            .get("")
                            .cloned()
                            .unwrap_or_else(|| PathBuf::from("/"));
                        unified = Some(Hierarchy {
                            mount_point: m.mount_point,
                            mount_root: m.root,
                            controllers: Vec::new(),
                            own_cgroup: own,
                        });
                    }
                }
                _ => {}
            }
        }
        if v1.is_empty() && unified.is_none() {
            return Err(Error::Detect(
                "no cgroup or cgroup2 mount in /proc/self/mountinfo".into(),
            ));
        }
        Ok(Layout { v1, unified })
    }

    /// Legacy, hybrid or unified.
    pub fn mode(&self) -> CgroupMode {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (true, _) => CgroupMode::Unified,
            (false, true) => CgroupMode::Hybrid,
            (false, false) => CgroupMode::Legacy,
        }
    }

    /// The v1 hierarchy a controller is bound to.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
    }
}

/// The fields of a mountinfo line this module needs.
struct MountLine {
    root: PathBuf,
    mount_point: PathBuf,
    fstype: String,
    super_opts: String,
}

fn parse_mountinfo_line(line: &str) -> Option<MountLine> {
    let (pre, post) = line.split_once(" - ")?;
    let pre: Vec<&str> = pre.split(' ').collect();
    let post: Vec<&str> = post.split(' ').collect();
    if pre.len() < 5 || post.len() < 3 {
        return None;
    }
    Some(MountLine {
        root: PathBuf::from(unescape(pre[3])),
        mount_point: PathBuf::from(unescape(pre[4])),
        fstype: post[0].to_string(),
        super_opts: post[2].to_string(),
    })
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Map each controller (and "" for the unified hierarchy) to this process's cgroup.
fn parse_proc_cgroup(text: &str) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if ctrls.is_empty() {
            out.insert(String::new(), PathBuf::from(path));
        } else {
            for c in ctrls.split(',') {
                out.insert(c.to_string(), PathBuf::from(path));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MI: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_PC: &str = "\
9:name=systemd:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn hybrid_layout() {
        let l = Layout::parse(HYBRID_MI, HYBRID_PC).expect("parse");
        assert_eq!(l.mode(), CgroupMode::Hybrid);
        assert_eq!(l.v1.len(), 3, "name=systemd is not a controller hierarchy");
        let mem = l.v1_hierarchy("memory").expect("memory");
        assert_eq!(mem.mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(mem.own_cgroup, Path::new("/process_api/abc"));
        let u = l.unified.as_ref().expect("unified");
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert!(l.v1_hierarchy("hugetlb").is_none());
    }

    #[test]
    fn unified_layout_and_mount_root() {
        let mi = "30 24 0:24 /ns /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n";
        let pc = "0::/ns/user.slice/x.scope\n";
        let l = Layout::parse(mi, pc).expect("parse");
        assert_eq!(l.mode(), CgroupMode::Unified);
        let u = l.unified.expect("unified");
        assert_eq!(
            u.dir_of(Path::new("/ns/user.slice/x.scope")),
            Path::new("/sys/fs/cgroup/user.slice/x.scope")
        );
    }

    #[test]
    fn combined_v1_controllers_and_escapes() {
        let mi = "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  2 0 0:1 / /mnt/my\\040dir rw - cgroup cgroup rw,cpu,cpuacct\n\
                  3 0 0:2 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        let l = Layout::parse(mi, "1:cpu,cpuacct:/a\n2:pids:/b\n").expect("parse");
        assert_eq!(l.mode(), CgroupMode::Legacy);
        assert_eq!(l.v1.len(), 2, "the bind mount is deduplicated");
        assert_eq!(
            l.v1_hierarchy("cpuacct").map(|h| h.own_cgroup.clone()),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(unescape("my\\040dir"), "my dir");
        assert_eq!(unescape("trailing\\"), "trailing\\");
    }

    #[test]
    fn no_cgroups_is_an_error() {
        assert!(Layout::parse("1 0 0:1 / / rw - ext4 /dev/sda rw\n", "").is_err());
    }
}
