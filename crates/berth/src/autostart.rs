//! Starting berthd on first use: when run as root, with the default socket, and nothing
//! answers there, the CLI starts `berthd` in the background (once) and says so on stderr.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::Failure;

fn berthd_binary() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let cand = dir.join("berthd");
            if cand.exists() {
                return cand;
            }
        }
    }
    PathBuf::from("berthd")
}

/// Makes sure a daemon answers on the default socket, starting one if we may.
pub fn ensure_daemon(client: &Client) -> Result<(), Failure> {
    // SAFETY: geteuid has no preconditions.
    if client.reachable() || unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let log_dir = match &client.endpoint {
        crate::conn::Endpoint::Unix(p) => p.parent().map(PathBuf::from),
        _ => None,
    }
    .unwrap_or_else(|| PathBuf::from("/run/berth"));
    let _ = std::fs::create_dir_all(&log_dir);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_dir.join("berthd.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let bin = berthd_binary();
    let mut cmd = Command::new(&bin);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    // SAFETY: setsid in the child before exec touches no shared state.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::daemon(format!("cannot start {}: {e}", bin.display())))?;
    eprintln!(
        "berth: no daemon was running; started berthd in the background (pid {}, log {})",
        child.id(),
        log_dir.join("berthd.log").display()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if client.reachable() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Failure::daemon(format!(
                "berthd exited at start-up: {status}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Failure::daemon("berthd did not come up within 10s"))
}
