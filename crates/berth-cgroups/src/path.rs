//! The spec's `linux.cgroupsPath`, with runc's meaning: an absolute path is taken from the
//! hierarchy root, a relative one from the runtime's own cgroup, none means `/berth/<id>`,
//! and systemd's `slice:prefix:name` form maps onto the cgroupfs path systemd would use
//! (`system.slice/prefix-name.scope`) without talking to systemd.

use std::path::{Component, Path, PathBuf};

use crate::detect::Hierarchy;
use crate::error::{Error, Result};

/// Where the default cgroups of Berth containers live (below the hierarchy root).
pub const DEFAULT_PARENT: &str = "/berth";

/// A parsed `cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupsPath {
    /// Absolute within each hierarchy (`/a/b`), including the systemd form once mapped.
    Absolute(PathBuf),
    /// Relative to the cgroup this process is in (`a/b`).
    Relative(PathBuf),
}

impl CgroupsPath {
    /// Parse the spec value; `None` or empty gives `/berth/<container_id>`.
    pub fn parse(spec: Option<&str>, container_id: &str) -> Result<CgroupsPath> {
        let raw = spec.unwrap_or("").trim();
        if raw.is_empty() {
            check_id(container_id)?;
            return Ok(CgroupsPath::Absolute(
                Path::new(DEFAULT_PARENT).join(container_id),
            ));
        }
        if !raw.starts_with('/') && raw.matches(':').count() == 2 {
            return systemd_path(raw, container_id).map(CgroupsPath::Absolute);
        }
        let clean = clean(raw)?;
        if raw.starts_with('/') {
            Ok(CgroupsPath::Absolute(Path::new("/").join(clean)))
        } else {
            Ok(CgroupsPath::Relative(clean))
        }
    }

    /// Whether this is the default `/berth/<id>` form (its parent may be removed when empty).
    pub fn is_default_for(&self, container_id: &str) -> bool {
        *self == CgroupsPath::Absolute(Path::new(DEFAULT_PARENT).join(container_id))
    }

    /// The absolute cgroup (within `h`) this path names.
    pub fn cgroup_in(&self, h: &Hierarchy) -> PathBuf {
        match self {
            CgroupsPath::Absolute(p) => p.clone(),
            CgroupsPath::Relative(p) => h.own_cgroup.join(p),
        }
    }

    /// The directory of this cgroup in hierarchy `h`.
    pub fn dir_in(&self, h: &Hierarchy) -> PathBuf {
        match self {
            // Absolute paths are taken from the mount point, whatever cgroup it shows.
            CgroupsPath::Absolute(p) => h.mount_point.join(p.strip_prefix("/").unwrap_or(p)),
            CgroupsPath::Relative(_) => h.dir_of(&self.cgroup_in(h)),
        }
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(Error::InvalidPath {
            path: id.to_string(),
            reason: "container id cannot name a cgroup".into(),
        });
    }
    Ok(())
}

/// Normalise a path and refuse `..` (a cgroup path must not climb out of its hierarchy).
fn clean(raw: &str) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::InvalidPath {
                    path: raw.to_string(),
                    reason: "\"..\" is not allowed".into(),
                })
            }
        }
    }
    Ok(out)
}

/// Map `slice:prefix:name` to systemd's cgroupfs path.
fn systemd_path(raw: &str, container_id: &str) -> Result<PathBuf> {
    let bad = |reason: &str| Error::InvalidPath {
        path: raw.to_string(),
        reason: reason.to_string(),
    };
    let mut parts = raw.splitn(3, ':');
    let (slice, prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(p), Some(n)) => (s, p, n),
        _ => return Err(bad("expected slice:prefix:name")),
    };
    let name = if name.is_empty() { container_id } else { name };
    if name.is_empty() || name.contains('/') || prefix.contains('/') {
        return Err(bad("unit name must be non-empty and contain no '/'"));
    }
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let mut path = expand_slice(slice).map_err(|r| bad(&r))?;
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    path.push(unit);
    Ok(path)
}

/// `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` → `/`.
fn expand_slice(slice: &str) -> std::result::Result<PathBuf, String> {
    let stem = slice
        .strip_suffix(".slice")
        .ok_or_else(|| format!("{slice:?} is not a slice"))?;
    if slice.contains('/') {
        return Err(format!("slice {slice:?} contains '/'"));
    }
    let mut path = PathBuf::from("/");
    if stem == "-" {
        return Ok(path);
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err(format!("invalid slice name {slice:?}"));
    }
    let mut acc = String::new();
    for part in stem.split('-') {
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(part);
        path.push(format!("{acc}.slice"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hier(own: &str) -> Hierarchy {
        Hierarchy {
            mount_point: PathBuf::from("/sys/fs/cgroup/memory"),
            mount_root: PathBuf::from("/"),
            controllers: vec!["memory".into()],
            own_cgroup: PathBuf::from(own),
        }
    }

    #[test]
    fn default_absolute_relative() {
        let h = hier("/process_api/abc");
        let d = CgroupsPath::parse(None, "c1").expect("default");
        assert!(d.is_default_for("c1"));
        assert_eq!(d.dir_in(&h), Path::new("/sys/fs/cgroup/memory/berth/c1"));
        let a = CgroupsPath::parse(Some("/x/./y/"), "c1").expect("abs");
        assert!(!a.is_default_for("c1"));
        assert_eq!(a.dir_in(&h), Path::new("/sys/fs/cgroup/memory/x/y"));
        let r = CgroupsPath::parse(Some("x/y"), "c1").expect("rel");
        assert_eq!(
            r.dir_in(&h),
            Path::new("/sys/fs/cgroup/memory/process_api/abc/x/y")
        );
        assert!(CgroupsPath::parse(Some("/x/../../etc"), "c1").is_err());
        assert!(CgroupsPath::parse(None, "../x").is_err());
    }

    #[test]
    fn systemd_form() {
        let p = CgroupsPath::parse(Some("system.slice:berth:c1"), "id").expect("parse");
        assert_eq!(
            p,
            CgroupsPath::Absolute("/system.slice/berth-c1.scope".into())
        );
        let p = CgroupsPath::parse(Some("user-1000.slice::c1"), "id").expect("parse");
        assert_eq!(
            p,
            CgroupsPath::Absolute("/user.slice/user-1000.slice/c1.scope".into())
        );
        let p = CgroupsPath::parse(Some(":berth:"), "id").expect("parse");
        assert_eq!(
            p,
            CgroupsPath::Absolute("/system.slice/berth-id.scope".into())
        );
        let p = CgroupsPath::parse(Some("-.slice:p:sub.slice"), "id").expect("parse");
        assert_eq!(p, CgroupsPath::Absolute("/sub.slice".into()));
        assert!(CgroupsPath::parse(Some("notaslice:p:n"), "id").is_err());
        assert!(CgroupsPath::parse(Some("a--b.slice:p:n"), "id").is_err());
    }
}
