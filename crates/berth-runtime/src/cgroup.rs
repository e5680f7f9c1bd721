//! The runtime's view of a container's cgroup (temporary minimal cgroupfs backend; replaced by
//! `berth-cgroups` when its manager lands).

use std::fs;
use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
#[error("cgroup {path}: {source}")]
pub struct CgroupError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// A container's cgroup.
pub struct Cgroup {
    dirs: Vec<PathBuf>,
}

fn err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError {
        path: path.to_path_buf(),
        source,
    }
}

impl Cgroup {
    /// Locates (does not create) the cgroup.
    pub fn open(cgroups_path: &str, id: &str) -> Result<Cgroup, CgroupError> {
        let rel = if cgroups_path.is_empty() {
            format!("berth/{id}")
        } else {
            cgroups_path.trim_start_matches('/').to_owned()
        };
        let mut dirs = Vec::new();
        for c in [
            "cpu", "cpuset", "memory", "pids", "blkio", "devices", "freezer",
        ] {
            let base = PathBuf::from("/sys/fs/cgroup").join(c);
            if base.join("cgroup.procs").exists() {
                dirs.push(base.join(&rel));
            }
        }
        Ok(Cgroup { dirs })
    }

    /// Creates the directories.
    pub fn create(&self, _res: Option<&LinuxResources>) -> Result<(), CgroupError> {
        for d in &self.dirs {
            fs::create_dir_all(d).map_err(err(d))?;
            if d.starts_with("/sys/fs/cgroup/cpuset") {
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    let parent = d.parent().map(|p| p.join(f));
                    if let Some(p) = parent {
                        let v = fs::read_to_string("/sys/fs/cgroup/cpuset/".to_owned() + f)
                            .unwrap_or_default();
                        let _ = fs::write(&p, v.trim());
                        let _ = fs::write(d.join(f), v.trim());
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies new limits (not supported by this backend).
    pub fn update(&self, _res: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }

    /// Moves a process into the cgroup.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        for d in &self.dirs {
            let f = d.join("cgroup.procs");
            fs::write(&f, pid.to_string()).map_err(err(&f))?;
        }
        Ok(())
    }

    /// Every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let Some(d) = self
            .dirs
            .iter()
            .find(|d| d.starts_with("/sys/fs/cgroup/pids"))
        else {
            return Ok(Vec::new());
        };
        let f = d.join("cgroup.procs");
        match fs::read_to_string(&f) {
            Ok(s) => Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(err(&f)(e)),
        }
    }

    fn freezer(&self) -> Option<PathBuf> {
        self.dirs
            .iter()
            .find(|d| d.starts_with("/sys/fs/cgroup/freezer"))
            .map(|d| d.join("freezer.state"))
    }

    /// Freezes or thaws every process.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        if let Some(f) = self.freezer() {
            fs::write(&f, if frozen { "FROZEN" } else { "THAWED" }).map_err(err(&f))?;
        }
        Ok(())
    }

    /// Whether the freezer holds the cgroup frozen.
    pub fn is_frozen(&self) -> bool {
        self.freezer()
            .and_then(|f| fs::read_to_string(f).ok())
            .is_some_and(|s| s.trim() == "FROZEN")
    }

    /// Removes the cgroup; succeeds if it is already gone.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        for d in &self.dirs {
            match fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(err(d)(e)),
            }
        }
        Ok(())
    }
}
