//! Which namespaces a container creates and which it joins, from the spec's `linux.namespaces`.
//!
//! Why split "new" from "join": new namespaces can all be created by the one clone that makes the
//! container's process (crun's fast path), while joining by path needs `setns` from inside the
//! child, in a fixed order (user first, so the others are joined with its privileges).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};

/// Why namespace handling failed.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("duplicate namespace type {0}")]
    Duplicate(String),
    #[error("open namespace {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("setns {path}: {errno}")]
    Setns { path: PathBuf, errno: nix::Error },
    #[error("time namespaces are not supported")]
    Time,
}

/// The container's namespaces, split by how they come to be.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// Created fresh (clone/unshare flags), excluding the cgroup namespace.
    pub new: CloneFlags,
    /// Whether a new cgroup namespace is wanted: it is unshared only after the process joined its
    /// cgroup, so that the namespace's root is the container's cgroup.
    pub new_cgroup: bool,
    /// Joined by path, already ordered (user first, mnt last).
    pub join: Vec<(CloneFlags, PathBuf)>,
}

/// The clone flag of a namespace type.
pub fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The name of a namespace type in `/proc/PID/ns/`.
pub fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Order in which namespaces are joined: user first, mount last (joining mnt changes our root, so
/// the other paths must be opened before it).
fn join_rank(f: CloneFlags) -> u8 {
    match f {
        CloneFlags::CLONE_NEWUSER => 0,
        CloneFlags::CLONE_NEWNS => 9,
        _ => 5,
    }
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            new: CloneFlags::empty(),
            new_cgroup: false,
            join: Vec::new(),
        }
    }
}

impl Namespaces {
    /// Reads the spec's namespace list.
    pub fn from_spec(spec: &Spec) -> Result<Namespaces, NamespaceError> {
        let list: &[LinuxNamespace] = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or(&[]);
        let mut ns = Namespaces::default();
        let mut seen = CloneFlags::empty();
        for n in list {
            let f = flag(n.typ());
            if seen.contains(f) {
                return Err(NamespaceError::Duplicate(proc_name(n.typ()).into()));
            }
            seen |= f;
            match n.path() {
                Some(p) if !p.as_os_str().is_empty() => ns.join.push((f, p.clone())),
                _ if n.typ() == LinuxNamespaceType::Cgroup => ns.new_cgroup = true,
                _ if n.typ() == LinuxNamespaceType::Time => return Err(NamespaceError::Time),
                _ => ns.new |= f,
            }
        }
        ns.join.sort_by_key(|(f, _)| join_rank(*f));
        Ok(ns)
    }

    /// Whether the container has its own namespace of this kind (new or joined).
    pub fn has(&self, f: CloneFlags) -> bool {
        self.new.contains(f)
            || (f == CloneFlags::CLONE_NEWCGROUP && self.new_cgroup)
            || self.join.iter().any(|(j, _)| *j == f)
    }

    /// Whether the single-clone fast path applies (nothing to join).
    pub fn single_clone(&self) -> bool {
        self.join.is_empty()
    }
}

/// Joins each namespace in `join`, in order. Opens every path first: joining the mount namespace
/// changes our root, after which host paths no longer resolve.
pub fn join_all(join: &[(CloneFlags, PathBuf)]) -> Result<(), NamespaceError> {
    let mut files = Vec::with_capacity(join.len());
    for (f, p) in join {
        let file = File::open(p).map_err(|source| NamespaceError::Open {
            path: p.clone(),
            source,
        })?;
        files.push((*f, p.as_path(), file));
    }
    for (f, p, file) in &files {
        join_one(file, *f, p)?;
    }
    Ok(())
}

fn join_one(file: &File, f: CloneFlags, p: &Path) -> Result<(), NamespaceError> {
    setns(file.as_fd(), f).map_err(|errno| NamespaceError::Setns {
        path: p.to_path_buf(),
        errno,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespaceBuilder, SpecBuilder};

    fn spec(list: Vec<LinuxNamespace>) -> Spec {
        SpecBuilder::default()
            .linux(LinuxBuilder::default().namespaces(list).build().unwrap())
            .build()
            .unwrap()
    }

    fn ns(t: LinuxNamespaceType, p: Option<&str>) -> LinuxNamespace {
        let b = LinuxNamespaceBuilder::default().typ(t);
        match p {
            Some(p) => b.path(p).build().unwrap(),
            None => b.build().unwrap(),
        }
    }

    #[test]
    fn splits_new_and_joined_in_order() {
        let s = spec(vec![
            ns(LinuxNamespaceType::Mount, Some("/proc/1/ns/mnt")),
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Cgroup, None),
            ns(LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
            ns(LinuxNamespaceType::User, Some("/proc/1/ns/user")),
        ]);
        let n = Namespaces::from_spec(&s).unwrap();
        assert_eq!(n.new, CloneFlags::CLONE_NEWPID);
        assert!(n.new_cgroup);
        let order: Vec<_> = n.join.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            order,
            vec![
                CloneFlags::CLONE_NEWUSER,
                CloneFlags::CLONE_NEWNET,
                CloneFlags::CLONE_NEWNS
            ]
        );
        assert!(!n.single_clone());
        assert!(n.has(CloneFlags::CLONE_NEWNET));
        assert!(!n.has(CloneFlags::CLONE_NEWUTS));
    }

    #[test]
    fn duplicates_are_refused() {
        let s = spec(vec![
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Pid, None),
        ]);
        assert!(matches!(
            Namespaces::from_spec(&s),
            Err(NamespaceError::Duplicate(_))
        ));
    }
}
