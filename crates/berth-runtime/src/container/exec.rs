//! `exec`: a new process inside a running container's namespaces and cgroup.
//!
//! An intermediate joins the container's namespaces (user first, mount last) and forks the new
//! process, which thereby lands in the container's pid namespace; the intermediate exits and the
//! caller, a child subreaper, inherits the process so it can wait for it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::Container;
use crate::cgroup::{Cgroup, SelfJoinPlan};
use crate::namespaces::{flag, proc_name};
use crate::process::channel::{self, Channel, Msg};
use crate::process::fork::{clone_fork, clone_fork_into_cgroup};
use crate::process::init::{apply_security, InitError, Program};
use crate::state::Status;
use crate::{tty, Error};

/// What to run, and how.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The process (args, env, cwd, user, capabilities, terminal …), as in `--process` JSON.
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// runc's `--ignore-paused`: exec into a paused container (the process stays frozen until resume).
    pub ignore_paused: bool,
}

/// The started process: its host pid, and the pty master when the caller relays the terminal.
pub struct Spawned {
    pub pid: Pid,
    pub pty_master: Option<OwnedFd>,
}

/// Starts `opts.process` in container `c`.
pub fn exec(c: &Container, opts: &ExecOptions) -> Result<Spawned, Error> {
    let status = c.status();
    match status {
        Status::Stopped => return Err(Error::Other("cannot exec in a stopped container".into())),
        Status::Paused if !opts.ignore_paused => {
            return Err(Error::Other("cannot exec in a paused container".into()))
        }
        _ => {}
    }
    let mut spec = c.spec()?;
    spec.set_process(Some(opts.process.clone()));
    let join = namespaces_to_join(&spec, c.state.pid);
    let console = connect_console(opts)?;
    let (parent, child) = channel::pair()?;
    // Become the reaper of the process once the intermediate exits.
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| Error::Other(format!("prctl: {e}")))?;
    // The intermediate is born in (cgroup2) or joins by itself (v1 `tasks`) the container's
    // cgroup before it enters any namespace, and the process it forks inherits that: no
    // `cgroup.procs` move and its RCU wait (see `berth_cgroups::Manager::self_join`).
    let cgroup = c.cgroup()?;
    // Into a paused container (`--ignore-paused`) the process is moved only once it reported
    // its pid: it freezes there, and finishes its setup after `resume`.
    let paused = status == Status::Paused;
    // A rootless container without a cgroup has none to join.
    let cgroupless = crate::cgroup::rootless() && cgroup.pids().is_err();
    let plan = SelfJoinPlan::new(&cgroup).filter(|_| !paused && !cgroupless);
    let st = Stage1 {
        join: &join,
        spec: &spec,
        sync: &child,
        console_fd: console.as_ref().map(|s| s.as_raw_fd()),
        preserve: opts.preserve_fds,
        parent_fd: parent.raw(),
    };
    let (stage1, joined) = spawn_stage1(&st, plan.as_ref())?;
    // The intermediate holds its own copies now; ours would keep the channel open.
    drop(child);
    drop(console);
    let first = parent.recv();
    let _ = waitpid(stage1, None);
    let pid = match first?.0 {
        Msg::InitPid(p) => Pid::from_raw(p),
        Msg::Error(e) => return Err(Error::Other(e)),
        other => return Err(Error::Other(format!("unexpected sync message {other:?}"))),
    };
    let move_into = (!joined && !cgroupless).then_some(&cgroup);
    let pty_master = release(&parent, pid, move_into, paused)?;
    if let Some(pf) = &opts.pid_file {
        super::create::write_pid_file(pf, pid.as_raw())?;
    }
    Ok(Spawned { pid, pty_master })
}

/// The container's namespaces as `/proc/<init>/ns` paths, in the order they must be joined:
/// the user namespace first (it grants the rights to join the others), the mount namespace
/// last (after it the host's `/proc` paths are gone). The time namespace is not joined.
fn namespaces_to_join(
    spec: &oci_spec::runtime::Spec,
    init: i32,
) -> Vec<(nix::sched::CloneFlags, PathBuf)> {
    let mut v: Vec<_> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|n| n.typ())
        .filter(|t| *t != LinuxNamespaceType::Time)
        .map(|t| {
            let p = PathBuf::from(format!("/proc/{init}/ns/{}", proc_name(t)));
            (flag(t), p)
        })
        .collect();
    v.sort_by_key(|(f, _)| match *f {
        nix::sched::CloneFlags::CLONE_NEWUSER => 0,
        nix::sched::CloneFlags::CLONE_NEWNS => 9,
        _ => 5,
    });
    v
}

/// The console socket, when the process wants a terminal and the caller relays it.
fn connect_console(opts: &ExecOptions) -> Result<Option<UnixStream>, Error> {
    match (
        &opts.console_socket,
        opts.process.terminal().unwrap_or(false),
    ) {
        (Some(p), true) => Ok(Some(UnixStream::connect(p).map_err(|e| Error::Io {
            op: "connect console socket",
            path: p.clone(),
            source: e,
        })?)),
        _ => Ok(None),
    }
}

