//! The runtime's view of a container's cgroup: one place that talks to `berth-cgroups`.

use berth_cgroups::Manager;
use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResources,
};
use std::os::fd::OwnedFd;

/// Device rules every container gets after the spec's own (runc's list): mknod of anything, the
/// default /dev nodes, ptys, and tun. Without them a spec's "deny all" would break /dev/null.
const ALLOWED_DEVICES: &[(LinuxDeviceType, Option<i64>, Option<i64>, &str)] = &[
    (LinuxDeviceType::C, None, None, "m"),
    (LinuxDeviceType::B, None, None, "m"),
    (LinuxDeviceType::C, Some(1), Some(3), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(8), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(7), "rwm"),
    (LinuxDeviceType::C, Some(5), Some(0), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(5), "rwm"),
    (LinuxDeviceType::C, Some(1), Some(9), "rwm"),
    (LinuxDeviceType::C, Some(5), Some(1), "rwm"),
    (LinuxDeviceType::C, Some(136), None, "rwm"),
    (LinuxDeviceType::C, Some(5), Some(2), "rwm"),
    (LinuxDeviceType::C, Some(10), Some(200), "rwm"),
];

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .access(access.to_owned());
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    // Every field is set or optional: building cannot fail.
    b.build().unwrap_or_default()
}

/// The spec's resources with the default device rules and an allow rule per `linux.devices`
/// entry appended (the spec's rules come first, so a leading "deny all" still applies to the rest).
pub fn with_default_devices(
    res: Option<&LinuxResources>,
    devices: &[LinuxDevice],
) -> LinuxResources {
    let mut res = res.cloned().unwrap_or_default();
    let mut rules = res.devices().clone().unwrap_or_default();
    for (t, ma, mi, acc) in ALLOWED_DEVICES {
        rules.push(rule(*t, *ma, *mi, acc));
    }
    for d in devices {
        rules.push(rule(d.typ(), Some(d.major()), Some(d.minor()), "rwm"));
    }
    res.set_devices(Some(rules));
    res
}

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CgroupError(#[from] berth_cgroups::Error);

/// Whether the resources ask for any limit (device rules alone do not count): a rootless
/// container without a delegated cgroup may only go on without one when nothing is limited.
pub fn wants_limits(res: Option<&LinuxResources>) -> bool {
    let Some(r) = res else { return false };
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.unified().as_ref().is_some_and(|u| !u.is_empty())
}

/// Whether we run rootless: not root, or root only of a user namespace (rootless berthd,
/// rootlesskit), where the host's cgroup tree is normally not ours to write. The initial user
/// namespace's map is exactly `0 0 4294967295`.
pub fn rootless() -> bool {
    static ROOTLESS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOTLESS.get_or_init(|| {
        !nix::unistd::geteuid().is_root()
            || std::fs::read_to_string("/proc/self/uid_map")
                .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
    })
}

/// A container's cgroup, located by the spec's `cgroupsPath` (or the default for its id).
pub struct Cgroup {
    mgr: Manager,
}

impl Cgroup {
    /// Locates (does not create) the cgroup.
    pub fn open(cgroups_path: &str, id: &str) -> Result<Cgroup, CgroupError> {
        let path = (!cgroups_path.is_empty()).then_some(cgroups_path);
        Ok(Cgroup {
            mgr: Manager::new(path, id)?,
        })
    }

    /// Creates the directories and applies the limits (see [`with_default_devices`]).
    pub fn create(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        self.mgr.create()?;
        self.mgr.apply(res)?;
        Ok(())
    }

    /// Applies new limits to a live container (`update`).
    pub fn update(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        Ok(self.mgr.apply(res)?)
    }

    /// Moves a process into the cgroup (every hierarchy).
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        Ok(self.mgr.add_task(pid)?)
    }

    /// How a fresh child can join by itself (see [`berth_cgroups::Manager::self_join`]).
    pub fn self_join(&self) -> berth_cgroups::SelfJoin {
        self.mgr.self_join()
    }

    /// Every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Ok(self.mgr.pids()?)
    }

    /// Freezes (`pause`) or thaws (`resume`) every process.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        if frozen {
            Ok(self.mgr.freeze()?)
        } else {
            Ok(self.mgr.thaw()?)
        }
    }

    /// Whether the freezer holds the cgroup frozen.
    pub fn is_frozen(&self) -> bool {
        matches!(self.mgr.state(), Ok(berth_cgroups::FreezerState::Frozen))
    }

    /// Resource statistics (for `events --stats` and the engine's `stats`).
    pub fn stats(&self) -> Result<berth_cgroups::Stats, CgroupError> {
        Ok(self.mgr.stats()?)
    }

    /// Removes the cgroup; succeeds if it is already gone.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        Ok(self.mgr.destroy()?)
    }
}

/// What the init needs to join its cgroup by itself (see `berth_cgroups::Manager::self_join`).
pub(crate) struct SelfJoinPlan {
    pub tasks: Vec<std::ffi::CString>,
    /// The cgroup2 directory for `clone3(CLONE_INTO_CGROUP)`, if the host has one.
    pub unified: Option<OwnedFd>,
}

impl SelfJoinPlan {
    /// `None` when something is off (the parent then moves the init the usual way).
    pub(crate) fn new(cg: &Cgroup) -> Option<SelfJoinPlan> {
        use std::os::unix::ffi::OsStrExt;
        let plan = cg.self_join();
        let tasks = plan
            .tasks_files
            .iter()
            .map(|p| std::ffi::CString::new(p.as_os_str().as_bytes()).ok())
            .collect::<Option<Vec<_>>>()?;
        let unified = match &plan.unified_dir {
            Some(d) => Some(
                nix::fcntl::open(
                    d.as_path(),
                    nix::fcntl::OFlag::O_RDONLY
                        | nix::fcntl::OFlag::O_DIRECTORY
                        | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .ok()?,
            ),
            None => None,
        };
        Some(SelfJoinPlan { tasks, unified })
    }
}

/// Moves the calling thread — the whole process, when it is single-threaded — into a v1 cgroup
/// by writing `0` to its `tasks` file (no global lock, see `berth_cgroups::Manager::self_join`).
pub(crate) fn join_v1_self(tasks: &std::ffi::CStr) -> nix::Result<()> {
    let fd = nix::fcntl::open(
        tasks,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    nix::unistd::write(&fd, b"0")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDeviceBuilder, LinuxResourcesBuilder};

    #[test]
    fn default_device_rules_follow_the_spec_rules() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .devices(vec![deny_all.clone()])
            .build()
            .unwrap();
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap();
        let out = with_default_devices(Some(&res), &[fuse]);
        let rules = out.devices().clone().unwrap();
        assert_eq!(rules[0], deny_all);
        assert_eq!(rules.len(), 1 + ALLOWED_DEVICES.len() + 1);
        let null = &rules[3];
        assert!(null.allow() && null.major() == Some(1) && null.minor() == Some(3));
        let last = rules.last().unwrap();
        assert_eq!((last.major(), last.minor()), (Some(10), Some(229)));
    }
}
