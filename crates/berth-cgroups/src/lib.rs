//! Container cgroups: one interface over cgroup v1 (including hybrid hosts) and cgroup v2.
//!
//! ```no_run
//! # fn main() -> berth_cgroups::Result<()> {
//! use berth_cgroups::Manager;
//! let m = Manager::new(None, "c1")?; // /berth/c1 in every hierarchy
//! m.create()?;
//! // m.apply(&spec_resources)?; m.add_task(pid)?;  ...  m.destroy()?;
//! # Ok(()) }
//! ```
//!
//! The layout is detected from `/proc/self/mountinfo`; [`Manager`] dispatches to the v1
//! ([`v1::Manager`]) or v2 ([`v2::Manager`]) implementation. On hybrid hosts the v1 manager
//! uses the unified hierarchy for what no v1 hierarchy holds.

pub mod detect;
pub mod devices;
pub mod devices_ebpf;
mod error;
pub mod fs;
pub mod hugepages;
pub mod path;
pub mod stats;
pub mod v1;
pub mod v2;

use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

pub use detect::{CgroupMode, Layout};
pub use error::{Error, Result};
pub use path::CgroupsPath;
pub use stats::Stats;

/// Whether a cgroup's processes are frozen (the runtime's "paused").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// Running normally (also reported while v1 is still FREEZING).
    Thawed,
    /// All processes frozen.
    Frozen,
}

/// The controllers this crate can configure, for the runtime's `features` output.
pub const SUPPORTED_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "io", "hugetlb", "devices", "freezer",
    "net_cls", "net_prio", "rdma",
];

/// See [`Manager::self_join`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfJoin {
    /// v1 `tasks` files the child writes `0` to (it must be single-threaded).
    pub tasks_files: Vec<PathBuf>,
    /// The cgroup2 directory to pass to `clone3(CLONE_INTO_CGROUP)`.
    pub unified_dir: Option<PathBuf>,
}

/// One container's cgroup, on whatever cgroup version the host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// Legacy or hybrid host.
    V1(v1::Manager),
    /// Unified (v2-only) host.
    V2(v2::Manager),
}

impl Manager {
    /// Detect the host's layout and name the container's cgroup from the spec's
    /// `cgroupsPath` (`None`/empty → `/berth/<container_id>`). Nothing is created yet.
    pub fn new(cgroups_path: Option<&str>, container_id: &str) -> Result<Manager> {
        Manager::with_layout(&Layout::detect()?, cgroups_path, container_id)
    }

    /// Like [`Manager::new`] on a given layout (tests point it at a temporary directory).
    pub fn with_layout(
        layout: &Layout,
        cgroups_path: Option<&str>,
        container_id: &str,
    ) -> Result<Manager> {
        let path = CgroupsPath::parse(cgroups_path, container_id)?;
        let default = path.is_default_for(container_id);
        Ok(match (layout.mode(), &layout.unified) {
            (CgroupMode::Unified, Some(u)) => Manager::V2(v2::Manager::new(u, &path, default)),
            _ => Manager::V1(v1::Manager::new(layout, &path, default)),
        })
    }

    /// Legacy, hybrid or unified.
    pub fn mode(&self) -> CgroupMode {
        match self {
            Manager::V1(m) if m.unified().is_some() => CgroupMode::Hybrid,
            Manager::V1(_) => CgroupMode::Legacy,
            Manager::V2(_) => CgroupMode::Unified,
        }
    }

    /// Create the cgroup (every v1 hierarchy; on v2 with controllers enabled on each
    /// ancestor). Idempotent.
    pub fn create(&self) -> Result<()> {
        match self {
            Manager::V1(m) => m.create(),
            Manager::V2(m) => m.create(),
        }
    }

