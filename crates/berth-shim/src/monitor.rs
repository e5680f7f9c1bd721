//! Creating the container with our pipes as its stdout/stderr, then the monitor loop: log the
//! output, reap the init (and any orphan we inherit as subreaper), record the exit.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use berth_runtime::container::{create, Container, CreateOptions};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{signal, SigHandler, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::logger::{now_rfc3339_nano, JsonLog, Stream};
use crate::Args;

/// How long output is still collected after the init died (a grandchild may hold the pipe).
const DRAIN: Duration = Duration::from_secs(2);

fn dup2(from: &impl AsRawFd, to: i32) -> Result<(), String> {
    // SAFETY: dup2 between valid descriptors; `to` is one of our stdio numbers.
    if unsafe { libc::dup2(from.as_raw_fd(), to) } < 0 {
        return Err(format!("dup2: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Creates and starts the container, reports to berthd, then monitors it until it exits.
pub fn run(args: &Args, report: &mut Option<File>) -> Result<(), String> {
    fs::create_dir_all(&args.state_dir).map_err(|e| format!("state dir: {e}"))?;
    atomic_write(
        &args.state_dir.join("shim.pid"),
        std::process::id().to_string().as_bytes(),
    )?;
    let mut log = JsonLog::open(args.log_path.clone(), args.rotation)
        .map_err(|e| format!("open log {}: {e}", args.log_path.display()))?;

    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    // The init is a fork of this process: it inherits fds 0-2 and the signal dispositions.
    dup2(&devnull, 0)?;
    dup2(&out_w, 1)?;
    dup2(&err_w, 2)?;
    drop((out_w, err_w));
    // SAFETY: restoring the default disposition (Rust's start-up code ignores SIGPIPE).
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let created = create(&CreateOptions {
        id: args.id.clone(),
        bundle: args.bundle.clone(),
        root: args.runtime_root.clone(),
        ..Default::default()
    });
    // Only the container may hold the write ends, or we would never see EOF.
    dup2(&devnull, 1)?;
    dup2(&devnull, 2)?;
    let created = created.map_err(|e| e.to_string())?;
    let container = created.container;

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
    if let Some(mut r) = report.take() {
        let _ = writeln!(r, "ok {init}");
    }

    let code = monitor(init, &sfd, [out_r, err_r], &mut log);
    let _ = log.flush_partial(Stream::Stdout);
    let _ = log.flush_partial(Stream::Stderr);
    if let Ok(c) = Container::load(&args.runtime_root, &args.id) {
        let _ = c.delete(true);
    }
    let exit = serde_json::json!({
        "exit_code": code,
        "finished_at": now_rfc3339_nano(),
        "oom_killed": false,
    });
    atomic_write(
        &args.state_dir.join("exit.json"),
        exit.to_string().as_bytes(),
    )?;
    let _ = fs::remove_file(args.state_dir.join("shim.pid"));
    Ok(())
}

/// Logs output and reaps children until the init has exited and its pipes are drained (or
/// [`DRAIN`] passed). Returns docker's exit code (128+N for signal N).
fn monitor(init: i32, sfd: &SignalFd, pipes: [OwnedFd; 2], log: &mut JsonLog) -> i32 {
    let mut open: [Option<OwnedFd>; 2] = pipes.map(Some);
    let mut code = reap(init);
    let mut deadline = code.map(|_| Instant::now() + DRAIN);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if code.is_some() && open.iter().all(Option::is_none) {
            break;
        }
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                PollTimeout::try_from(left).unwrap_or(PollTimeout::ZERO)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let idx: Vec<usize> = (0..2).filter(|i| open[*i].is_some()).collect();
        for i in &idx {
            if let Some(fd) = &open[*i] {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
        }
        if poll(&mut fds, timeout).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(_)) = sfd.read_signal() {}
            if code.is_none() {
                code = reap(init);
                if code.is_some() {
                    deadline = Some(Instant::now() + DRAIN);
                }
            } else {
                let _ = reap(init);
            }
        }
        for (k, i) in idx.iter().enumerate() {
            if !ready[k + 1] {
                continue;
            }
            let Some(fd) = &open[*i] else { continue };
            let stream = if *i == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => {
                    let _ = log.flush_partial(stream);
                    open[*i] = None;
                }
                Ok(n) => {
                    let _ = log.push(stream, &buf[..n]);
                }
                Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
                Err(_) => open[*i] = None,
            }
        }
    }
    code.unwrap_or(255)
}

/// Reaps every exited child; returns the init's exit code if it was among them.
fn reap(init: i32) -> Option<i32> {
    let mut found = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) if pid.as_raw() == init => found = Some(c),
            Ok(WaitStatus::Signaled(pid, s, _)) if pid.as_raw() == init => {
                found = Some(128 + s as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(_) => {}
        }
    }
}

/// Writes `data` to `path` through a temp file and a rename, so readers see all or nothing.
fn atomic_write(path: &std::path::Path, data: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| format!("rename {}: {e}", path.display()))
}
