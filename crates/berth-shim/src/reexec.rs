//! Staying small while the container runs: creating and starting a container faults in most of
//! the runtime library (and its heap), so once the container runs the shim re-executes itself
//! as `berth-shim monitor …`, handing over the descriptors it relays by number. The new image
//! only touches the relay loop, the logger and the exit path, which keeps the per-container
//! memory (RSS) well under a MiB.
//!
//! `berth-shim monitor ID RUNTIME_ROOT STATE_DIR LOG_PATH MAX_SIZE MAX_FILE INIT_PID FLAGS
//! HOLD OUT_FD ERR_FD STDIN_FD LISTEN_FD` (FLAGS: `tty`, `stdin-once`, comma separated; a
//! descriptor of -1 means none).

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::logger::{JsonLog, Rotation};
use crate::relay::{Relay, Stdio};
use crate::Args;

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

fn fd_arg(fd: &Option<OwnedFd>) -> String {
    match fd {
        Some(f) => {
            keep_on_exec(f.as_raw_fd());
            f.as_raw_fd().to_string()
        }
        None => "-1".into(),
    }
}

/// Re-executes as the monitor. Returns only if the exec failed (the caller then monitors
/// in this process).
pub fn exec_monitor(args: &Args, h: &Handoff<'_>) -> String {
    let mut flags = Vec::new();
    if h.io.tty {
        flags.push("tty");
    }
    if args.opts.stdin_once {
        flags.push("stdin-once");
    }
    keep_on_exec(h.listener.as_raw_fd());
    let argv: Vec<OsString> = vec![
        "berth-shim".into(),
        "monitor".into(),
        args.id.clone().into(),
        args.runtime_root.clone().into(),
        args.state_dir.clone().into(),
        args.log_path.clone().into(),
        args.rotation.max_size.to_string().into(),
        args.rotation.max_file.to_string().into(),
        h.init.to_string().into(),
        flags.join(",").into(),
        args.opts.hold.to_string().into(),
        fd_arg(&h.io.out).into(),
        fd_arg(&h.io.err).into(),
        fd_arg(&h.io.stdin).into(),
        h.listener.as_raw_fd().to_string().into(),
    ];
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

fn own(fd: &str) -> Option<Option<OwnedFd>> {
    let n: RawFd = fd.parse().ok()?;
    // SAFETY: the starting shim handed us this descriptor (kept open across exec) to own.
    Some((n >= 0).then(|| unsafe { OwnedFd::from_raw_fd(n) }))
}

/// The monitor image: rebuilds the relay from the handed-over descriptors and runs it to the
/// container's exit. Never returns.
pub fn run(argv: &[OsString]) -> ! {
    let parsed = (|| {
        let [_, _, id, root, state, log, size, files, init, flags, hold, out, err, stdin, listen] =
            argv
        else {
            return None;
        };
        let s = |o: &OsString| o.to_str().map(str::to_owned);
        let flags = s(flags)?;
        let args = Args {
            id: s(id)?,
            bundle: PathBuf::new(),
            runtime_root: root.into(),
            state_dir: state.into(),
            log_path: log.into(),
            rotation: Rotation {
                max_size: s(size)?.parse().ok()?,
                max_file: s(files)?.parse().ok()?,
            },
            opts: crate::StdioOpts {
                tty: flags.split(',').any(|f| f == "tty"),
                stdin: false,
                stdin_once: flags.split(',').any(|f| f == "stdin-once"),
                hold: s(hold)?.parse().ok()?,
            },
        };
        let io = Stdio {
            out: own(&s(out)?)?,
            err: own(&s(err)?)?,
            stdin: own(&s(stdin)?)?,
            tty: args.opts.tty,
        };
        let listener = UnixListener::from(own(&s(listen)?)??);
        let init: i32 = s(init)?.parse().ok()?;
        Some((args, io, listener, init))
    })();
    let Some((args, io, listener, init)) = parsed else {
        eprintln!("berth-shim monitor: bad arguments");
        std::process::exit(2);
    };
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
        args.opts.stdin_once,
        args.opts.hold,
        crate::monitor::HOLD,
    );
    relay.listen(listener);
    if let Ok(log) = JsonLog::open(args.log_path.clone(), args.rotation) {
        relay.log_to(log);
    }
    let result = crate::monitor::finish(&args, relay, init, &sfd);
    std::process::exit(i32::from(result.is_err()));
}
