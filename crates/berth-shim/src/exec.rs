//! `berth-shim exec CONTAINER_ID RUNTIME_ROOT PROCESS_JSON [stdin]` (`ExecArgs`): runs one more
//! process in a running container (docker's `exec`). berthd runs it as a direct child with one
//! end of a socketpair as fd 0, and speaks the attach protocol (`berth_shim_proto::frames`) on
//! it: the process's output comes back as frames, stdin and resizes go in, and an `EXIT` frame
//! carries the exit code before the socket closes. The shim also exits with that code
//! (128+N for signal N). The session ends when the daemon does, as docker's exec streams do.
//!
//! Failures to start are reported as a stderr frame with the runtime's message and exit 127
//! (program not found) or 126 (anything else), docker's codes.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use berth_runtime::container::{exec, Container, ExecOptions};
use berth_runtime::oci_spec::runtime::Process;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use berth_shim_proto::frames::{self, kind};
use berth_shim_proto::ExecArgs;

use crate::monitor::{child_stdio, reclaim_stdio, ChildStdio};
use crate::relay::{Relay, Stdio};

fn fail(conn: &mut Option<UnixStream>, msg: &str) -> ! {
    let lower = msg.to_ascii_lowercase();
    let code: i32 = if lower.contains("not found") || lower.contains("no such file") {
        127
    } else {
        126
    };
    match conn {
        Some(c) => {
            let mut out = frames::encode(kind::STDERR, format!("{msg}\n").as_bytes());
            out.extend(frames::exit(code));
            let _ = std::io::Write::write_all(c, &out);
        }
        None => eprintln!("{msg}"),
    }
    std::process::exit(code);
}

/// Runs the exec and never returns.
pub fn run(args: &ExecArgs) -> ! {
    let (id, runtime_root, process_json) = (&args.container, &args.runtime_root, &args.process);
    // SAFETY: prctl with integer arguments only: the exec'd process is reparented to us.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // SAFETY: fd 0 is the socket berthd gave us; we take it over (and move it off fd 0).
    let conn_fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    let mut conn = (conn_fd >= 0)
        // SAFETY: a fresh descriptor we own.
        .then(|| UnixStream::from(unsafe { OwnedFd::from_raw_fd(conn_fd) }));
    let with_stdin = args.stdin;
    let process: Process = match std::fs::read(process_json)
        .map_err(|e| e.to_string())
        .and_then(|d| serde_json::from_slice(&d).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => fail(&mut conn, &format!("exec: reading the process: {e}")),
    };
    let tty = process.terminal().unwrap_or(false);
    let container = match Container::load(runtime_root, id) {
        Ok(c) => c,
        Err(e) => fail(
            &mut conn,
            &format!("exec: container {id} is not running: {e}"),
        ),
    };
    let devnull = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        Ok(f) => f,
        Err(e) => fail(&mut conn, &format!("exec: /dev/null: {e}")),
    };
    let ChildStdio {
        pipes,
        stdin: stdin_w,
    } = match child_stdio(&devnull, with_stdin, tty) {
        Ok(io) => io,
        Err(e) => fail(&mut conn, &format!("exec: {e}")),
    };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let opts = ExecOptions {
        process,
        console_socket: None,
        pid_file: None,
        preserve_fds: 0,
        ignore_paused: false,
    };
    let spawned = exec(&container, &opts);
    if let Err(e) = reclaim_stdio(&devnull) {
        fail(&mut conn, &format!("exec: {e}"));
    }
    let spawned = match spawned {
        Ok(s) => s,
        Err(e) => fail(&mut conn, &format!("OCI runtime exec failed: {e}")),
    };
    let io = match (pipes, spawned.pty_master) {
        (Some((out, err)), _) => Stdio {
            out: Some(out),
            err: Some(err),
            stdin: stdin_w,
            tty: false,
        },
        (None, Some(master)) => Stdio {
            stdin: with_stdin.then(|| master.try_clone().ok()).flatten(),
            out: Some(master),
            err: None,
            tty: true,
        },
        (None, None) => fail(&mut conn, "exec: the runtime returned no terminal"),
    };
    if mask.thread_block().is_err() {
        fail(&mut conn, "exec: cannot block SIGCHLD");
    }
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(s) => s,
        Err(e) => fail(&mut conn, &format!("exec: signalfd: {e}")),
    };
    // docker closes an exec's stdin when the client's ends.
    let mut relay = Relay::new(io, true, 0, std::time::Duration::ZERO);
    if let Some(c) = conn.take() {
        relay.add_client(c);
    }
    let code = relay.run(spawned.pid.as_raw(), &sfd);
    relay.finish(Some(frames::exit(code)));
    std::process::exit(code);
}
