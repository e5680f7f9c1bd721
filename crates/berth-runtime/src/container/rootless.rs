//! Containers without a cgroup: a rootless caller (unprivileged, or root only of a user
//! namespace) without a delegated cgroup runs containers outside any cgroup, as runc does.
//! Their processes are then found through the process tree (the init and its descendants),
//! and the operations that need a cgroup (pause, limits) say so.

use super::Container;
use crate::Error;

impl Container {
    /// Whether the container runs without a cgroup of its own (rootless, none was made).
    pub(crate) fn cgroupless(&self) -> bool {
        crate::cgroup::rootless() && self.cgroup().map_or(true, |c| c.pids().is_err())
    }

    /// Every process of the container: its cgroup's, or without one the init and its
    /// descendants (a process that left the tree by double forking is not found).
    pub(crate) fn procs(&self) -> Result<Vec<i32>, Error> {
        if !self.cgroupless() {
            return Ok(self.cgroup()?.pids()?);
        }
        if !self.state.init_alive() {
            return Ok(Vec::new());
        }
        Ok(descendants(self.state.pid))
    }

    /// The error for an operation that needs the container's cgroup.
    pub(crate) fn needs_cgroup(&self, what: &str) -> Error {
        Error::Other(format!(
            "cannot {what} container {}: it runs without a cgroup (rootless, no cgroup \
             delegation)",
            self.state.id
        ))
    }
}

/// `root` and every process below it, from each process's parent pid in `/proc/*/stat`.
pub(crate) fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The command may hold spaces and parentheses: fields follow the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_include_children() {
        let Ok(mut child) = std::process::Command::new("sleep").arg("5").spawn() else {
            return;
        };
        let me = std::process::id() as i32;
        let found = descendants(me);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found[0], me);
        assert!(found.contains(&(child.id() as i32)));
    }
}
