//! cgroup v2: one directory in the unified hierarchy. Controllers must be enabled in
//! `cgroup.subtree_control` of every ancestor before their files appear in the leaf, which
//! [`Manager::create`] does from the root down, as runc does.
//!
//! The per-controller modules are also used by the v1 manager on hybrid hosts for the
//! controllers that only the unified hierarchy has.

pub mod cpu;
pub mod cpuset;
pub mod freezer;
pub mod hugetlb;
pub mod io;
pub mod memory;
pub mod pids;
pub mod rdma;
pub mod unified;

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::detect::Hierarchy;
use crate::devices;
use crate::devices_ebpf;
use crate::error::{Error, Result};
use crate::fs::{self, CgroupDir};
use crate::path::CgroupsPath;
use crate::stats::Stats;
use crate::FreezerState;

/// A container's cgroup in the unified hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    root: PathBuf,
    dir: CgroupDir,
    /// The shared default parent (`/berth`), removed on destroy when empty.
    default_parent: Option<PathBuf>,
}

/// The controllers listed in a directory's `cgroup.controllers`.
pub fn controllers(dir: &CgroupDir) -> Result<Vec<String>> {
    Ok(dir
        .read_opt("cgroup.controllers")?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

impl Manager {
    /// The cgroup `path` in hierarchy `h`; `default_parent` marks the `/berth/<id>` form.
    pub fn new(h: &Hierarchy, path: &CgroupsPath, default_parent: bool) -> Manager {
        let dir = path.dir_in(h);
        let default_parent = default_parent
            .then(|| dir.parent().map(Path::to_path_buf))
            .flatten();
        Manager {
            root: h.mount_point.clone(),
            dir: CgroupDir::new(dir),
            default_parent,
        }
    }

    /// The cgroup directory (for `clone3(CLONE_INTO_CGROUP)`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The hierarchy's mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory helper.
    pub fn dir(&self) -> &CgroupDir {
        &self.dir
    }

    /// Create the cgroup's directories only, enabling no controller (hybrid hosts).
    pub fn create_plain(&self) -> Result<()> {
        fs::mkdir_all(self.dir.path()).map(|_| ())
    }

    /// Create the cgroup, enabling every available controller on each ancestor from the
    /// hierarchy root down. Idempotent.
    pub fn create(&self) -> Result<()> {
        let rel = self
            .dir
            .path()
            .strip_prefix(&self.root)
            .map_err(|_| Error::InvalidPath {
                path: self.dir.path().display().to_string(),
                reason: format!("not below {}", self.root.display()),
            })?
            .to_path_buf();
        let mut cur = CgroupDir::new(&self.root);
        for comp in rel.components() {
            enable_controllers(&cur)?;
            let next = cur.child(&comp.as_os_str().to_string_lossy());
            fs::mkdir_all(next.path())?;
            cur = next;
        }
        Ok(())
    }

    /// Write the resources; fails naming the controller when one is not enabled here.
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        let avail = controllers(&self.dir)?;
        let need = |c: &'static str| -> Result<()> {
            if avail.iter().any(|a| a == c) {
                Ok(())
            } else {
                Err(Error::MissingController {
                    controller: c,
                    path: self.dir.path().to_path_buf(),
                })
            }
        };
        let d = &self.dir;
        if let Some(p) = r.pids().as_ref().filter(|p| pids::wants(p)) {
            need("pids")?;
            pids::apply(d, p)?;
        }
        if let Some(m) = r.memory().as_ref().filter(|m| memory::wants(m)) {
            need("memory")?;
            memory::apply(d, m)?;
        } else if let Some(m) = r.memory() {
            // Only ignored settings: let apply warn about them.
            memory::apply(d, m)?;
        }
        if let Some(b) = r.block_io().as_ref().filter(|b| io::wants(b)) {
            need("io")?;
            io::apply(d, b)?;
        }
        if let Some(c) = r.cpu() {
            if cpu::wants(c) {
                need("cpu")?;
                cpu::apply(d, c)?;
            }
            if cpuset::wants(c) {
                need("cpuset")?;
                cpuset::apply(d, c)?;
            }
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            need("hugetlb")?;
            hugetlb::apply(d, h)?;
        }
        if let Some(rd) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            need("rdma")?;
            rdma::apply(d, rd)?;
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                tracing::warn!("network classid/priorities do not exist in cgroup v2; ignored");
            }
        }
        if let Some(u) = r.unified() {
            unified::apply(d, u)?;
        }
        if let Some(devs) = r.devices() {
            let rules = devices::from_oci(devs)?;
            devices_ebpf::attach(self.dir.path(), &rules)?;
        }
        Ok(())
    }

    /// Move a process (and its threads) into the cgroup.
    pub fn add_task(&self, pid: i32) -> Result<()> {
        self.dir.append("cgroup.procs", pid.to_string())
    }

    /// Freeze or thaw, waiting for completion.
    pub fn set_freezer(&self, state: FreezerState) -> Result<()> {
        freezer::set(&self.dir, state)
    }

    /// The current freezer state.
    pub fn freezer_state(&self) -> Result<FreezerState> {
        freezer::state(&self.dir)
    }

    /// Every process in the cgroup and below.
    pub fn pids(&self) -> Result<Vec<i32>> {
        self.dir.procs_recursive()
    }

    /// Read all stats; controllers not enabled here leave their part at zero.
    pub fn stats(&self) -> Result<Stats> {
        let d = &self.dir;
        Ok(Stats {
            cpu: cpu::stats(d)?,
            memory: memory::stats(d)?,
            pids: pids::stats(d)?,
            blkio: io::stats(d)?,
            hugetlb: hugetlb::stats(d)?,
        })
    }

    /// Remove the cgroup (and the empty default parent). Missing is success.
    pub fn destroy(&self) -> Result<()> {
        fs::remove_cgroup(self.dir.path())?;
        if let Some(p) = &self.default_parent {
            fs::remove_if_empty(p);
        }
        Ok(())
    }
}

/// Enable in `dir`'s subtree every controller `dir` has, writing only the missing ones; one
/// write first, then one per controller so a single refusal does not block the rest.
fn enable_controllers(dir: &CgroupDir) -> Result<()> {
    let avail = controllers(dir)?;
    let enabled: Vec<String> = dir
        .read_opt("cgroup.subtree_control")?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let missing: Vec<&String> = avail.iter().filter(|c| !enabled.contains(c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let all: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
    if dir.write("cgroup.subtree_control", all.join(" ")).is_ok() {
        return Ok(());
    }
    for c in missing {
        if let Err(e) = dir.write("cgroup.subtree_control", format!("+{c}")) {
            tracing::warn!(error = %e, "controller {c} not enabled");
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
