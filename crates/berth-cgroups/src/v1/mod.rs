//! cgroup v1 (legacy and hybrid hosts): one directory per mounted hierarchy. On hybrid hosts
//! the container also gets a directory in the unified hierarchy, which serves the
//! controllers no v1 hierarchy holds (often hugetlb) and the `unified` map, and holds its
//! processes too.

pub mod blkio;
pub mod cpu;
pub mod cpuset;
pub mod devices;
pub mod freezer;
pub mod hugetlb;
pub mod memory;
pub mod net;

use std::collections::BTreeSet;
use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

use crate::detect::Layout;
use crate::devices as rules;
use crate::error::{Error, Result};
use crate::fs::{self, CgroupDir};
use crate::path::CgroupsPath;
use crate::stats::Stats;
use crate::{devices_ebpf, v2, FreezerState};

/// One v1 hierarchy's directory for this container.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HierDir {
    mount_point: PathBuf,
    controllers: Vec<String>,
    dir: CgroupDir,
}

/// A container's cgroups on a v1 or hybrid host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    hierarchies: Vec<HierDir>,
    unified: Option<v2::Manager>,
    default_parent: bool,
}

/// Where a controller's files are for this container.
enum Target<'a> {
    V1(&'a CgroupDir),
    V2(&'a CgroupDir),
    Absent,
}

impl Manager {
    /// The cgroup `path` in every v1 hierarchy of `layout` (and its unified one, if any).
    pub fn new(layout: &Layout, path: &CgroupsPath, default_parent: bool) -> Manager {
        let hierarchies = layout
            .v1
            .iter()
            .map(|h| HierDir {
                mount_point: h.mount_point.clone(),
                controllers: h.controllers.clone(),
                dir: CgroupDir::new(path.dir_in(h)),
            })
            .collect();
        let unified = layout
            .unified
            .as_ref()
            .map(|u| v2::Manager::new(u, path, default_parent));
        Manager {
            hierarchies,
            unified,
            default_parent,
        }
    }

    /// The directory of a v1 controller, if its hierarchy is mounted.
    pub fn controller_dir(&self, controller: &str) -> Option<&CgroupDir> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| &h.dir)
    }

    /// On hybrid hosts, the container's directory in the unified hierarchy.
    pub fn unified(&self) -> Option<&v2::Manager> {
        self.unified.as_ref()
    }

    /// Every hierarchy's `tasks` file (see `Manager::self_join`).
    pub fn tasks_files(&self) -> Vec<PathBuf> {
        self.hierarchies
            .iter()
            .map(|h| h.dir.file("tasks"))
            .collect()
    }

    /// Every directory this container has, one per hierarchy.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .hierarchies
            .iter()
            .map(|h| h.dir.path().to_path_buf())
            .collect();
        if let Some(u) = &self.unified {
            v.push(u.path().to_path_buf());
        }
        v
    }

    /// The controllers this container can use, from v1 and (hybrid) the unified hierarchy.
    pub fn controllers(&self) -> Result<BTreeSet<String>> {
        let mut out: BTreeSet<String> = self
            .hierarchies
            .iter()
            .flat_map(|h| h.controllers.iter().cloned())
            .collect();
        if let Some(u) = &self.unified {
            let root = CgroupDir::new(u.root());
            out.extend(v2::controllers(&root)?);
        }
        Ok(out)
    }

    /// Create the directory in every hierarchy (filling v1 cpusets). Idempotent.
    pub fn create(&self) -> Result<()> {
        for h in &self.hierarchies {
            fs::mkdir_all(h.dir.path())?;
            if h.controllers.iter().any(|c| c == "cpuset") {
                cpuset::init(&h.mount_point, h.dir.path())?;
            }
        }
        // The unified directory alone (freezer, process listing need no controller). Enabling
        // controllers there is left to `apply`, for specs that need one: an enabled controller
        // on cgroup2 cannot be bound to a v1 hierarchy any more, which breaks other runtimes
        // (crun refuses hybrid hosts whose cgroup2 holds controllers).
        if let Some(u) = &self.unified {
            u.create_plain()?;
        }
        Ok(())
    }

    fn target<'a>(&'a self, v1: &str, v2_name: &str, unified_ctrls: &[String]) -> Target<'a> {
        if let Some(d) = self.controller_dir(v1) {
            return Target::V1(d);
        }
        match &self.unified {
            Some(u) if unified_ctrls.iter().any(|c| c == v2_name) => Target::V2(u.dir()),
            _ => Target::Absent,
        }
    }

    /// Write the resources, each controller in the hierarchy that holds it.
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        let needs_unified = r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
            || r.unified().as_ref().is_some_and(|u| !u.is_empty());
        if let (Some(u), true) = (&self.unified, needs_unified) {
            u.create()?;
        }
        let unified_ctrls = match &self.unified {
            Some(u) => v2::controllers(u.dir())?,
            None => Vec::new(),
        };
        let t = |v1: &str, v2_name: &str| self.target(v1, v2_name, &unified_ctrls);
        let missing = |c: &'static str| Error::MissingController {
            controller: c,
            path: self
                .hierarchies
                .first()
                .map(|h| h.dir.path().to_path_buf())
                .unwrap_or_default(),
        };
        if let Some(p) = r.pids().as_ref().filter(|p| v2::pids::wants(p)) {
            match t("pids", "pids") {
                Target::V1(d) | Target::V2(d) => v2::pids::apply(d, p)?,
                Target::Absent => return Err(missing("pids")),
            }
        }
        if let Some(m) = r.memory().as_ref().filter(|m| memory::wants(m)) {
            match t("memory", "memory") {
                Target::V1(d) => memory::apply(d, m)?,
                Target::V2(d) => v2::memory::apply(d, m)?,
                Target::Absent => return Err(missing("memory")),
            }
        }
        if let Some(b) = r.block_io().as_ref().filter(|b| blkio::wants(b)) {
            match t("blkio", "io") {
                Target::V1(d) => blkio::apply(d, b)?,
                Target::V2(d) => v2::io::apply(d, b)?,
                Target::Absent => return Err(missing("blkio")),
            }
        }
        if let Some(c) = r.cpu() {
            if cpu::wants(c) {
                match t("cpu", "cpu") {
                    Target::V1(d) => cpu::apply(d, c)?,
                    Target::V2(d) => v2::cpu::apply(d, c)?,
                    Target::Absent => return Err(missing("cpu")),
                }
            }
            if v2::cpuset::wants(c) {
                match t("cpuset", "cpuset") {
                    Target::V1(d) | Target::V2(d) => v2::cpuset::apply(d, c)?,
                    Target::Absent => return Err(missing("cpuset")),
                }
            }
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            match t("hugetlb", "hugetlb") {
                Target::V1(d) => hugetlb::apply(d, h)?,
                Target::V2(d) => v2::hugetlb::apply(d, h)?,
                Target::Absent => return Err(missing("hugetlb")),
            }
        }
        if let Some(rd) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            match t("rdma", "rdma") {
                Target::V1(d) | Target::V2(d) => v2::rdma::apply(d, rd)?,
                Target::Absent => return Err(missing("rdma")),
            }
        }
        if let Some(n) = r.network() {
            self.apply_network(n)?;
        }
        if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
            match &self.unified {
                Some(m) => v2::unified::apply(m.dir(), u)?,
                None => {
                    return Err(Error::Unsupported(
                        "the unified map (no cgroup2 mount)".into(),
                    ))
                }
            }
        }
        if let Some(devs) = r.devices() {
            let list = rules::from_oci(devs)?;
            match (self.controller_dir("devices"), &self.unified) {
                (Some(d), _) => devices::apply(d, &list)?,
                (None, Some(u)) => devices_ebpf::attach(u.path(), &list)?,
                (None, None) => return Err(missing("devices")),
            }
        }
        Ok(())
    }

    fn apply_network(&self, n: &oci_spec::runtime::LinuxNetwork) -> Result<()> {
        if n.class_id().is_some() {
            match self.controller_dir("net_cls") {
                Some(d) => net::apply_cls(d, n)?,
                None => tracing::warn!("net_cls is not mounted; network class id ignored"),
            }
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            match self.controller_dir("net_prio") {
                Some(d) => net::apply_prio(d, n)?,
                None => tracing::warn!("net_prio is not mounted; interface priorities ignored"),
            }
        }
        Ok(())
    }

    /// Move a process into the container's cgroup in every hierarchy.
    pub fn add_task(&self, pid: i32) -> Result<()> {
        for h in &self.hierarchies {
            h.dir.append("cgroup.procs", pid.to_string())?;
        }
        if let Some(u) = &self.unified {
            u.add_task(pid)?;
        }
        Ok(())
    }

    /// Freeze or thaw with the v1 freezer, else the unified hierarchy's.
    pub fn set_freezer(&self, state: FreezerState) -> Result<()> {
        match (self.controller_dir("freezer"), &self.unified) {
            (Some(d), _) => freezer::set(d, state),
            (None, Some(u)) => u.set_freezer(state),
            (None, None) => Err(Error::MissingController {
                controller: "freezer",
                path: PathBuf::new(),
            }),
        }
    }

    /// The freezer state.
    pub fn freezer_state(&self) -> Result<FreezerState> {
        match (self.controller_dir("freezer"), &self.unified) {
            (Some(d), _) => freezer::state(d),
            (None, Some(u)) => u.freezer_state(),
            (None, None) => Ok(FreezerState::Thawed),
        }
    }

    /// Every process in the container's cgroup and below, read from one hierarchy that
    /// holds them all.
    pub fn pids(&self) -> Result<Vec<i32>> {
        for c in ["pids", "freezer", "memory", "cpu", "devices"] {
            if let Some(d) = self.controller_dir(c) {
                return d.procs_recursive();
            }
        }
        if let Some(u) = &self.unified {
            return u.pids();
        }
        match self.hierarchies.first() {
            Some(h) => h.dir.procs_recursive(),
            None => Ok(Vec::new()),
        }
    }

    /// Read all stats, each controller from the hierarchy that holds it.
    pub fn stats(&self) -> Result<Stats> {
        let u = self.unified.as_ref().map(|u| u.dir());
        let cpuacct = self.controller_dir("cpuacct");
        let cpu_dir = self.controller_dir("cpu");
        let mut s = Stats::default();
        if cpuacct.is_some() || cpu_dir.is_some() {
            s.cpu = cpu::stats(cpuacct, cpu_dir)?;
        }
        if cpuacct.is_none() {
            if let Some(u) = u {
                // cpu.stat's usage fields exist in every v2 cgroup, controller or not.
                let v2cpu = v2::cpu::stats(u)?;
                s.cpu.usage_total_ns = v2cpu.usage_total_ns;
                s.cpu.usage_user_ns = v2cpu.usage_user_ns;
                s.cpu.usage_system_ns = v2cpu.usage_system_ns;
                if cpu_dir.is_none() {
                    s.cpu.throttling = v2cpu.throttling;
                }
            }
        }
        match (self.controller_dir("memory"), u) {
            (Some(d), _) => s.memory = memory::stats(d)?,
            (None, Some(u)) => s.memory = v2::memory::stats(u)?,
            _ => {}
        }
        match (self.controller_dir("pids"), u) {
            (Some(d), _) | (None, Some(d)) => s.pids = v2::pids::stats(d)?,
            _ => {}
        }
        match (self.controller_dir("blkio"), u) {
            (Some(d), _) => s.blkio = blkio::stats(d)?,
            (None, Some(u)) => s.blkio = v2::io::stats(u)?,
            _ => {}
        }
        match (self.controller_dir("hugetlb"), u) {
            (Some(d), _) => s.hugetlb = hugetlb::stats(d)?,
            (None, Some(u)) => s.hugetlb = v2::hugetlb::stats(u)?,
            _ => {}
        }
        Ok(s)
    }

    /// Remove the directory in every hierarchy; missing ones are fine. The first error is
    /// returned after trying them all.
    pub fn destroy(&self) -> Result<()> {
        let mut first: Option<Error> = None;
        for h in &self.hierarchies {
            if let Err(e) = fs::remove_cgroup(h.dir.path()) {
                first.get_or_insert(e);
            } else if self.default_parent {
                if let Some(p) = h.dir.path().parent() {
                    fs::remove_if_empty(p);
                }
            }
        }
        if let Some(u) = &self.unified {
            if let Err(e) = u.destroy() {
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
