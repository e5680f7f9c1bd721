//! The container record: docker's `Config`, `HostConfig` and `State` shapes, persisted per
//! container as `<data-root>/containers/<id>/config.v2.json` (temp file + fsync + rename, so a
//! crash leaves the old or the new record, never a torn one).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{io_err, EngineError, Result};
use crate::time::ZERO_TIME;

/// `null` in a request reads as the default value (docker clients send `"Env": null`).
fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Docker's container `Config`: what to run and how (from the create request merged with the
/// image's config).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    #[serde(deserialize_with = "nullable")]
    pub hostname: String,
    #[serde(deserialize_with = "nullable")]
    pub domainname: String,
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    #[serde(deserialize_with = "nullable")]
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
}

/// The part of docker's `HostConfig` this engine honours so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// Remove the container when it exits (`run --rm`).
    pub auto_remove: bool,
    /// Always "none" until networking lands.
    #[serde(deserialize_with = "nullable")]
    pub network_mode: String,
}

/// Docker's `State` object of `inspect`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// created, running, exited (docker also knows paused, restarting, removing, dead).
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: "created".into(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
        }
    }
}

/// Everything the engine keeps about one container; serialised, it is the core of docker's
/// `inspect` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerRecord {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    /// The image id (`sha256:…`).
    pub image: String,
    /// `/name`, as docker shows it.
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
}

impl ContainerRecord {
    /// The name without docker's leading slash.
    pub fn short_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
}

/// Where records live: `<data-root>/containers`.
#[derive(Debug, Clone)]
pub struct RecordStore {
    dir: PathBuf,
}

const RECORD_FILE: &str = "config.v2.json";

impl RecordStore {
    /// Opens (creating) the directory.
    pub fn open(dir: PathBuf) -> Result<RecordStore> {
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(RecordStore { dir })
    }

    /// The directory of one container (its record and log).
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Saves a record atomically.
    pub fn save(&self, rec: &ContainerRecord) -> Result<()> {
        let dir = self.container_dir(&rec.id);
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let data = serde_json::to_vec(rec).map_err(|e| EngineError::Internal(e.to_string()))?;
        atomic_write(&dir.join(RECORD_FILE), &data)
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

/// Write temp, fsync, rename, fsync the directory.
pub(crate) fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
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

    #[test]
    fn config_accepts_nulls() {
        let c: ContainerConfig = serde_json::from_str(
            r#"{"Image":"busybox","Env":null,"Cmd":["echo","hi"],"Labels":null,"Entrypoint":null,"Tty":false}"#,
        )
        .unwrap();
        assert_eq!(c.image, "busybox");
        assert!(c.env.is_empty());
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["echo".to_owned(), "hi".to_owned()][..])
        );
    }

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
        };
        store.save(&rec).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].short_name(), "x");
        store.remove("abc").unwrap();
        assert!(store.load_all().unwrap().is_empty());
    }
}
