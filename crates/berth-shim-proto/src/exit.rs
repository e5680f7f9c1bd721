//! The files the shim keeps in the container's state dir: `shim.pid` while it runs, the
//! attach socket, and `exit.json` — written atomically once the container has exited; the
//! engine learns the exit from its appearance (an inotify watch on the rename).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The exit record's name in the state dir.
pub const EXIT_FILE: &str = "exit.json";
/// The shim's pid's file, present while it runs.
pub const SHIM_PID_FILE: &str = "shim.pid";
/// The attach socket's name in the state dir.
pub const ATTACH_SOCKET: &str = "attach.sock";

/// What the shim records about a container's exit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Docker's exit code (128+N for signal N).
    pub exit_code: i32,
    /// RFC 3339 time of the exit.
    pub finished_at: String,
    /// Whether the kernel's OOM killer ended it.
    #[serde(default)]
    pub oom_killed: bool,
}

impl ExitRecord {
    /// The record in `state_dir`, if the container has exited (and the file is whole: it is
    /// only ever renamed into place).
    pub fn read(state_dir: &Path) -> Option<ExitRecord> {
        let data = fs::read(state_dir.join(EXIT_FILE)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Writes the record into `state_dir` atomically.
    pub fn write(&self, state_dir: &Path) -> io::Result<()> {
        let data = serde_json::to_vec(self).map_err(io::Error::other)?;
        atomic_write(&state_dir.join(EXIT_FILE), &data)
    }
}

/// Records the running shim's pid in `state_dir`.
pub fn write_pid(state_dir: &Path, pid: u32) -> io::Result<()> {
    atomic_write(&state_dir.join(SHIM_PID_FILE), pid.to_string().as_bytes())
}

/// The pid recorded by [`write_pid`], if any.
pub fn read_pid(state_dir: &Path) -> Option<i32> {
    let s = fs::read_to_string(state_dir.join(SHIM_PID_FILE)).ok()?;
    s.trim().parse().ok().filter(|p| *p > 0)
}

/// Writes `data` to `path` through a temp file and a rename, so readers see all or nothing.
/// Not fsynced: these files describe processes, which a machine crash ends anyway (the exec
/// root is normally a tmpfs, and the engine treats a container without a live shim as
/// exited); waiting for the disk here only delayed every exit by one fsync (~4 ms on a busy
/// disk).
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let with = |what: &str, p: &Path, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    let mut f = File::create(&tmp).map_err(|e| with("create", &tmp, e))?;
    f.write_all(data).map_err(|e| with("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| with("rename", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_record_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ExitRecord::read(dir.path()), None);
        let r = ExitRecord {
            exit_code: 137,
            finished_at: "2026-12-07T23:00:00.123456789Z".into(),
            oom_killed: true,
        };
        r.write(dir.path()).unwrap();
        assert_eq!(ExitRecord::read(dir.path()), Some(r));
        // The temp file is gone: only the renamed record remains.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [EXIT_FILE]);
    }

    #[test]
    fn exit_record_wire_format() {
        let dir = tempfile::tempdir().unwrap();
        // What older shims wrote, and without the optional field.
        fs::write(
            dir.path().join(EXIT_FILE),
            r#"{"exit_code":3,"finished_at":"t"}"#,
        )
        .unwrap();
        let r = ExitRecord::read(dir.path()).unwrap();
        assert_eq!((r.exit_code, r.oom_killed), (3, false));
        fs::write(dir.path().join(EXIT_FILE), "{\"exit_code\":").unwrap();
        assert_eq!(ExitRecord::read(dir.path()), None);
    }

    #[test]
    fn pid_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_pid(dir.path()), None);
        write_pid(dir.path(), 77).unwrap();
        assert_eq!(read_pid(dir.path()), Some(77));
        fs::write(dir.path().join(SHIM_PID_FILE), "0").unwrap();
        assert_eq!(read_pid(dir.path()), None);
    }

    #[test]
    fn write_error_names_the_file() {
        let e = atomic_write(Path::new("/nonexistent-dir/x.json"), b"{}").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x.tmp"), "{e}");
    }
}
