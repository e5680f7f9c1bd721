//! `--userns-remap`: every container (unless `--userns=host`) runs in its own user namespace
//! whose root is a subordinate id of the host, as with dockerd.
//!
//! - Ids come from `/etc/subuid`/`/etc/subgid` ([`subid`]); a missing range fails the daemon
//!   start.
//! - The image's layers are shared with containers that are not remapped and stay owned by
//!   real root on disk: the root filesystem is an overlay over idmapped lower layers
//!   (`berth_image::snapshot::idmap`), mapped through one user namespace per daemon that only
//!   carries the maps. The upper dir, the `/etc` files the engine writes and new volume dirs are
//!   chowned to the remapped root; bind mounts of host paths are left as they are.
//! - The directories the container's init must pass through to reach its root and its mounts
//!   get the others-search bit (docker's 0711 on its roots), since the remapped root has no
//!   privilege over real root's files.

pub mod default_user;
pub mod subid;
pub mod tar_ids;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use berth_image::snapshot::{IdMapping, Mount};
use serde_json::{json, Value};

use crate::error::{EngineError, Result};
use crate::model::HostConfig;

pub use subid::HostIdFiles;

/// The daemon's remap setting, resolved at start.
#[derive(Debug)]
pub struct Remap {
    /// The setting as given (`default`, `USER`, `USER:GROUP`, `UID:GID`).
    pub setting: String,
    /// Container uid → host uid.
    pub uid_map: Vec<IdMapping>,
    /// Container gid → host gid.
    pub gid_map: Vec<IdMapping>,
    /// A namespace carrying the maps, for idmapped mounts (made on first use).
    userns: OnceLock<OwnedFd>,
    /// A namespace carrying the inverse maps (host → container), for reading a writable layer
    /// back with the container's ids (`commit`).
    inverse: OnceLock<Arc<OwnedFd>>,
}

impl Remap {
    /// Resolves `setting` against `files`; errors name what is missing and where.
    pub fn resolve(setting: &str, files: &HostIdFiles) -> Result<Remap> {
        let (_, _, uid_map, gid_map) =
            subid::maps_for(setting, files).map_err(EngineError::InvalidParameter)?;
        if uid_map[0].host == 0 || gid_map[0].host == 0 {
            return Err(EngineError::InvalidParameter(
                "userns-remap: a subordinate range starting at 0 would map the container's root to the host's".into(),
            ));
        }
        Ok(Remap {
            setting: setting.to_owned(),
            uid_map,
            gid_map,
            userns: OnceLock::new(),
            inverse: OnceLock::new(),
        })
    }

    /// The host uid and gid of the container's root.
    pub fn root(&self) -> (u32, u32) {
        (self.uid_map[0].host, self.gid_map[0].host)
    }

    /// The daemon's namespace holding the maps (created once).
    fn userns(&self) -> Result<BorrowedFd<'_>> {
        if let Some(fd) = self.userns.get() {
            return Ok(fd.as_fd());
        }
        let fd = berth_image::snapshot::userns_fd(&self.uid_map, &self.gid_map)
            .map_err(|e| EngineError::Internal(format!("user namespace for idmapping: {e}")))?;
        // A racing start may have set it first: either namespace maps the same.
        Ok(self.userns.get_or_init(|| fd).as_fd())
    }

    /// The daemon's namespace holding the inverse maps (created once).
    pub(crate) fn inverse_userns(&self) -> Result<Arc<OwnedFd>> {
        if let Some(fd) = self.inverse.get() {
            return Ok(fd.clone());
        }
        let swap = |m: &[IdMapping]| -> Vec<IdMapping> {
            m.iter()
                .map(|m| IdMapping {
                    container: m.host,
                    host: m.container,
                    size: m.size,
                })
                .collect()
        };
        let fd = berth_image::snapshot::userns_fd(&swap(&self.uid_map), &swap(&self.gid_map))
            .map_err(|e| EngineError::Internal(format!("user namespace for idmapping: {e}")))?;
        Ok(self.inverse.get_or_init(|| Arc::new(fd)).clone())
    }

    /// The host id of container id `id` under `map`, if mapped.
    pub(crate) fn to_host(map: &[IdMapping], id: u32) -> Option<u32> {
        map.iter()
            .find(|m| id >= m.container && id - m.container < m.size)
            .map(|m| m.host + (id - m.container))
    }

    /// The remap for a container, or `None` when it opted out (`--userns=host`).
    pub fn for_container<'a>(remap: Option<&'a Remap>, host: &HostConfig) -> Option<&'a Remap> {
        remap.filter(|_| host.userns_mode != "host")
    }
}

