//! The volume store: docker's `local` driver. Each volume is `<data-root>/volumes/<name>/`
//! holding `_data` (what containers see) and `volume.json` (driver, labels, options, creation
//! time), written last and atomically, so a crash never leaves a half-described volume: a
//! directory without its metadata file is an unfinished create and is cleaned up on open.
//!
//! The store also remembers which containers reference which volume (`users`), the reason a
//! volume in use cannot be removed, and each container's resolved mount points
//! (`<data-root>/containers/<id>/mounts.json`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::local::{self, LocalOptions};
use crate::error::{io_err, EngineError, Result};
use crate::model::MountPoint;
use crate::record::atomic_write;

/// The metadata file beside `_data`.
const META_FILE: &str = "volume.json";
/// A container's mount points, in its record directory.
pub(crate) const MOUNTS_FILE: &str = "mounts.json";
/// The label docker (23+) puts on anonymous volumes; `volume prune` without `-a` removes only
/// those.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What is persisted about a volume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeMeta {
    /// Always `local`.
    pub driver: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// User metadata.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Driver options (`type`, `device`, `o`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// Docker's `Volume` object (`GET /volumes/{name}`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Driver (`local`).
    pub driver: String,
    /// Where the data lives on the host (`…/volumes/<name>/_data`).
    pub mountpoint: String,
    /// Creation time.
    pub created_at: String,
    /// User metadata.
    pub labels: BTreeMap<String, String>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// `local`.
    pub scope: String,
    /// Size and reference count (only `system df` fills it).
    #[serde(rename = "UsageData", skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

/// Docker's `UsageData` of a volume in `system df`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct UsageData {
    /// Bytes used by the volume's files (-1: unknown).
    pub size: i64,
    /// Containers referencing the volume.
    pub ref_count: i64,
}

#[derive(Default)]
struct State {
    volumes: BTreeMap<String, VolumeMeta>,
    /// Volume name → ids of containers that reference it.
    users: BTreeMap<String, BTreeSet<String>>,
    /// Container id → its resolved mount points.
    mounts: HashMap<String, Vec<MountPoint>>,
    /// Volumes with driver options whose filesystem is mounted on `_data` now.
    mounted: HashSet<String>,
    /// Such volume → the running containers that mounted it (unmounted when the last stops).
    active: HashMap<String, BTreeSet<String>>,
}

/// The local volume driver's store, with the container → volume references.
pub struct VolumeStore {
    root: PathBuf,
    containers_dir: PathBuf,
    state: Mutex<State>,
}

