//! The container side of volumes: resolving a new container's mounts (creating the volumes it
//! names and its anonymous ones), adding them to the OCI spec at start (mounting volumes with
//! driver options, copy-up, safe bind sources), showing them in `inspect`, and releasing them
//! at `rm`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_runtime::oci_spec::runtime::{Mount, Spec};
use serde_json::{json, Value};

use crate::error::{EngineError, Result};
use crate::model::MountPoint;
use crate::model::{ContainerConfig, HostConfig};
use crate::volumes::mounts::{parse_bind, parse_mount, parse_tmpfs, parse_volumes_from};
use crate::volumes::ANONYMOUS_LABEL;
use crate::{Containers, Inner};

/// Adds `mp`, refusing a second mount on the same path; entries from `--volumes-from`
/// (`inherited`) give way.
fn push(out: &mut Vec<MountPoint>, inherited: &mut Vec<String>, mp: MountPoint) -> Result<()> {
    if let Some(i) = out.iter().position(|m| m.destination == mp.destination) {
        if let Some(j) = inherited.iter().position(|d| *d == mp.destination) {
            inherited.remove(j);
            out.remove(i);
        } else {
            return Err(EngineError::InvalidParameter(format!(
                "Duplicate mount point: {}",
                mp.destination
            )));
        }
    }
    out.push(mp);
    Ok(())
}

impl Containers {
    /// Resolves a new container's mounts from its `HostConfig` and the image's `VOLUME`s
    /// (merged into `cfg.volumes`), creates the volumes they need and records the references.
    /// On error nothing is left behind. Called by `create` with the engine lock held.
    pub(crate) fn setup_mounts(
        &self,
        inner: &Inner,
        id: &str,
        cfg: &mut ContainerConfig,
        host: &HostConfig,
        image_volumes: Option<&BTreeMap<String, Value>>,
    ) -> Result<()> {
        let mut out = Vec::new();
        let mut inherited = Vec::new();
        for raw in &host.storage.volumes_from {
            let (key, rw) = parse_volumes_from(raw)?;
            let other = Self::find_id(inner, key)?;
            for mut mp in self.volumes.store.mounts_of(&other) {
                if mp.kind == "tmpfs" {
                    continue;
                }
                if let Some(rw) = rw {
                    mp.rw = rw && mp.rw;
                    mp.mode = if mp.rw { "rw" } else { "ro" }.into();
                }
                mp.copy_data = false;
                mp.anonymous = false;
                inherited.push(mp.destination.clone());
                out.retain(|m: &MountPoint| m.destination != mp.destination);
                out.push(mp);
            }
        }
        for raw in &host.storage.binds {
            push(&mut out, &mut inherited, parse_bind(raw)?)?;
        }
        for m in &host.storage.mounts {
            push(&mut out, &mut inherited, parse_mount(m)?)?;
        }
        for (target, opts) in &host.storage.tmpfs {
            push(&mut out, &mut inherited, parse_tmpfs(target, opts)?)?;
        }
        for (dest, v) in image_volumes.into_iter().flatten() {
            cfg.volumes.entry(dest.clone()).or_insert_with(|| v.clone());
        }
        for dest in cfg.volumes.keys() {
            let mp = parse_bind(dest)?;
            if !out.iter().any(|m| m.destination == mp.destination) {
                out.push(mp);
            }
        }
        // Every check passed: now create what is missing.
        let mut created: Vec<String> = Vec::new();
        let result = (|| {
            for mp in out.iter_mut().filter(|m| m.kind == "volume") {
                let (mut labels, opts) = mp.create.take().unwrap_or_default();
                if mp.anonymous {
                    mp.name = crate::names::new_id()?;
                    labels.insert(ANONYMOUS_LABEL.into(), String::new());
                }
                let (_, new) = self.volumes.store.create(&mp.name, "local", labels, opts)?;
                if new {
                    created.push(mp.name.clone());
                }
            }
            for mp in out.iter().filter(|m| m.kind == "bind" && m.create_source) {
                let p = Path::new(&mp.source);
                if !p.exists() {
                    // dockerd makes missing bind sources 0755, whatever our umask.
                    crate::perms::create_dir_all(p, crate::perms::SHARED)?;
                }
            }
            self.volumes.store.attach(id, out.clone())
        })();
        if let Err(e) = result {
            for name in created {
                let _ = self.volumes.store.remove(&name, true);
            }
            return Err(e);
        }
        for name in &created {
            self.events
                .emit("volume", "create", name, &[("driver", "local")]);
        }
        Ok(())
    }

