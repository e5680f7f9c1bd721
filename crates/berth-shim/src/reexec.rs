//! Staying small while the container runs: creating and starting a container faults in most of
//! the runtime library (and its heap), so once the container runs the shim re-executes itself
//! as `berth-shim monitor …`, handing over the descriptors it relays by number. The new image
//! only touches the relay loop, the logger and the exit path, which keeps the per-container
//! memory (RSS) well under a MiB.
//!
//! The monitor's command line is `berth_shim_proto::MonitorArgs`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;

use berth_shim_proto::{MonitorArgs, StartArgs, StdioOpts};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::logger::JsonLog;
use crate::relay::{Relay, Stdio};

/// What the starting shim hands to the monitor image.
pub struct Handoff<'a> {
    pub init: i32,
    pub io: &'a Stdio,
    pub listener: &'a UnixListener,
}

fn keep_on_exec(fd: RawFd) {
    // SAFETY: F_SETFD on a descriptor we own; clearing FD_CLOEXEC only.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
}

fn fd_arg(fd: &Option<OwnedFd>) -> Option<RawFd> {
    fd.as_ref().map(|f| {
        keep_on_exec(f.as_raw_fd());
        f.as_raw_fd()
    })
}

/// Re-executes as the monitor. Returns only if the exec failed (the caller then monitors
/// in this process).
pub fn exec_monitor(args: &StartArgs, h: &Handoff<'_>) -> String {
    keep_on_exec(h.listener.as_raw_fd());
    let monitor = MonitorArgs {
        id: args.id.clone(),
        runtime_root: args.runtime_root.clone(),
        state_dir: args.state_dir.clone(),
        log_path: args.log_path.clone(),
        rotation: args.rotation,
        init: h.init,
        // The stdin travels as a descriptor.
        stdio: StdioOpts {
            tty: h.io.tty,
            stdin: false,
            ..args.stdio.clone()
        },
        out_fd: fd_arg(&h.io.out),
        err_fd: fd_arg(&h.io.err),
        stdin_fd: fd_arg(&h.io.stdin),
        listen_fd: h.listener.as_raw_fd(),
    };
    let mut argv = vec![std::ffi::OsString::from("berth-shim")];
    argv.extend(monitor.to_args());
    let Ok(c_args) = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
    else {
        return "monitor arguments contain NUL".into();
    };
    let mut ptrs: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let exe = c"/proc/self/exe";
    // SAFETY: execv with a NULL-terminated argv of live CStrings; returns only on failure.
    unsafe { libc::execv(exe.as_ptr(), ptrs.as_ptr()) };
    format!("re-exec as monitor: {}", std::io::Error::last_os_error())
}

fn own(fd: Option<RawFd>) -> Option<OwnedFd> {
    // SAFETY: the starting shim handed us this descriptor (kept open across exec) to own.
    fd.map(|n| unsafe { OwnedFd::from_raw_fd(n) })
}

/// The monitor image: rebuilds the relay from the handed-over descriptors and runs it to the
/// container's exit. Never returns.
pub fn run(args: &MonitorArgs) -> ! {
    let io = Stdio {
        out: own(args.out_fd),
        err: own(args.err_fd),
        stdin: own(args.stdin_fd),
        tty: args.stdio.tty,
    };
    // SAFETY: as in `own`; the listen descriptor is always handed over.
    let listener = UnixListener::from(unsafe { OwnedFd::from_raw_fd(args.listen_fd) });
    // SIGCHLD stays blocked across exec; a pending one is read from the new signalfd.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let _ = mask.thread_block();
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("berth-shim monitor: signalfd: {e}");
            std::process::exit(1);
        }
    };
    let mut relay = Relay::new(
        io,
        args.stdio.stdin_once,
        args.stdio.hold,
        crate::monitor::HOLD,
    );
    relay.listen(listener);
    // An empty path is the `none` log driver.
    if !args.log_path.as_os_str().is_empty() {
        if let Ok(log) = JsonLog::open(args.log_path.clone(), args.rotation) {
            relay.log_to(log);
        }
    }
    let result = crate::monitor::finish(
        &args.id,
        &args.runtime_root,
        &args.state_dir,
        relay,
        args.init,
        &sfd,
    );
    std::process::exit(i32::from(result.is_err()));
}