/// Create-time checks with docker's messages.
pub fn validate(remap: Option<&Remap>, host: &HostConfig) -> Result<()> {
    if !matches!(host.userns_mode.as_str(), "" | "host") {
        return Err(EngineError::InvalidParameter(format!(
            "invalid USER mode: {}",
            host.userns_mode
        )));
    }
    if Remap::for_container(remap, host).is_some() && host.confinement.privileged {
        return Err(EngineError::InvalidParameter(
            "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode".into(),
        ));
    }
    Ok(())
}

fn io<'a>(what: &str, p: &'a Path) -> impl FnOnce(std::io::Error) -> EngineError + 'a {
    let what = what.to_owned();
    move |e| EngineError::Internal(format!("userns-remap: {what} {}: {e}", p.display()))
}

/// Adds the others-search bit to `path` and each directory above it up to and including
/// `root`, so the remapped root can reach what lies below.
pub fn make_traversable(root: &Path, path: &Path) -> Result<()> {
    for dir in path.ancestors().filter(|d| d.starts_with(root)) {
        let Ok(m) = std::fs::metadata(dir) else {
            continue;
        };
        if m.is_dir() && m.mode() & 0o001 == 0 {
            let mode = (m.mode() & 0o7777) | 0o001;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
                .map_err(io("chmod", dir))?;
        }
    }
    Ok(())
}

/// Mounts the container's root with the image idmapped, after chowning the (non-idmapped)
/// upper dir's top to the remapped root so the container owns its `/`.
pub fn mount_rootfs(remap: &Remap, mount: &Mount, target: &Path) -> Result<()> {
    if let Mount::Overlay { base, upper, .. } = mount {
        let upper = base.join(upper);
        let (uid, gid) = remap.root();
        std::os::unix::fs::chown(&upper, Some(uid), Some(gid)).map_err(io("chown", &upper))?;
    }
    mount
        .mount_idmapped(target, remap.userns()?)
        .map_err(io("mount idmapped rootfs on", target))
}

/// Puts the spec in a new user namespace with the remap's maps and chowns the bind sources
/// the engine made for this container (`/etc` files under `container_dir`, volume dirs under
/// `volumes_dir` still owned by real root) to the remapped root. `roots` are the daemon
/// directories made traversable down to each of those sources and to the root filesystem.
pub fn apply(
    remap: &Remap,
    spec: &mut Value,
    container_dir: &Path,
    volumes_dir: &Path,
    roots: &[&Path],
) -> Result<()> {
    let maps = |m: &[IdMapping]| -> Value {
        m.iter()
            .map(|m| json!({"containerID": m.container, "hostID": m.host, "size": m.size}))
            .collect()
    };
    let linux = spec
        .get_mut("linux")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| EngineError::Internal("container spec without linux".into()))?;
    if let Some(list) = linux.get_mut("namespaces").and_then(Value::as_array_mut) {
        if !list.iter().any(|n| n["type"] == "user") {
            list.push(json!({"type": "user"}));
        }
    }
    linux.insert("uidMappings".into(), maps(&remap.uid_map));
    linux.insert("gidMappings".into(), maps(&remap.gid_map));
    let (uid, gid) = remap.root();
    let mut reach: Vec<PathBuf> = Vec::new();
    if let Some(root) = spec.pointer("/root/path").and_then(Value::as_str) {
        reach.push(PathBuf::from(root));
    }
    for m in spec
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some("bind"), Some(src)) = (m["type"].as_str(), m["source"].as_str()) else {
            continue;
        };
        let src = Path::new(src);
        let ours = src.starts_with(container_dir);
        let volume = src.starts_with(volumes_dir) && src.ends_with("_data");
        if !ours && !volume {
            continue;
        }
        let meta = std::fs::symlink_metadata(src).map_err(io("stat", src))?;
        if ours || (meta.uid() == 0 && meta.gid() == 0) {
            std::os::unix::fs::lchown(src, Some(uid), Some(gid)).map_err(io("chown", src))?;
        }
        reach.push(src.to_owned());
    }
    for p in &reach {
        let parent = p.parent().unwrap_or(p);
        if let Some(root) = roots.iter().find(|r| parent.starts_with(r)) {
            make_traversable(root, parent)?;
        }
    }
    Ok(())
}