    /// Drops a removed container's volume references; with `remove_anonymous` (`rm -v`,
    /// `--rm`) its anonymous volumes go too, unless another container still uses them.
    pub(crate) fn release_mounts(&self, id: &str, remove_anonymous: bool) {
        let mounts = self.volumes.store.detach(id);
        if !remove_anonymous {
            return;
        }
        for mp in mounts.iter().filter(|m| m.anonymous) {
            if let Err(e) = self.volumes.remove(&mp.name, true) {
                tracing::warn!("removing anonymous volume {}: {e}", mp.name);
            }
        }
    }

    /// A container stopped (or failed to start): release the volume mounts it held.
    pub(crate) fn volumes_stopped(&self, id: &str) {
        self.volumes.store.stopped(id);
    }

    /// `docker rm [-v]`: [`Containers::remove`], then with `volumes` the container's anonymous
    /// volumes.
    pub fn remove_with_volumes(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        let id = Self::find_id(&self.lock(), key)?;
        let anonymous: Vec<String> = self
            .volumes
            .store
            .mounts_of(&id)
            .into_iter()
            .filter(|m| m.anonymous)
            .map(|m| m.name)
            .collect();
        self.remove(&id, force)?;
        if volumes {
            for name in anonymous {
                if let Err(e) = self.volumes.remove(&name, true) {
                    tracing::warn!("removing anonymous volume {name}: {e}");
                }
            }
        }
        Ok(())
    }

    /// `Mounts` of `inspect` and `ps` in docker's shape.
    pub(crate) fn mounts_view(&self, id: &str) -> Vec<Value> {
        self.volumes
            .store
            .mounts_of(id)
            .iter()
            .map(|m| {
                let src = m.volume_name().map(|n| self.volumes.store.data_dir(n));
                m.docker_view(src.as_deref())
            })
            .collect()
    }

    /// The host directory behind a volume or bind mount point (for `cp` of a stopped
    /// container).
    pub(crate) fn mount_source(&self, mp: &MountPoint) -> Option<PathBuf> {
        match mp.kind.as_str() {
            "volume" => Some(self.volumes.store.data_dir(&mp.name)),
            "bind" => Some(PathBuf::from(&mp.source)),
            _ => None,
        }
    }

    /// A container's mount points.
    pub(crate) fn mount_points(&self, id: &str) -> Vec<MountPoint> {
        self.volumes.store.mounts_of(id)
    }

    /// Adds the container's mounts to its spec at start: volumes with driver options are
    /// mounted, empty volumes filled from the image (`rootfs`), bind sources resolved to real
    /// paths; a user mount replaces a default mount on the same path.
    pub(crate) fn add_volume_mounts(&self, id: &str, rootfs: &Path, spec: &mut Spec) -> Result<()> {
        let mut mps = self.volumes.store.mounts_of(id);
        if mps.is_empty() {
            return Ok(());
        }
        mps.sort_by_key(|m| m.destination.matches('/').count());
        let mut added = Vec::new();
        for mp in &mps {
            let mut options: Vec<String> = Vec::new();
            let (kind, source) = match mp.kind.as_str() {
                "volume" => {
                    self.volumes.store.ensure_mounted(&mp.name, id)?;
                    let dir = self.volumes.store.data_dir(&mp.name);
                    if mp.copy_data {
                        crate::volumes::copyup::copy_up(rootfs, &mp.destination, &dir).map_err(
                            |e| {
                                EngineError::Internal(format!(
                                    "copying image content of {} into volume {}: {e}",
                                    mp.destination, mp.name
                                ))
                            },
                        )?;
                    }
                    options.push("rbind".into());
                    ("bind", dir.display().to_string())
                }
                "bind" => {
                    let p = Path::new(&mp.source);
                    if mp.create_source && !p.exists() {
                        crate::perms::create_dir_all(p, crate::perms::SHARED)?;
                    }
                    // The runtime gets the real path, never a symlink someone could swap.
                    let real = std::fs::canonicalize(p).map_err(|_| {
                        EngineError::InvalidParameter(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {}",
                            mp.source
                        ))
                    })?;
                    options.push("rbind".into());
                    if !mp.propagation.is_empty() {
                        options.push(mp.propagation.clone());
                    }
                    ("bind", real.display().to_string())
                }
                _ => {
                    options.extend(["nosuid", "nodev", "noexec"].map(String::from));
                    options.extend(mp.tmpfs_options.iter().cloned());
                    ("tmpfs", "tmpfs".to_owned())
                }
            };
            options.push(if mp.rw { "rw" } else { "ro" }.into());
            let m: Mount = serde_json::from_value(json!({
                "destination": mp.destination, "type": kind, "source": source, "options": options,
            }))
            .map_err(|e| EngineError::Internal(format!("mount spec: {e}")))?;
            added.push(m);
        }
        let mut all: Vec<Mount> = spec.mounts().clone().unwrap_or_default();
        all.retain(|m| {
            !mps.iter()
                .any(|mp| Path::new(&mp.destination) == m.destination())
        });
        all.extend(added);
        spec.set_mounts(Some(all));
        Ok(())
    }
}