    /// Write the files the resources set (and only those).
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        match self {
            Manager::V1(m) => m.apply(r),
            Manager::V2(m) => m.apply(r),
        }
    }

    /// Move a process (all its threads) into the cgroup.
    pub fn add_task(&self, pid: i32) -> Result<()> {
        match self {
            Manager::V1(m) => m.add_task(pid),
            Manager::V2(m) => m.add_task(pid),
        }
    }

    /// How a freshly cloned, single-threaded child joins this cgroup by itself, cheaply.
    ///
    /// Why: every `cgroup.procs` write takes the kernel's global threadgroup lock for writing,
    /// which waits out an RCU grace period (about 6 ms here) whenever that lock was idle — the
    /// largest single cost of starting a container. Writing `0` to a v1 hierarchy's `tasks` file
    /// moves only the calling thread and skips that lock; the unified hierarchy (pure v2, or a
    /// hybrid host's `unified` mount) is joined at birth with `clone3(CLONE_INTO_CGROUP)`.
    pub fn self_join(&self) -> SelfJoin {
        match self {
            Manager::V1(m) => SelfJoin {
                tasks_files: m.tasks_files(),
                unified_dir: m.unified().map(|u| u.path().to_path_buf()),
            },
            Manager::V2(m) => SelfJoin {
                tasks_files: Vec::new(),
                unified_dir: Some(m.path().to_path_buf()),
            },
        }
    }

    /// On a unified host, the cgroup directory: open it and pass the fd to
    /// `clone3(CLONE_INTO_CGROUP)` to start the process inside. `None` on v1/hybrid hosts,
    /// where that flag cannot place a process in the v1 hierarchies (use [`Manager::add_task`]).
    pub fn unified_path(&self) -> Option<PathBuf> {
        match self {
            Manager::V1(_) => None,
            Manager::V2(m) => Some(m.path().to_path_buf()),
        }
    }

    /// [`Manager::unified_path`] opened as `clone3` wants it (`O_RDONLY | O_DIRECTORY |
    /// O_CLOEXEC`; an `O_PATH` descriptor would be refused by `CLONE_INTO_CGROUP`).
    pub fn unified_dir_fd(&self) -> Result<Option<OwnedFd>> {
        let Some(p) = self.unified_path() else {
            return Ok(None);
        };
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&p)
            .map_err(|e| Error::Io {
                op: "open",
                path: p,
                source: e,
            })?;
        Ok(Some(OwnedFd::from(f)))
    }

    /// Every directory of this cgroup (one per hierarchy).
    pub fn paths(&self) -> Vec<PathBuf> {
        match self {
            Manager::V1(m) => m.paths(),
            Manager::V2(m) => vec![m.path().to_path_buf()],
        }
    }

    /// Freeze all processes, returning once the kernel reports them frozen.
    pub fn freeze(&self) -> Result<()> {
        self.set_freezer(FreezerState::Frozen)
    }

    /// Thaw all processes.
    pub fn thaw(&self) -> Result<()> {
        self.set_freezer(FreezerState::Thawed)
    }

    fn set_freezer(&self, s: FreezerState) -> Result<()> {
        match self {
            Manager::V1(m) => m.set_freezer(s),
            Manager::V2(m) => m.set_freezer(s),
        }
    }

    /// Whether the cgroup is frozen.
    pub fn state(&self) -> Result<FreezerState> {
        match self {
            Manager::V1(m) => m.freezer_state(),
            Manager::V2(m) => m.freezer_state(),
        }
    }

    /// The pids of every process in the cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>> {
        match self {
            Manager::V1(m) => m.pids(),
            Manager::V2(m) => m.pids(),
        }
    }

    /// Resource usage.
    pub fn stats(&self) -> Result<Stats> {
        match self {
            Manager::V1(m) => m.stats(),
            Manager::V2(m) => m.stats(),
        }
    }

    /// Remove the cgroup (after the caller killed its processes); succeeds if already gone.
    pub fn destroy(&self) -> Result<()> {
        match self {
            Manager::V1(m) => m.destroy(),
            Manager::V2(m) => m.destroy(),
        }
    }
}

/// What this crate supports, in the OCI `features` document's shape (`linux.cgroup`):
/// v1 and v2 yes, rdma yes; systemd no, since `slice:prefix:name` paths are mapped onto
/// cgroupfs without asking systemd over D-Bus to create the scope.
pub fn oci_features() -> oci_spec::runtime::Cgroup {
    let mut c = oci_spec::runtime::Cgroup::default();
    c.set_v1(Some(true))
        .set_v2(Some(true))
        .set_systemd(Some(false))
        .set_systemd_user(Some(false))
        .set_rdma(Some(true));
    c
}

/// The controllers available on this host, whichever hierarchy holds them (for `features`).
pub fn host_controllers() -> Result<BTreeSet<String>> {
    let layout = Layout::detect()?;
    let mut out: BTreeSet<String> = layout
        .v1
        .iter()
        .flat_map(|h| h.controllers.iter().cloned())
        .collect();
    if let Some(u) = &layout.unified {
        out.extend(v2::controllers(&fs::CgroupDir::new(&u.mount_point))?);
        // The v2 device and freezer controls are not listed in cgroup.controllers.
        out.insert("devices".into());
        out.insert("freezer".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_document() {
        let v = serde_json::to_value(oci_features()).expect("serialize");
        assert_eq!(
            v,
            serde_json::json!({"v1": true, "v2": true, "systemd": false,
                               "systemdUser": false, "rdma": true})
        );
    }

    #[test]
    fn unified_layout_gives_v2_and_clone_into_cgroup_path() {
        let layout = Layout::parse(
            "30 24 0:24 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            "0::/\n",
        )
        .expect("layout");
        let m = Manager::with_layout(&layout, None, "c9").expect("manager");
        assert_eq!(m.mode(), CgroupMode::Unified);
        assert_eq!(
            m.unified_path(),
            Some(PathBuf::from("/sys/fs/cgroup/berth/c9"))
        );
        let hybrid = Layout::parse(
            "1 0 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             2 0 0:2 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            "4:memory:/\n0::/\n",
        )
        .expect("layout");
        let m = Manager::with_layout(&hybrid, Some("/a/b"), "c9").expect("manager");
        assert_eq!(m.mode(), CgroupMode::Hybrid);
        assert_eq!(m.unified_path(), None);
        assert_eq!(
            m.paths(),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/a/b"),
                PathBuf::from("/sys/fs/cgroup/unified/a/b")
            ]
        );
    }
}