/// Docker's `net.ipv4.ping_group_range = 0 2147483647` in a network namespace the engine made:
/// the remapped root has no `CAP_NET_RAW` there (the namespace belongs to the host's user
/// namespace), so `ping` needs ICMP datagram sockets; the container cannot set it itself. Set
/// from a short-lived thread that enters the namespace (`/proc/sys/net` follows the thread).
pub(crate) fn allow_ping(netns: &Path) -> Result<()> {
    let netns = netns.to_owned();
    let set = move || -> std::io::Result<()> {
        let f = std::fs::File::open(&netns)?;
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)?;
        std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
    };
    std::thread::spawn(set)
        .join()
        .map_err(|_| EngineError::Internal("ping_group_range thread panicked".into()))?
        .map_err(|e| EngineError::Internal(format!("userns-remap: net.ipv4.ping_group_range: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn remap() -> Remap {
        let m = vec![IdMapping {
            container: 0,
            host: 200000,
            size: 65536,
        }];
        Remap {
            setting: "x".into(),
            uid_map: m.clone(),
            gid_map: m,
            userns: OnceLock::new(),
            inverse: OnceLock::new(),
        }
    }

    #[test]
    fn privileged_needs_userns_host() {
        let r = remap();
        let mut h = HostConfig::default();
        h.confinement.privileged = true;
        let e = validate(Some(&r), &h).unwrap_err().to_string();
        assert!(e.contains("privileged mode is incompatible"), "{e}");
        h.userns_mode = "host".into();
        assert!(validate(Some(&r), &h).is_ok());
        assert!(validate(None, &HostConfig::default()).is_ok());
        h.userns_mode = "private".into();
        assert!(validate(None, &h).is_err());
    }

    #[test]
    fn spec_gets_a_user_namespace_and_maps() {
        let dir = tempfile::tempdir().unwrap();
        let cdir = dir.path().join("containers/c1");
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(cdir.join("hosts"), "x").unwrap();
        let mut spec = json!({
            "root": {"path": dir.path().join("rootfs")},
            "mounts": [{"destination": "/etc/hosts", "type": "bind",
                        "source": cdir.join("hosts"), "options": ["rbind"]},
                       {"destination": "/h", "type": "bind", "source": "/etc", "options": []}],
            "linux": {"namespaces": [{"type": "pid"}]},
        });
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        apply(
            &remap(),
            &mut spec,
            &cdir,
            &dir.path().join("volumes"),
            &[dir.path()],
        )
        .unwrap();
        assert_eq!(spec["linux"]["namespaces"][1]["type"], "user");
        assert_eq!(spec["linux"]["uidMappings"][0]["hostID"], 200000);
        let m = std::fs::metadata(cdir.join("hosts")).unwrap();
        assert_eq!((m.uid(), m.gid()), (200000, 200000));
        assert_eq!(
            std::fs::metadata("/etc").unwrap().uid(),
            0,
            "host binds untouched"
        );
        let top = std::fs::metadata(dir.path()).unwrap().mode() & 0o777;
        assert_eq!(top, 0o701, "root made traversable");
    }
}
