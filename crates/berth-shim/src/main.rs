//! `berth-shim`: the per-container monitor (the role of conmon / containerd-shim).
//!
//! berthd runs `berth-shim ID BUNDLE RUNTIME_ROOT STATE_DIR LOG_PATH [MAX_SIZE MAX_FILE [OPTS]]`
//! with its stdout on a pipe (MAX_SIZE in bytes, 0 = no rotation; OPTS a comma list of `tty`,
//! `stdin`, `stdin-once`, `hold=N`: N attaches made before the start are awaited).
//! The shim re-executes from a sealed copy of itself, forks (the parent exits at once so berthd
//! reaps it), leads a new session and becomes a child subreaper, so it outlives berthd. It then
//! creates and starts the container through the `berth-runtime` library with stdout/stderr pipes
//! (or a pty) it owns, reports `ok PID` or `err MESSAGE` on the pipe to berthd and closes it,
//! serves attaches on `STATE_DIR/attach.sock` (`frames.rs`), writes the json-file log, reaps the
//! init, deletes the runtime state and finally writes
//! `STATE_DIR/exit.json` atomically — the file berthd learns the exit from.
//!
//! No async runtime: one `poll` loop (`relay.rs`) over the stdio, the attach clients and a
//! signalfd for SIGCHLD.
//!
//! `berth-shim exec …` is the other mode: one `docker exec` process (see `exec.rs`).

mod exec;
mod frames;
mod logger;
mod monitor;
mod reexec;
mod relay;
mod trim;

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// What berthd tells the shim on its command line.
pub struct Args {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime_root: PathBuf,
    pub state_dir: PathBuf,
    pub log_path: PathBuf,
    pub rotation: logger::Rotation,
    pub opts: StdioOpts,
}

/// How the container's stdio is set up (docker's `Tty`, `OpenStdin`, `StdinOnce`).
#[derive(Default)]
pub struct StdioOpts {
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    /// Attach subscriptions to await before reading the output.
    pub hold: usize,
}

impl StdioOpts {
    fn parse(s: &str) -> Option<StdioOpts> {
        let mut o = StdioOpts::default();
        for item in s.split(',').filter(|i| !i.is_empty()) {
            match item {
                "tty" => o.tty = true,
                "stdin" => o.stdin = true,
                "stdin-once" => o.stdin_once = true,
                _ => o.hold = item.strip_prefix("hold=")?.parse().ok()?,
            }
        }
        Some(o)
    }
}

fn parse_args() -> Option<Args> {
    let mut it = std::env::args_os().skip(1);
    let args = Args {
        id: it.next()?.into_string().ok()?,
        bundle: it.next()?.into(),
        runtime_root: it.next()?.into(),
        state_dir: it.next()?.into(),
        log_path: it.next()?.into(),
        rotation: logger::Rotation {
            max_size: 0,
            max_file: 1,
        },
        opts: StdioOpts::default(),
    };
    let mut args = args;
    if let Some(size) = it.next() {
        args.rotation.max_size = size.to_str()?.parse().ok()?;
        args.rotation.max_file = it.next()?.to_str()?.parse().ok()?;
        if let Some(o) = it.next() {
            args.opts = StdioOpts::parse(o.to_str()?)?;
        }
    }
    it.next().is_none().then_some(args)
}

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
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "monitor") {
        reexec::run(&argv);
    }
    if argv.get(1).is_some_and(|a| a == "exec") {
        let (id, root, process, opts) = match argv.as_slice() {
            [_, _, id, root, process] => (id, root, process, String::new()),
            [_, _, id, root, process, opts] => {
                (id, root, process, opts.to_string_lossy().into_owned())
            }
            _ => {
                eprintln!("usage: berth-shim exec CONTAINER_ID RUNTIME_ROOT PROCESS_JSON [OPTS]");
                std::process::exit(2);
            }
        };
        // exec enters the container's namespaces: run from a sealed/read-only binary.
        if let Err(e) = berth_runtime::seal::ensure_sealed() {
            eprintln!("{e}");
            std::process::exit(126);
        }
        exec::run(
            &id.to_string_lossy(),
            std::path::Path::new(root),
            std::path::Path::new(process),
            &opts,
        );
    }
    let Some(args) = parse_args() else {
        eprintln!(
            "usage: berth-shim ID BUNDLE RUNTIME_ROOT STATE_DIR LOG_PATH [MAX_SIZE MAX_FILE [OPTS]]"
        );
        std::process::exit(2);
    };
    // Only where a container could reach our /proc entries (see seal::needed_for): in the usual
    // case the init is alone in a new PID namespace and non-dumpable, and the re-exec is saved.
    let needs_seal = berth_runtime::oci_spec::runtime::Spec::load(args.bundle.join("config.json"))
        .map(|spec| berth_runtime::seal::needed_for(&spec))
        .unwrap_or(true);
    if needs_seal {
        if let Err(e) = berth_runtime::seal::ensure_sealed() {
            println!("err {e}");
            std::process::exit(1);
        }
    }
    // SAFETY: single-threaded here; the child only continues this program.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            println!("err fork shim: {e}");
            std::process::exit(1);
        }
    }
    let _ = nix::unistd::setsid();
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut report = report_channel();
    if report.is_none() {
        std::process::exit(1);
    }
    if let Err(e) = monitor::run(&args, &mut report) {
        if let Some(r) = report.as_mut() {
            let _ = writeln!(r, "err {e}");
        }
        std::process::exit(1);
    }
}
