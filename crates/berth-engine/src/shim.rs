//! Talking to `berth-shim`: spawning it for a start, reading its report, and reading the exit
//! status it leaves in `<exec-root>/containers/<id>/exit.json`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_shim_proto::{exit, Report, Rotation, ShimArgs, StartArgs, StdioOpts};

use crate::error::{EngineError, Result};

pub use berth_shim_proto::{ExitRecord, EXIT_FILE};

/// Paths one shim invocation uses.
pub struct ShimPaths<'a> {
    pub binary: &'a Path,
    pub bundle: &'a Path,
    pub runtime_root: &'a Path,
    pub state_dir: &'a Path,
    pub log_path: &'a Path,
    /// Log rotation: max bytes per file (0: none) and number of files.
    pub rotation: Rotation,
    /// The container's stdio.
    pub stdio: StdioOpts,
}

/// Runs the shim for container `id` and waits for its report: the init's pid once the
/// container's program runs, or the error that stopped it.
pub fn spawn(id: &str, p: &ShimPaths<'_>) -> Result<i32> {
    let args = ShimArgs::Start(StartArgs {
        id: id.to_owned(),
        bundle: p.bundle.to_owned(),
        runtime_root: p.runtime_root.to_owned(),
        state_dir: p.state_dir.to_owned(),
        log_path: p.log_path.to_owned(),
        rotation: p.rotation,
        stdio: p.stdio.clone(),
    });
    let mut child = Command::new(p.binary)
        .args(args.to_args())
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
    match Report::parse(&out) {
        Ok(Report::Started(pid)) => Ok(pid),
        Ok(Report::Failed(msg)) => Err(EngineError::Start(msg)),
        Err(e) => Err(EngineError::Start(e.to_string())),
    }
}

/// The exit status left by the shim, if the container has exited.
pub fn read_exit(state_dir: &Path) -> Option<ExitRecord> {
    ExitRecord::read(state_dir)
}

/// Whether the shim recorded in `state_dir` is still alive.
pub fn shim_alive(state_dir: &Path) -> bool {
    let Some(pid) = exit::read_pid(state_dir) else {
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
