//! `berth-shim`: the per-container monitor (the role of conmon / containerd-shim).
//!
//! berthd runs `berth-shim ID BUNDLE RUNTIME_ROOT STATE_DIR LOG_PATH MAX_SIZE MAX_FILE OPTS`
//! with its stdout on a pipe; the command line, the report, `exit.json` and the attach frames
//! are defined once, in `berth-shim-proto`, which the engine links too.
//! The shim re-executes from a sealed copy of itself, forks (the parent exits at once so berthd
//! reaps it), leads a new session and becomes a child subreaper, so it outlives berthd. It then
//! creates and starts the container through the `berth-runtime` library with stdout/stderr pipes
//! (or a pty) it owns, reports `ok PID` or `err MESSAGE` on the pipe to berthd and closes it,
//! serves attaches on `STATE_DIR/attach.sock`, writes the json-file log, reaps the
//! init, deletes the runtime state and finally writes
//! `STATE_DIR/exit.json` atomically — the file berthd learns the exit from.
//!
//! No async runtime: one `poll` loop (`relay.rs`) over the stdio, the attach clients and a
//! signalfd for SIGCHLD.
//!
//! `berth-shim exec …` is the other mode: one `docker exec` process (see `exec.rs`).

mod exec;
mod logger;
mod monitor;
mod reexec;
mod relay;
mod trim;

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};

use berth_shim_proto::{Report, ShimArgs, StartArgs};

/// A close-on-exec duplicate of our stdout: the report channel to berthd.
fn report_channel() -> Option<File> {
    // SAFETY: F_DUPFD_CLOEXEC on fd 1 returns a new descriptor or -1.
    let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Some(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// The shim's umask: its files (pid, exit status, log, attach socket) are root's, the log
/// also its group's (0640, as dockerd's). What the runtime makes in a container's root and
/// the container's processes get the spec's umask or runc's 0022, not this one.
const SHIM_UMASK: libc::mode_t = 0o027;

fn main() {
    // SAFETY: umask(2) only changes this process's file-creation mask; it cannot fail.
    unsafe { libc::umask(SHIM_UMASK) };
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match ShimArgs::parse(&argv) {
        Ok(ShimArgs::Start(args)) => start(&args),
        Ok(ShimArgs::Monitor(args)) => reexec::run(&args),
        Ok(ShimArgs::Exec(args)) => {
            // exec enters the container's namespaces: run from a sealed/read-only binary.
            if let Err(e) = berth_runtime::seal::ensure_sealed() {
                eprintln!("{e}");
                std::process::exit(126);
            }
            exec::run(&args)
        }
        Err(e) => {
            eprintln!("berth-shim: {e}");
            std::process::exit(2);
        }
    }
}

/// Reports a failure before the fork: berthd reads our stdout.
fn fail_early(msg: String) -> ! {
    println!("{}", Report::Failed(msg));
    std::process::exit(1);
}

fn start(args: &StartArgs) -> ! {
    // Only where a container could reach our /proc entries (see seal::needed_for): in the usual
    // case the init is alone in a new PID namespace and non-dumpable, and the re-exec is saved.
    let needs_seal = berth_runtime::oci_spec::runtime::Spec::load(args.bundle.join("config.json"))
        .map(|spec| berth_runtime::seal::needed_for(&spec))
        .unwrap_or(true);
    if needs_seal {
        if let Err(e) = berth_runtime::seal::ensure_sealed() {
            fail_early(e.to_string());
        }
    }
    // SAFETY: single-threaded here; the child only continues this program.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => fail_early(format!("fork shim: {e}")),
    }
    let _ = nix::unistd::setsid();
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut report = report_channel();
    if report.is_none() {
        std::process::exit(1);
    }
    if let Err(e) = monitor::run(args, &mut report) {
        if let Some(r) = report.as_mut() {
            let _ = writeln!(r, "{}", Report::Failed(e));
        }
        std::process::exit(1);
    }
    std::process::exit(0);
}