/// Clones the intermediate: into the cgroup2 directory (`CLONE_INTO_CGROUP`, falling back to
/// a plain clone on kernels without it), or joining v1 `tasks` itself, or outside the cgroup
/// when there is no plan. Returns its pid and whether it joined the cgroup.
fn spawn_stage1(st: &Stage1<'_>, plan: Option<&SelfJoinPlan>) -> Result<(Pid, bool), Error> {
    let tasks: &[std::ffi::CString] = plan.map(|p| p.tasks.as_slice()).unwrap_or(&[]);
    let body = |tasks| stage1_main(st, tasks);
    let none = nix::sched::CloneFlags::empty();
    let (stage1, joined) = match plan.map(|p| p.unified.as_ref()) {
        Some(Some(dir)) => match clone_fork_into_cgroup(none, dir.as_raw_fd(), body(tasks)) {
            Ok(pid) => (Ok(pid), true),
            Err(_) => (clone_fork(none, body(&[])), false),
        },
        Some(None) => (clone_fork(none, body(tasks)), true),
        None => (clone_fork(none, body(&[])), false),
    };
    let stage1 = stage1.map_err(|e| Error::Other(format!("clone: {e}")))?;
    Ok((stage1, joined))
}

/// Lets the forked process go on: moved into the cgroup first when it did not start there,
/// then waited for until it is ready to exec (not when paused: it is frozen until resume).
/// Any failure kills it, so no half-set-up process is left in the container.
fn release(
    parent: &Channel,
    pid: Pid,
    move_into: Option<&Cgroup>,
    paused: bool,
) -> Result<Option<OwnedFd>, Error> {
    let fail = |e: Error| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(pid, None);
        e
    };
    if let Some(cgroup) = move_into {
        cgroup.add(pid.as_raw()).map_err(|e| fail(e.into()))?;
    }
    parent.send(&Msg::Go, None).map_err(|e| fail(e.into()))?;
    if paused {
        return Ok(None);
    }
    wait_ready(parent).map_err(fail)
}

/// What the intermediate needs (it lives in the parent's memory, which the clone copied).
struct Stage1<'a> {
    join: &'a [(nix::sched::CloneFlags, PathBuf)],
    spec: &'a oci_spec::runtime::Spec,
    sync: &'a Channel,
    console_fd: Option<RawFd>,
    preserve: i32,
    parent_fd: RawFd,
}

/// The intermediate's body: join the cgroup (v1 `tasks`), then the container's namespaces, and
/// fork the process there; report its pid.
fn stage1_main<'a>(
    st: &'a Stage1<'a>,
    tasks: &'a [std::ffi::CString],
) -> impl FnOnce() -> i32 + 'a {
    move || {
        // SAFETY: our copy of the parent's end, in the forked child.
        unsafe { libc::close(st.parent_fd) };
        let run = || -> Result<Pid, String> {
            for t in tasks {
                crate::cgroup::join_v1_self(t)
                    .map_err(|e| format!("join cgroup {}: {e}", t.to_string_lossy()))?;
            }
            crate::namespaces::join_all(st.join).map_err(|e| e.to_string())?;
            clone_fork(nix::sched::CloneFlags::empty(), || {
                let e = tenant(st.spec, st.sync, st.console_fd, st.preserve);
                let _ = st.sync.send(&Msg::Error(e.0), None);
                1
            })
            .map_err(|e| format!("clone: {e}"))
        };
        match run() {
            Ok(pid) => {
                let _ = st.sync.send(&Msg::InitPid(pid.as_raw()), None);
                0
            }
            Err(e) => {
                let _ = st.sync.send(&Msg::Error(e), None);
                1
            }
        }
    }
}

fn wait_ready(parent: &Channel) -> Result<Option<OwnedFd>, Error> {
    let mut pty = None;
    loop {
        match parent.recv() {
            Ok((Msg::PtyMaster, fd)) => pty = fd,
            Ok((Msg::Ready, _)) | Err(channel::ChannelError::Closed) => return Ok(pty),
            Ok((Msg::Error(e), _)) => return Err(Error::Other(e)),
            Ok((other, _)) => {
                return Err(Error::Other(format!("unexpected sync message {other:?}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Inside the container: wait for the cgroup, set up the terminal, then become the program.
fn tenant(
    spec: &oci_spec::runtime::Spec,
    sync: &Channel,
    console: Option<RawFd>,
    preserve_fds: i32,
) -> InitError {
    let run = || -> Result<std::convert::Infallible, InitError> {
        match sync.recv()?.0 {
            Msg::Go => {}
            other => return Err(InitError(format!("unexpected sync message {other:?}"))),
        }
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| InitError("no process".into()))?;
        if process.terminal().unwrap_or(false) {
            let pty = tty::open_pty()?;
            if let Some(size) = process.console_size() {
                tty::set_size(
                    pty.master.as_raw_fd(),
                    size.height() as u16,
                    size.width() as u16,
                );
            }
            tty::make_controlling(&pty.slave)?;
            match console {
                Some(sock) => tty::send_fd(sock, pty.master.as_raw_fd(), "/dev/ptmx")?,
                None => sync.send(&Msg::PtyMaster, Some(pty.master.as_raw_fd()))?,
            }
        }
        crate::identity::set_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
        if process.no_new_privileges().unwrap_or(false) {
            nix::sys::prctl::set_no_new_privs()?;
        }
        nix::sys::prctl::set_dumpable(false)?;
        let prog = Program::resolve(process)?;
        apply_security(spec, process, &prog, preserve_fds)?;
        // A filter may forbid sendmsg: then the socket closing at exec tells the parent instead.
        let _ = sync.send(&Msg::Ready, None);
        Err(prog.exec())
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}
