//! Talking to `berth-shim`: spawning it for a start, reading its report, and reading the exit
//! status it leaves in `<exec-root>/containers/<id>/exit.json`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::{EngineError, Result};

/// The file the shim writes (atomically) when the container has exited.
pub const EXIT_FILE: &str = "exit.json";
/// The shim's pid, present while it runs.
pub const SHIM_PID_FILE: &str = "shim.pid";

/// What the shim recorded about the exit.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ExitStatus {
    /// Docker's exit code (128+N for signal N).
    pub exit_code: i32,
    /// RFC 3339 time of the exit.
    pub finished_at: String,
    /// Whether the kernel's OOM killer ended it.
    #[serde(default)]
    pub oom_killed: bool,
}

/// Paths one shim invocation uses.
pub struct ShimPaths<'a> {
    pub binary: &'a Path,
    pub bundle: &'a Path,
    pub runtime_root: &'a Path,
    pub state_dir: &'a Path,
    pub log_path: &'a Path,
    /// Log rotation: max bytes per file (0: none) and number of files.
    pub rotation: (u64, u32),
    /// The shim's stdio options (`tty,stdin,stdin-once,hold=N`).
    pub stdio: String,
}

/// Runs the shim for container `id` and waits for its report: the init's pid once the
/// container's program runs, or the error that stopped it.
pub fn spawn(id: &str, p: &ShimPaths<'_>) -> Result<i32> {
    let mut child = Command::new(p.binary)
        .arg(id)
        .arg(p.bundle)
        .arg(p.runtime_root)
        .arg(p.state_dir)
        .arg(p.log_path)
        .arg(p.rotation.0.to_string())
        .arg(p.rotation.1.to_string())
        .arg(&p.stdio)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| EngineError::Start(format!("spawn {}: {e}", p.binary.display())))?;
    let mut out = String::new();
    let read = child.stdout.take().map(|mut s| s.read_to_string(&mut out));
    // The first process exits as soon as it has forked the real monitor.
    let _ = child.wait();
    if let Some(Err(e)) = read {
        return Err(EngineError::Start(format!("reading shim report: {e}")));
    }
    let line = out.lines().next().unwrap_or("");
    if let Some(pid) = line.strip_prefix("ok ") {
        return pid
            .trim()
            .parse()
            .map_err(|_| EngineError::Start(format!("bad shim report {line:?}")));
    }
    match line.strip_prefix("err ") {
        Some(msg) => Err(EngineError::Start(msg.to_owned())),
        None => Err(EngineError::Start("shim exited without a report".into())),
    }
}

/// The exit status left by the shim, if the container has exited.
pub fn read_exit(state_dir: &Path) -> Option<ExitStatus> {
    let data = std::fs::read(state_dir.join(EXIT_FILE)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// Whether the shim recorded in `state_dir` is still alive.
pub fn shim_alive(state_dir: &Path) -> bool {
    let Ok(s) = std::fs::read_to_string(state_dir.join(SHIM_PID_FILE)) else {
        return false;
    };
    let Ok(pid) = s.trim().parse::<i32>() else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|st| !st.contains("State:\tZ"))
            .unwrap_or(false)
}

/// The shim binary: `BERTH_SHIM` if set, else `berth-shim` next to the running executable, else
/// from `PATH`.
pub fn find_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_SHIM") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let cand = dir.join("berth-shim");
            if cand.exists() {
                return cand;
            }
        }
    }
    PathBuf::from("berth-shim")
}
