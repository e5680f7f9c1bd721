//! The runtime's view of a container's cgroup: one place that talks to `berth-cgroups`.

use berth_cgroups::Manager;
use oci_spec::runtime::LinuxResources;

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
#[error("cgroup: {0}")]
pub struct CgroupError(#[from] berth_cgroups::Error);

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

    /// Creates the directories and applies the limits.
    pub fn create(&self, res: Option<&LinuxResources>) -> Result<(), CgroupError> {
        self.mgr.create()?;
        if let Some(r) = res {
            self.mgr.apply(r)?;
        }
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