impl VolumeStore {
    /// Opens `<data-root>/volumes`, dropping unfinished creates, and loads the mount points of
    /// `containers` from their record directories under `containers_dir`.
    pub fn open<'a>(
        root: PathBuf,
        containers_dir: PathBuf,
        containers: impl Iterator<Item = &'a String>,
    ) -> Result<VolumeStore> {
        crate::perms::create_dir_all(&root, crate::perms::VOLUMES_DIR)?;
        let mut st = State::default();
        for entry in fs::read_dir(&root).map_err(io_err("read", &root))? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            if name.starts_with('.') {
                // A removal that a crash interrupted.
                let _ = fs::remove_dir_all(&dir);
                continue;
            }
            match fs::read(dir.join(META_FILE)) {
                Ok(data) => match serde_json::from_slice::<VolumeMeta>(&data) {
                    Ok(meta) => {
                        if local::is_mount_point(&dir.join("_data")) {
                            st.mounted.insert(name.clone());
                        }
                        st.volumes.insert(name, meta);
                    }
                    Err(e) => tracing::warn!("skipping volume {name}: {e}"),
                },
                Err(_) => {
                    tracing::warn!("removing unfinished volume {name}");
                    let _ = fs::remove_dir_all(&dir);
                }
            }
        }
        for id in containers {
            let path = containers_dir.join(id).join(MOUNTS_FILE);
            let Ok(data) = fs::read(&path) else { continue };
            match serde_json::from_slice::<Vec<MountPoint>>(&data) {
                Ok(mps) => {
                    for mp in &mps {
                        if let Some(n) = mp.volume_name() {
                            st.users.entry(n.to_owned()).or_default().insert(id.clone());
                        }
                    }
                    st.mounts.insert(id.clone(), mps);
                }
                Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
            }
        }
        Ok(VolumeStore {
            root,
            containers_dir,
            state: Mutex::new(st),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `<root>/<name>/_data`.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    fn volume(&self, name: &str, meta: &VolumeMeta) -> Volume {
        Volume {
            name: name.to_owned(),
            driver: meta.driver.clone(),
            mountpoint: self.data_dir(name).display().to_string(),
            created_at: meta.created_at.clone(),
            labels: meta.labels.clone(),
            options: meta.options.clone(),
            scope: "local".into(),
            usage_data: None,
        }
    }

    /// Creates a volume, or returns the existing one of that name (docker's create is
    /// idempotent). Options are checked before anything is written.
    pub fn create(
        &self,
        name: &str,
        driver: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<(Volume, bool)> {
        local::validate_name(name)?;
        if !matches!(driver, "" | "local") {
            return Err(EngineError::InvalidParameter(format!(
                "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        LocalOptions::parse(&options)?;
        let mut st = self.lock();
        if let Some(meta) = st.volumes.get(name) {
            return Ok((self.volume(name, meta), false));
        }
        let meta = VolumeMeta {
            driver: "local".into(),
            created_at: crate::time::now_rfc3339(),
            labels,
            options,
        };
        let dir = self.root.join(name);
        let data = dir.join("_data");
        // dockerd's 0755: a container's non-root users use `_data` (copy-up then gives it
        // the mode of the image's directory).
        let written = crate::perms::create_dir_all(&data, crate::perms::SHARED)
            .and_then(|()| {
                serde_json::to_vec(&meta).map_err(|e| EngineError::Internal(e.to_string()))
            })
            .and_then(|bytes| atomic_write(&dir.join(META_FILE), &bytes));
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        let v = self.volume(name, &meta);
        st.volumes.insert(name.to_owned(), meta);
        Ok((v, true))
    }

    /// One volume.
    pub fn get(&self, name: &str) -> Result<Volume> {
        let st = self.lock();
        let meta = st
            .volumes
            .get(name)
            .ok_or_else(|| EngineError::NoSuchVolume(name.to_owned()))?;
        Ok(self.volume(name, meta))
    }

    /// Every volume, with its reference count.
    pub fn list(&self) -> Vec<(Volume, usize)> {
        let st = self.lock();
        st.volumes
            .iter()
            .map(|(n, m)| (self.volume(n, m), st.users.get(n).map_or(0, |u| u.len())))
            .collect()
    }

    /// Removes a volume nobody references. Docker's 409 when in use; `force` only hides a
    /// missing volume.
    pub fn remove(&self, name: &str, force: bool) -> Result<bool> {
        let mut st = self.lock();
        if !st.volumes.contains_key(name) {
            return if force {
                Ok(false)
            } else {
                Err(EngineError::NoSuchVolume(name.to_owned()))
            };
        }
        if let Some(users) = st.users.get(name).filter(|u| !u.is_empty()) {
            let ids: Vec<&str> = users.iter().map(String::as_str).collect();
            return Err(EngineError::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                ids.join(", ")
            )));
        }
        let dir = self.root.join(name);
        if st.mounted.remove(name) {
            local::unmount(&dir.join("_data"))?;
        }
        // Rename first: the volume is gone at once, and a crash mid-delete leaves only a
        // dot-directory that the next open removes.
        let doomed = self.root.join(format!(".removing-{name}"));
        let _ = fs::remove_dir_all(&doomed);
        fs::rename(&dir, &doomed).map_err(io_err("remove", &dir))?;
        st.volumes.remove(name);
        drop(st);
        if let Err(e) = fs::remove_dir_all(&doomed) {
            tracing::warn!("remove {}: {e}", doomed.display());
        }
        Ok(true)
    }

    /// Whether `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        self.lock().volumes.contains_key(name)
    }

    /// Metadata of a volume.
    pub fn meta(&self, name: &str) -> Option<VolumeMeta> {
        self.lock().volumes.get(name).cloned()
    }

    /// Records a container's mount points (persisted in its directory) and its references.
    pub fn attach(&self, id: &str, mounts: Vec<MountPoint>) -> Result<()> {
        // No file means no mount points (as `load` reads it): a container without mounts
        // costs no durable write (two fsyncs) on `create`.
        if !mounts.is_empty() {
            let dir = self.containers_dir.join(id);
            crate::perms::create_dir_all(&dir, crate::perms::PRIVATE_DIR)?;
            let bytes =
                serde_json::to_vec(&mounts).map_err(|e| EngineError::Internal(e.to_string()))?;
            atomic_write(&dir.join(MOUNTS_FILE), &bytes)?;
        }
        let mut st = self.lock();
        for mp in &mounts {
            if let Some(n) = mp.volume_name() {
                st.users
                    .entry(n.to_owned())
                    .or_default()
                    .insert(id.to_owned());
            }
        }
        st.mounts.insert(id.to_owned(), mounts);
        Ok(())
    }

    /// Forgets a removed container's references; returns its mount points. Volumes with
    /// driver options that nobody references any more are unmounted.
    pub fn detach(&self, id: &str) -> Vec<MountPoint> {
        let dir = self.containers_dir.join(id);
        let _ = fs::remove_file(dir.join(MOUNTS_FILE));
        // Gone only if nothing else is left (a failed create).
        let _ = fs::remove_dir(&dir);
        let mut st = self.lock();
        let mounts = st.mounts.remove(id).unwrap_or_default();
        for mp in &mounts {
            let Some(n) = mp.volume_name() else { continue };
            let unused = st.users.get_mut(n).is_some_and(|u| {
                u.remove(id);
                u.is_empty()
            });
            if unused {
                st.users.remove(n);
                if st.mounted.remove(n) {
                    if let Err(e) = local::unmount(&self.data_dir(n)) {
                        tracing::warn!("unmount volume {n}: {e}");
                    }
                }
            }
        }
        mounts
    }

    /// A container's mount points.
    pub fn mounts_of(&self, id: &str) -> Vec<MountPoint> {
        self.lock().mounts.get(id).cloned().unwrap_or_default()
    }

    /// Mounts the filesystem a volume's driver options describe on its `_data`, once, for
    /// container `id` (docker's local driver mounts at start).
    pub fn ensure_mounted(&self, name: &str, id: &str) -> Result<()> {
        let mut st = self.lock();
        let Some(meta) = st.volumes.get(name) else {
            return Err(EngineError::NoSuchVolume(name.to_owned()));
        };
        let Some(opts) = LocalOptions::parse(&meta.options)? else {
            return Ok(());
        };
        if !st.mounted.contains(name) {
            opts.mount(&self.data_dir(name))?;
            st.mounted.insert(name.to_owned());
        }
        st.active
            .entry(name.to_owned())
            .or_default()
            .insert(id.to_owned());
        Ok(())
    }

    /// Container `id` stopped: volumes with driver options that no running container uses any
    /// more are unmounted (docker's local driver unmounts at stop).
    pub fn stopped(&self, id: &str) {
        let mut st = self.lock();
        let mut idle = Vec::new();
        for (name, ids) in st.active.iter_mut() {
            if ids.remove(id) && ids.is_empty() {
                idle.push(name.clone());
            }
        }
        for name in idle {
            st.active.remove(&name);
            if st.mounted.remove(&name) {
                if let Err(e) = local::unmount(&self.data_dir(&name)) {
                    tracing::warn!("unmount volume {name}: {e}");
                }
            }
        }
    }

    /// Bytes used under a volume's `_data` (hard links counted once).
    pub fn size(&self, name: &str) -> i64 {
        let mut seen = HashSet::new();
        dir_size(&self.data_dir(name), &mut seen).map_or(-1, |s| s as i64)
    }
}

fn dir_size(path: &Path, seen: &mut HashSet<(u64, u64)>) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let md = entry.metadata()?;
        if md.nlink() > 1 && !seen.insert((md.dev(), md.ino())) {
            continue;
        }
        if md.is_dir() {
            total += dir_size(&entry.path(), seen)?;
        } else {
            total += md.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unfinished_creates_and_removals_are_cleaned_and_refs_reload() {
        let d = tempfile::tempdir().unwrap();
        let (root, cdir) = (d.path().join("volumes"), d.path().join("containers"));
        let none: Vec<String> = Vec::new();
        let s = VolumeStore::open(root.clone(), cdir.clone(), none.iter()).unwrap();
        s.create("kept", "", BTreeMap::new(), BTreeMap::new())
            .unwrap();
        assert!(s
            .create("bad/name", "", BTreeMap::new(), BTreeMap::new())
            .is_err());
        let mp = MountPoint {
            kind: "volume".into(),
            name: "kept".into(),
            destination: "/d".into(),
            ..Default::default()
        };
        s.attach("c1", vec![mp]).unwrap();
        // A crash between mkdir and the metadata write, and one in the middle of a removal.
        fs::create_dir_all(root.join("half/_data")).unwrap();
        fs::create_dir_all(root.join(".removing-old/_data")).unwrap();
        drop(s);
        let ids = ["c1".to_owned()];
        let s = VolumeStore::open(root.clone(), cdir, ids.iter()).unwrap();
        let names: Vec<String> = s.list().into_iter().map(|(v, _)| v.name).collect();
        assert_eq!(names, ["kept"]);
        assert!(!root.join("half").exists() && !root.join(".removing-old").exists());
        assert_eq!(s.list()[0].1, 1);
        let e = s.remove("kept", false).unwrap_err().to_string();
        assert!(e.contains("volume is in use - [c1]"), "{e}");
        s.detach("c1");
        assert!(s.remove("kept", false).unwrap());
        assert!(matches!(
            s.remove("kept", false),
            Err(EngineError::NoSuchVolume(_))
        ));
        assert!(!s.remove("kept", true).unwrap());
    }
}
