//! `berth-shim exec CONTAINER_ID RUNTIME_ROOT PROCESS_JSON`: runs one more process in a running
//! container (docker's `exec`) with this process's stdio, waits for it and exits with its exit
//! code (128+N for signal N). berthd runs it as a direct child with pipes for stdout/stderr,
//! so the session ends when the daemon does (as docker's exec streams do).
//!
//! Failures to start print the runtime's message on stderr and exit 127 (program not found)
//! or 126 (anything else), docker's codes.

use std::path::Path;

use berth_runtime::container::{exec, Container, ExecOptions};
use berth_runtime::oci_spec::runtime::Process;
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    let lower = msg.to_ascii_lowercase();
    let code = if lower.contains("not found") || lower.contains("no such file") {
        127
    } else {
        126
    };
    std::process::exit(code);
}

/// Runs the exec and never returns.
pub fn run(id: &str, runtime_root: &Path, process_json: &Path) -> ! {
    // SAFETY: prctl with integer arguments only: the exec'd process is reparented to us.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // SAFETY: restoring the default disposition (Rust's start-up code ignores SIGPIPE).
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let process: Process = match std::fs::read(process_json)
        .map_err(|e| e.to_string())
        .and_then(|d| serde_json::from_slice(&d).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => fail(&format!("exec: reading the process: {e}")),
    };
    let container = match Container::load(runtime_root, id) {
        Ok(c) => c,
        Err(e) => fail(&format!("exec: container {id} is not running: {e}")),
    };
    let opts = ExecOptions {
        process,
        console_socket: None,
        pid_file: None,
        preserve_fds: 0,
    };
    let spawned = match exec(&container, &opts) {
        Ok(s) => s,
        Err(e) => fail(&format!("OCI runtime exec failed: {e}")),
    };
    // Only the process may hold the output pipes now, so berthd sees EOF when it is done.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 of a valid descriptor onto our stdout/stderr.
        unsafe {
            libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 1);
            libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 2);
        }
    }
    let pid = spawned.pid;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::empty())) {
            Ok(WaitStatus::Exited(p, c)) if p == pid => std::process::exit(c),
            Ok(WaitStatus::Signaled(p, s, _)) if p == pid => std::process::exit(128 + s as i32),
            Ok(_) => {}
            Err(nix::Error::EINTR) => {}
            Err(_) => std::process::exit(255),
        }
    }
}
