//! The on-disk record of a container, under `<root>/<id>/`.
//!
//! Why a record at all: every runtime command is a separate process, so `start`, `kill`,
//! `delete`, `exec` … learn what `create` did only from here. The record is written once, atomically
//! (temp file + rename), and never describes a live status: the status is always derived from the
//! kernel ([`State::status`]) so it cannot go stale when a container dies unobserved.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// File name of the record inside the container's state directory.
const STATE_FILE: &str = "state.json";
/// The FIFO that holds the container's init between `create` and `start`.
pub(crate) const EXEC_FIFO: &str = "exec.fifo";

/// Why reading or writing a record failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container does not exist")]
    NotFound,
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-' and '.' only")]
    InvalidId(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt state file {path}: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A container's status as the runtime spec defines it, plus `paused` (as runc reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    /// The lowercase name used in `state` and `list` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `create` recorded about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub id: String,
    /// Host pid of the container's init process.
    pub pid: i32,
    /// The init's start time in clock ticks (field 22 of /proc/PID/stat): guards against pid reuse.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    pub owner: String,
    /// The cgroup path the container was placed in (as given to the cgroup manager).
    pub cgroup_path: String,
    /// Whether the cgroup path was in systemd's `slice:prefix:name` form.
    pub systemd_cgroup: bool,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
}

/// `<root>/<id>`: the directory holding a container's record.
pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Refuses ids that could escape the root directory or confuse other tools (runc's rule).
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_owned()))
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Claims `<root>/<id>` for a new container; fails if the id is taken. The mkdir is the lock.
pub fn claim_dir(root: &Path, id: &str) -> Result<PathBuf, StateError> {
    validate_id(id)?;
    fs::create_dir_all(root).map_err(io_err("mkdir", root))?;
    let dir = container_dir(root, id);
    match fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(StateError::Exists(id.to_owned()))
        }
        Err(e) => Err(io_err("mkdir", &dir)(e)),
    }
}

impl State {
    /// Writes the record atomically (temp file + rename). No fsync: the root lives on tmpfs
    /// (/run), which a crash empties anyway, and this is on the container-start path.
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(".state.json.tmp");
        let data = serde_json::to_vec(self).map_err(|source| StateError::Corrupt {
            path: path.clone(),
            source,
        })?;
        let mut f = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(&data).map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("rename", &path))
    }

    /// Reads the record of container `id` under `root`.
    pub fn load(root: &Path, id: &str) -> Result<State, StateError> {
        validate_id(id)?;
        let path = container_dir(root, id).join(STATE_FILE);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::NotFound),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        serde_json::from_slice(&data).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Whether the recorded init process still exists (and is not a zombie, and is the same process).
    pub fn init_alive(&self) -> bool {
        if self.pid <= 0 {
            return false;
        }
        match proc_stat(self.pid) {
            Some((state, start)) => state != 'Z' && state != 'X' && start == self.pid_start_time,
            None => false,
        }
    }

    /// The status derived from the kernel: dead init → stopped; init still parked on the exec
    /// FIFO → created; frozen cgroup → paused; else running.
    pub fn status(&self, dir: &Path, frozen: impl FnOnce() -> bool) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if dir.join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    /// Sends `sig` to the init process if it is still the recorded one.
    pub fn signal_init(&self, sig: nix::sys::signal::Signal) -> nix::Result<()> {
        if !self.init_alive() {
            return Err(nix::Error::ESRCH);
        }
        kill(Pid::from_raw(self.pid), sig)
    }
}

/// Reads (state letter, start time) from /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: parse after the last ')'.
    let rest = &data[data.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state come fields 4..; starttime is field 22, i.e. the 19th after the state.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Lists container ids under `root` (directories holding a record).
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("readdir", root)(e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        for good in ["abc", "a.b-c_d+e", "0123"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claim_is_exclusive_and_record_round_trips() {
        let root = tempfile::tempdir().unwrap();
        let dir = claim_dir(root.path(), "c1").unwrap();
        assert!(matches!(
            claim_dir(root.path(), "c1"),
            Err(StateError::Exists(_))
        ));
        let (_, start) = proc_stat(std::process::id() as i32).unwrap();
        let st = State {
            id: "c1".into(),
            pid: std::process::id() as i32,
            pid_start_time: start,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: "root".into(),
            cgroup_path: "/berth/c1".into(),
            systemd_cgroup: false,
            annotations: HashMap::new(),
        };
        st.save(&dir).unwrap();
        let back = State::load(root.path(), "c1").unwrap();
        assert_eq!(back.pid, st.pid);
        assert!(back.init_alive());
        assert_eq!(back.status(&dir, || false), Status::Running);
        assert_eq!(back.status(&dir, || true), Status::Paused);
        assert_eq!(list_ids(root.path()).unwrap(), vec!["c1".to_string()]);
        let dead = State {
            pid_start_time: start + 1,
            ..back
        };
        assert_eq!(dead.status(&dir, || false), Status::Stopped);
        assert!(matches!(
            State::load(root.path(), "nope"),
            Err(StateError::NotFound)
        ));
    }
}
