//! The container record: docker's `Config`, `HostConfig` and `State` shapes, persisted per
//! container as `<data-root>/containers/<id>/config.v2.json` (temp file + fsync + rename, so a
//! crash leaves the old or the new record, never a torn one).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{io_err, EngineError, Result};
use crate::model::ContainerRecord;

/// Where records live: `<data-root>/containers`.
#[derive(Debug, Clone)]
pub struct RecordStore {
    dir: PathBuf,
}

const RECORD_FILE: &str = "config.v2.json";

impl RecordStore {
    /// Opens (creating) the directory.
    pub fn open(dir: PathBuf) -> Result<RecordStore> {
        crate::perms::create_dir_all(&dir, crate::perms::PRIVATE_DIR)?;
        Ok(RecordStore { dir })
    }

    /// The directory of one container (its record and log).
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Saves a record atomically and durably.
    pub fn save(&self, rec: &ContainerRecord) -> Result<()> {
        let dir = self.container_dir(&rec.id);
        crate::perms::create_dir_all(&dir, crate::perms::PRIVATE_DIR)?;
        let data = serde_json::to_vec(rec).map_err(|e| EngineError::Internal(e.to_string()))?;
        atomic_write(&dir.join(RECORD_FILE), &data)
    }

    /// Saves a record whose change is only run state (started, exited): the new file is
    /// fsynced before the rename, so a crash leaves the old or the new record, never a torn
    /// one, but the rename itself is not waited for (no directory fsync). Why: after a machine
    /// crash no container runs and the daemon reconciles the state at start, so the old record
    /// is as good; this saves one journal commit on `start` and on every exit (~4 ms each on a
    /// busy disk, on the path of `run`).
    pub fn save_state(&self, rec: &ContainerRecord) -> Result<()> {
        let path = self.container_dir(&rec.id).join(RECORD_FILE);
        let data = serde_json::to_vec(rec).map_err(|e| EngineError::Internal(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        let mut f = create_record_file(&tmp)?;
        f.write_all(&data)
            .and_then(|()| f.sync_data())
            .map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("rename", &path))
    }

    /// Loads every record; unreadable ones are logged and skipped.
    pub fn load_all(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err("read", &self.dir))? {
            let Ok(entry) = entry else { continue };
            let path = entry.path().join(RECORD_FILE);
            match fs::read(&path).map(|d| serde_json::from_slice::<ContainerRecord>(&d)) {
                Ok(Ok(rec)) => out.push(rec),
                Ok(Err(e)) => tracing::warn!("skipping {}: {e}", path.display()),
                Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
            }
        }
        Ok(out)
    }

    /// Removes a container's directory (record and log).
    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err("remove", &dir)(e)),
            _ => Ok(()),
        }
    }
}

/// Creates (truncating) a record file readable by root only: records hold the containers'
/// environment, secrets included. A file left by a crash keeps no wider mode.
fn create_record_file(path: &Path) -> Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(crate::perms::RECORD)
        .open(path)
        .map_err(io_err("create", path))?;
    f.set_permissions(fs::Permissions::from_mode(crate::perms::RECORD))
        .map_err(io_err("chmod", path))?;
    Ok(f)
}

/// Write temp, fsync, rename, fsync the directory.
pub(crate) fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = create_record_file(&tmp)?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{ContainerConfig, ContainerState, HostConfig};
    use crate::time::ZERO_TIME;

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path().join("containers")).unwrap();
        let rec = ContainerRecord {
            id: "abc".into(),
            created: ZERO_TIME.into(),
            path: "sh".into(),
            args: vec![],
            state: ContainerState::default(),
            image: "sha256:00".into(),
            name: "/x".into(),
            restart_count: 0,
            driver: "overlay".into(),
            platform: "linux".into(),
            config: ContainerConfig::default(),
            host_config: HostConfig::default(),
            manually_stopped: false,
        };
        store.save(&rec).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].short_name(), "x");
        store.remove("abc").unwrap();
        assert!(store.load_all().unwrap().is_empty());
    }
}
