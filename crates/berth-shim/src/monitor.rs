//! Creating the container with stdio the shim owns (a pty, or pipes; stdin only when asked),
//! serving `attach.sock` in the state dir, then relaying until the container exits and
//! recording the exit.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

use berth_runtime::container::{create, Container, CreateOptions};
use nix::fcntl::OFlag;
use nix::sys::signal::{signal, SigHandler, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use berth_shim_proto::exit::{self, ExitRecord, ATTACH_SOCKET};
use berth_shim_proto::StartArgs;

use crate::logger::{now_rfc3339_nano, JsonLog};
use crate::relay::{Relay, Stdio};

/// How long output waits for attaches announced at start.
pub(crate) const HOLD: Duration = Duration::from_secs(3);

fn dup2(from: &impl AsRawFd, to: i32) -> Result<(), String> {
    // SAFETY: dup2 between valid descriptors; `to` is one of our stdio numbers.
    if unsafe { libc::dup2(from.as_raw_fd(), to) } < 0 {
        return Err(format!("dup2: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// Our ends of the pipes a new process gets as its stdio (no output pipes with a terminal:
/// the runtime makes a pty).
pub(crate) struct ChildStdio {
    /// Stdout and stderr read ends.
    pub pipes: Option<(OwnedFd, OwnedFd)>,
    /// The stdin write end.
    pub stdin: Option<OwnedFd>,
}

/// Puts fresh pipes (or /dev/null) on fds 0-2 and SIGPIPE back to its default: the process
/// the runtime forks next inherits both. [`reclaim_stdio`] undoes it once it is forked.
pub(crate) fn child_stdio(devnull: &File, stdin: bool, tty: bool) -> Result<ChildStdio, String> {
    let mut io = ChildStdio {
        pipes: None,
        stdin: None,
    };
    if stdin && !tty {
        let (r, w) = pipe()?;
        dup2(&r, 0)?;
        io.stdin = Some(w);
    } else {
        dup2(devnull, 0)?;
    }
    if !tty {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        dup2(&out_w, 1)?;
        dup2(&err_w, 2)?;
        io.pipes = Some((out_r, err_r));
    }
    // SAFETY: restoring the default disposition (Rust's start-up code ignores SIGPIPE).
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    Ok(io)
}

/// After the fork: only the new process may hold the pipes' other ends, or we would never see
/// EOF; and we write to peers that may have gone away (EPIPE is handled per write).
pub(crate) fn reclaim_stdio(devnull: &File) -> Result<(), String> {
    dup2(devnull, 0)?;
    dup2(devnull, 1)?;
    dup2(devnull, 2)?;
    // SAFETY: ignoring a signal only changes this process's disposition.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
    Ok(())
}

/// Binds `attach.sock` in `dir` (by a relative name: the full path may exceed the 108 bytes
/// of a socket address).
fn bind_attach(dir: &Path) -> Result<UnixListener, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
    std::env::set_current_dir(dir).map_err(|e| format!("chdir {}: {e}", dir.display()))?;
    let _ = fs::remove_file(ATTACH_SOCKET);
    let bound = UnixListener::bind(ATTACH_SOCKET);
    let _ = std::env::set_current_dir(cwd);
    bound.map_err(|e| format!("bind {}/{ATTACH_SOCKET}: {e}", dir.display()))
}

/// Creates and starts the container, reports to berthd, then monitors it until it exits.
pub fn run(args: &StartArgs, report: &mut Option<File>) -> Result<(), String> {
    std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o700)
        .create(&args.state_dir)
        .map_err(|e| format!("state dir: {e}"))?;
    exit::write_pid(&args.state_dir, std::process::id()).map_err(|e| e.to_string())?;
    // An empty path is the `none` log driver: no log at all.
    let log = (!args.log_path.as_os_str().is_empty())
        .then(|| JsonLog::open(args.log_path.clone(), args.rotation))
        .transpose()
        .map_err(|e| format!("open log {}: {e}", args.log_path.display()))?;
    let listener = bind_attach(&args.state_dir)?;

    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    // The init is a fork of this process: it inherits fds 0-2 and the signal dispositions.
    // With a terminal the runtime puts the pty's slave there instead.
    let ChildStdio {
        pipes,
        stdin: stdin_w,
    } = child_stdio(&devnull, args.stdio.stdin, args.stdio.tty)?;
    let created = create(&CreateOptions {
        id: args.id.clone(),
        bundle: args.bundle.clone(),
        root: args.runtime_root.clone(),
        ..Default::default()
    });
    reclaim_stdio(&devnull)?;
    let created = created.map_err(|e| e.to_string())?;
    let container = created.container;
    let io = match (pipes, created.pty_master) {
        (Some((out, err)), _) => Stdio {
            out: Some(out),
            err: Some(err),
            stdin: stdin_w,
            tty: false,
        },
        (None, Some(master)) => {
            let stdin = if args.stdio.stdin {
                Some(master.try_clone().map_err(|e| format!("dup pty: {e}"))?)
            } else {
                None
            };
            Stdio {
                out: Some(master),
                err: None,
                stdin,
                tty: true,
            }
        }
        (None, None) => {
            let _ = container.delete(true);
            return Err("the runtime returned no terminal for a tty container".into());
        }
    };

    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.thread_set_mask()
        .map_err(|e| format!("block SIGCHLD: {e}"))?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| format!("signalfd: {e}"))?;
    if let Err(e) = container.start() {
        let _ = Container::load(&args.runtime_root, &args.id).and_then(|c| c.delete(true));
        return Err(e.to_string());
    }
    let init = container.state.pid;
    drop(container);
    if let Some(mut r) = report.take() {
        let _ = writeln!(r, "{}", berth_shim_proto::Report::Started(init));
    }

    // Normally never returns: the monitor goes on in a fresh, small image.
    let handoff = crate::reexec::Handoff {
        init,
        io: &io,
        listener: &listener,
    };
    let why = crate::reexec::exec_monitor(args, &handoff);
    let _ = writeln!(std::io::stderr(), "berth-shim: {why}; monitoring in place");
    let mut relay = Relay::new(io, args.stdio.stdin_once, args.stdio.hold, HOLD);
    relay.listen(listener);
    if let Some(log) = log {
        relay.log_to(log);
    }
    finish(
        &args.id,
        &args.runtime_root,
        &args.state_dir,
        relay,
        init,
        &sfd,
    )
}

/// Relays until the container exits, then records the exit: the attach socket goes first
/// (no new attaches), clients get the rest of the output, the runtime state is deleted and
/// `exit.json` written.
pub fn finish(
    id: &str,
    runtime_root: &Path,
    state_dir: &Path,
    mut relay: Relay,
    init: i32,
    sfd: &SignalFd,
) -> Result<(), String> {
    let code = relay.run(init, sfd);
    let _ = fs::remove_file(state_dir.join(ATTACH_SOCKET));
    relay.finish(None);
    let mut oom_killed = false;
    if let Ok(c) = Container::load(runtime_root, id) {
        // The cgroup's own OOM counter, read before `delete` removes the cgroup.
        oom_killed = c
            .cgroup()
            .ok()
            .and_then(|g| g.stats().ok())
            .is_some_and(|s| s.memory.oom_kill > 0);
        let _ = c.delete(true);
    }
    let record = ExitRecord {
        exit_code: code,
        finished_at: now_rfc3339_nano(),
        oom_killed,
    };
    record.write(state_dir).map_err(|e| e.to_string())?;
    let _ = fs::remove_file(state_dir.join(exit::SHIM_PID_FILE));
    Ok(())
}
