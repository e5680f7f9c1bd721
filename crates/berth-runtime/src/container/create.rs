//! `create`: from a bundle to an init process parked until `start`.
//!
//! The runtime side of the sync protocol (the child side is `process::init`):
//! clone → write id maps → join cgroup → `Go` → (`RunCreateHooks` → hooks → `HooksDone`) →
//! `PtyMaster`? → `Ready`. Any failure on the way undoes everything through [`Undo`], so a
//! failed create leaves no process, cgroup or state directory behind.

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use super::{now_rfc3339, oci_version, Container, OciState, SPEC_FILE};
use crate::cgroup::{Cgroup, SelfJoinPlan};
use crate::namespaces::Namespaces;
use crate::process::channel::{self, Channel, Msg};
use crate::process::fork::{clone_fork, clone_fork_into_cgroup};
use crate::process::init::{self, InitArgs};
use crate::process::userns;
use crate::state::{self, State, Status, EXEC_FIFO};
use crate::{hooks, Error};

/// What `create` needs besides the bundle's own config.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    /// The runtime's state root (e.g. /run/berth-runtime).
    pub root: PathBuf,
    /// Where to send the pty master (`--console-socket`).
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Extra descriptors (3 .. 3+N) passed into the container.
    pub preserve_fds: i32,
    pub no_pivot: bool,
    /// `--systemd-cgroup`: `cgroupsPath` is `slice:prefix:name`.
    pub systemd_cgroup: bool,
}

/// A created container, and the pty master when the caller must relay the terminal itself.
pub struct Created {
    pub container: Container,
    pub pty_master: Option<OwnedFd>,
}

/// Undoes a half-done create when dropped while armed.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    child: Option<Pid>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.destroy() {
                tracing::warn!("cleanup: {e}");
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl Undo {
    fn disarm(mut self) {
        self.dir = None;
        self.cgroup = None;
        self.child = None;
    }
}

/// Loads and checks the bundle; returns (bundle, spec, rootfs).
fn load_bundle(bundle: &Path) -> Result<(PathBuf, Spec, PathBuf), Error> {
    let bundle = fs::canonicalize(bundle).map_err(|e| Error::Io {
        op: "bundle",
        path: bundle.to_path_buf(),
        source: e,
    })?;
    let cfg = bundle.join("config.json");
    if !cfg.exists() {
        return Err(Error::Other(
            "open config.json: no such file or directory".into(),
        ));
    }
    // serde_json directly: its errors name the line, column and field (Spec::load's do not).
    let bytes = fs::read(&cfg).map_err(|e| Error::Io {
        op: "read",
        path: cfg.clone(),
        source: e,
    })?;
    let spec: Spec = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Other(format!("JSON specification file config.json: {e}")))?;
    {
        let v = spec.version();
        let core = v.split(['-', '+']).next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.parse::<u64>().is_err()) || parts[0] != "1" {
            return Err(Error::Other(format!("unsupported ociVersion {v:?}")));
        }
    }
    if spec.process().is_none() {
        return Err(Error::Other("config.json: process is required".into()));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Other("config.json: root is required".into()))?;
    let rootfs = bundle.join(root.path());
    let rootfs = fs::canonicalize(&rootfs)
        .map_err(|_| Error::Other(format!("rootfs ({}) does not exist", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(Error::Other(format!(
            "rootfs ({}) is not a directory",
            rootfs.display()
        )));
    }
    Ok((bundle, spec, rootfs))
}

/// Creates the container described by the bundle.
pub fn create(opts: &CreateOptions) -> Result<Created, Error> {
    state::validate_id(&opts.id)?;
    let (bundle, spec, rootfs) = load_bundle(&opts.bundle)?;
    let ns = Namespaces::from_spec(&spec)?;
    // A new user namespace with joined ones (e.g. an engine's pinned netns): the intermediate
    // joins them first, then one unshare makes the user namespace and the other new ones,
    // which the kernel creates owned by it; the maps are written on the init below.
    let process = spec.process().as_ref();
    let terminal = process.and_then(|p| p.terminal()).unwrap_or(false);
    let linux = spec.linux().as_ref();

    let (dir, mut undo) = claim_state_dir(opts, &spec)?;

    let cgroup_path = create_cgroup(linux, &opts.id, &mut undo)?;
    let fifo = make_exec_fifo(&dir)?;
    let console = match (&opts.console_socket, terminal) {
        (Some(p), true) => Some(connect_console(p)?),
        _ => None,
    };

    // The init joins its cgroup itself, which is cheap (no cgroup.procs move). Born in a new
    // user namespace it could no longer write the host's v1 `tasks` files, so then an
    // intermediate joins first and unshares after (two stages); the cgroup2 part is joined at
    // birth by clone3, checked with the runtime's own credentials.
    let self_join = undo.cgroup.as_ref().and_then(SelfJoinPlan::new);
    let new_user = ns.new.contains(nix::sched::CloneFlags::CLONE_NEWUSER);
    let two_stage =
        !ns.single_clone() || (new_user && self_join.as_ref().is_some_and(|p| !p.tasks.is_empty()));
    let (parent, child) = channel::pair()?;
    let args = InitArgs {
        spec: &spec,
        rootfs: &rootfs,
        bundle: &bundle,
        ns: &ns,
        no_pivot: opts.no_pivot,
        fifo: fifo.as_raw_fd(),
        console_socket: console.as_ref().map(|c| c.as_raw_fd()),
        preserve_fds: opts.preserve_fds,
        sync: &child,
        parent_is_runtime: !two_stage,
        cgroup_tasks: self_join
            .as_ref()
            .map(|p| p.tasks.as_slice())
            .unwrap_or(&[]),
    };
    let (init_pid, joined) = spawn_init(
        &args,
        &parent,
        &ns,
        two_stage,
        self_join.as_ref(),
        &mut undo,
    )?;
    drop(self_join);
    drop(child);
    drop(console);

    place_init(&ns, linux, undo.cgroup.as_ref(), joined, init_pid)?;
    parent.send(&Msg::Go, None)?;

    let owner = owner_name();
    let hook_state = |status| {
        serde_json::to_vec(&OciState {
            oci_version: oci_version(),
            id: opts.id.clone(),
            pid: init_pid.as_raw(),
            status,
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            created: String::new(),
            owner: owner.clone(),
            annotations: spec.annotations().clone().unwrap_or_default(),
        })
        .unwrap_or_default()
    };
    let (pty_master, listener) = sync_until_ready(&parent, &spec, &hook_state)?;
    if let Some(fd) = listener {
        hand_over_seccomp_listener(&spec, &opts.id, init_pid, &bundle, &fd)?;
    }

    let record = State {
        id: opts.id.clone(),
        pid: init_pid.as_raw(),
        pid_start_time: 0,
        bundle,
        rootfs,
        created: String::new(),
        owner,
        cgroup_path,
        systemd_cgroup: opts.systemd_cgroup,
        annotations: spec.annotations().clone().unwrap_or_default(),
    };
    let record = record_created(record, &dir, opts.pid_file.as_deref())?;
    undo.disarm();
    Ok(Created {
        container: Container { state: record, dir },
        pty_master,
    })
}

/// Claims the container's state directory (the id is taken from here on; `Undo` gives it
/// back on failure) and keeps the spec there.
fn claim_state_dir(opts: &CreateOptions, spec: &Spec) -> Result<(PathBuf, Undo), Error> {
    let dir = state::claim_dir(&opts.root, &opts.id)?;
    let undo = Undo {
        dir: Some(dir.clone()),
        cgroup: None,
        child: None,
    };
    spec.save(dir.join(SPEC_FILE))
        .map_err(|e| Error::Other(format!("save config: {e}")))?;
    Ok((dir, undo))
}

/// The `--console-socket` the pty master will be sent to.
fn connect_console(path: &Path) -> Result<UnixStream, Error> {
    UnixStream::connect(path).map_err(|e| Error::Io {
        op: "connect console socket",
        path: path.to_path_buf(),
        source: e,
    })
}

/// Completes the runtime's record of a created container (the init's start time, so a reused
/// pid is never taken for it, and the creation time), saves it and writes `--pid-file`.
fn record_created(mut record: State, dir: &Path, pid_file: Option<&Path>) -> Result<State, Error> {
    let (_, start_time) = state::proc_stat(record.pid)
        .ok_or_else(|| Error::Other("container init exited during create".into()))?;
    record.pid_start_time = start_time;
    record.created = now_rfc3339();
    record.save(dir)?;
    if let Some(pf) = pid_file {
        write_pid_file(pf, record.pid)?;
    }
    Ok(record)
}

/// Writes the init's id maps (a new user namespace) and moves it into its cgroup unless it
/// joined by itself; the init waits for `Go` until both are done.
fn place_init(
    ns: &Namespaces,
    linux: Option<&oci_spec::runtime::Linux>,
    cgroup: Option<&Cgroup>,
    joined: bool,
    init_pid: Pid,
) -> Result<(), Error> {
    if ns.new.contains(nix::sched::CloneFlags::CLONE_NEWUSER) {
        let l = linux.cloned().unwrap_or_default();
        userns::write_maps(
            init_pid,
            l.uid_mappings().as_deref().unwrap_or(&[]),
            l.gid_mappings().as_deref().unwrap_or(&[]),
        )?;
    }
    if let (Some(cg), false) = (cgroup, joined) {
        cg.add(init_pid.as_raw())?;
    }
    Ok(())
}

/// Creates the container's cgroup with the spec's limits (and runc's default devices) and
/// hands it to `undo`; returns the spec's cgroups path.
fn create_cgroup(
    linux: Option<&oci_spec::runtime::Linux>,
    id: &str,
    undo: &mut Undo,
) -> Result<String, Error> {
    let cgroup_path = linux
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroup = Cgroup::open(&cgroup_path, id)?;
    let spec_res = linux.and_then(|l| l.resources().as_ref());
    let devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    let res = crate::cgroup::with_default_devices(spec_res, devices);
    match cgroup.create(&res) {
        Ok(()) => undo.cgroup = Some(cgroup),
        // Rootless without a delegated cgroup: like runc, go on without one if nothing is
        // limited (pause and `kill --all` are then unavailable).
        Err(e) if crate::cgroup::rootless() && !crate::cgroup::wants_limits(spec_res) => {
            tracing::warn!("rootless: running without a cgroup: {e}");
            let _ = cgroup.destroy();
        }
        Err(e) => {
            let _ = cgroup.destroy();
            return Err(e.into());
        }
    }
    Ok(cgroup_path)
}

/// The FIFO that holds the init between create and start, opened `O_PATH` for the init.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd, Error> {
    let fifo_path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::Other(format!("mkfifo {}: {e}", fifo_path.display())))?;
    // The umask cut the mode; the container's root (maybe an unprivileged host uid) must write it.
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .map_err(|e| Error::Io {
        op: "chmod",
        path: fifo_path.clone(),
        source: e,
    })?;
    open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::Other(format!("open exec fifo: {e}")))
}

/// Sends the init's seccomp notify listener to the spec's `listenerPath` agent, with the state
/// the agent is told about (status `creating`, as runc sends it).
fn hand_over_seccomp_listener(
    spec: &Spec,
    id: &str,
    init_pid: Pid,
    bundle: &Path,
    fd: &OwnedFd,
) -> Result<(), Error> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    let state = serde_json::json!({
        "ociVersion": oci_version(),
        "id": id,
        "status": "creating",
        "pid": init_pid.as_raw(),
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    });
    crate::seccomp::send_listener(s, fd, init_pid.as_raw(), state)
        .map_err(|e| Error::Other(e.to_string()))
}

/// Forks the init: one clone with every new namespace, or (when joining namespaces by path, or
/// joining v1 cgroups before a new user namespace) an intermediate that joins them, unshares
/// the rest and forks the init as its child. Returns
/// whether the init is already in (or joins by itself) its cgroup.
fn spawn_init(
    args: &InitArgs<'_>,
    parent: &Channel,
    ns: &Namespaces,
    two_stage: bool,
    self_join: Option<&SelfJoinPlan>,
    undo: &mut Undo,
) -> Result<(Pid, bool), Error> {
    let parent_fd: RawFd = parent.raw();
    if !two_stage {
        let run = |a| init_main(a, parent_fd);
        let (pid, joined) = match self_join {
            Some(SelfJoinPlan {
                unified: Some(dir), ..
            }) => match clone_fork_into_cgroup(ns.new, dir.as_raw_fd(), run(*args)) {
                Ok(pid) => (pid, true),
                Err(e) => {
                    tracing::debug!("clone3(CLONE_INTO_CGROUP): {e}; moving the init instead");
                    let plain = InitArgs {
                        cgroup_tasks: &[],
                        ..*args
                    };
                    let pid = clone_fork(ns.new, run(plain))
                        .map_err(|e| Error::Other(format!("clone: {e}")))?;
                    (pid, false)
                }
            },
            Some(SelfJoinPlan { unified: None, .. }) => (
                clone_fork(ns.new, run(*args)).map_err(|e| Error::Other(format!("clone: {e}")))?,
                true,
            ),
            None => (
                clone_fork(ns.new, run(*args)).map_err(|e| Error::Other(format!("clone: {e}")))?,
                false,
            ),
        };
        undo.child = Some(pid);
        return Ok((pid, joined));
    }
    // Two stages: the intermediate joins the cgroup (born in the cgroup2 one, v1 by `tasks`)
    // before it enters any namespace, and the init it forks inherits that.
    let init_args = InitArgs {
        cgroup_tasks: &[],
        ..*args
    };
    let tasks: &[std::ffi::CString] = self_join.map(|p| p.tasks.as_slice()).unwrap_or(&[]);
    let none = nix::sched::CloneFlags::empty();
    let (stage1, joined) = match self_join.map(|p| p.unified.as_ref()) {
        Some(Some(dir)) => match clone_fork_into_cgroup(
            none,
            dir.as_raw_fd(),
            stage1_main(&init_args, ns, parent_fd, tasks),
        ) {
            Ok(pid) => (Ok(pid), true),
            Err(_) => (
                clone_fork(none, stage1_main(&init_args, ns, parent_fd, &[])),
                false,
            ),
        },
        Some(None) => (
            clone_fork(none, stage1_main(&init_args, ns, parent_fd, tasks)),
            true,
        ),
        None => (
            clone_fork(none, stage1_main(&init_args, ns, parent_fd, &[])),
            false,
        ),
    };
    let stage1 = stage1.map_err(|e| Error::Other(format!("clone: {e}")))?;
    undo.child = Some(stage1);
    let msg = parent.recv()?.0;
    let _ = waitpid(stage1, None);
    undo.child = None;
    match msg {
        Msg::InitPid(p) => {
            let pid = Pid::from_raw(p);
            undo.child = Some(pid);
            Ok((pid, joined))
        }
        Msg::Error(e) => Err(Error::Other(e)),
        other => Err(Error::Other(format!("unexpected sync message {other:?}"))),
    }
}

/// The intermediate's body (two stages): join the cgroup's v1 hierarchies, then the namespaces,
/// unshare the new ones and fork the init; report its pid.
fn stage1_main<'a>(
    args: &'a InitArgs<'a>,
    ns: &'a Namespaces,
    parent_fd: RawFd,
    tasks: &'a [std::ffi::CString],
) -> impl FnOnce() -> i32 + 'a {
    move || {
        close_raw(parent_fd);
        let run = || -> Result<Pid, String> {
            for t in tasks {
                crate::cgroup::join_v1_self(t)
                    .map_err(|e| format!("join cgroup {}: {e}", t.to_string_lossy()))?;
            }
            crate::namespaces::join_all(&ns.join).map_err(|e| e.to_string())?;
            if !ns.new.is_empty() {
                nix::sched::unshare(ns.new).map_err(|e| format!("unshare: {e}"))?;
            }
            clone_fork(nix::sched::CloneFlags::empty(), || init::run(args))
                .map_err(|e| format!("clone: {e}"))
        };
        match run() {
            Ok(pid) => {
                let _ = args.sync.send(&Msg::InitPid(pid.as_raw()), None);
                0
            }
            Err(e) => {
                let _ = args.sync.send(&Msg::Error(e), None);
                1
            }
        }
    }
}

/// The init's body in the cloned child: drop the parent's end of the sync socket, run.
fn init_main(a: InitArgs<'_>, parent_fd: RawFd) -> impl FnOnce() -> i32 + '_ {
    move || {
        close_raw(parent_fd);
        init::run(&a)
    }
}

fn close_raw(fd: RawFd) {
    // SAFETY: in the freshly forked child, closing our copy of the parent's end of the socket.
    unsafe { libc::close(fd) };
}

/// Serves the init's requests until it reports ready; returns the pty master if it sent one.
fn sync_until_ready(
    parent: &Channel,
    spec: &Spec,
    hook_state: &dyn Fn(Status) -> Vec<u8>,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), Error> {
    let mut pty = None;
    let mut listener = None;
    loop {
        let (msg, fd) = parent.recv().map_err(|e| match e {
            channel::ChannelError::Closed => {
                Error::Other("container init exited before it was ready".into())
            }
            e => e.into(),
        })?;
        match msg {
            Msg::RunCreateHooks => {
                let st = hook_state(Status::Creating);
                let hk = spec.hooks().as_ref();
                // The deprecated prestart stage sees the container as `created`, which is what
                // crun passes and runtime-tools' validation expects; createRuntime and
                // createContainer run while it is still `creating`.
                #[allow(deprecated)]
                let prestart = hk.and_then(|h| h.prestart().as_ref());
                let prestart_state = hook_state(Status::Created);
                let res = hooks::run_all(prestart, &prestart_state, hooks::Namespace::Runtime)
                    .and_then(|()| {
                        hooks::run_all(
                            hk.and_then(|h| h.create_runtime().as_ref()),
                            &st,
                            hooks::Namespace::Runtime,
                        )
                    });
                if let Err(e) = res {
                    let _ = parent.send(&Msg::Error(e.to_string()), None);
                    return Err(e.into());
                }
                parent.send(&Msg::HooksDone(st), None)?;
            }
            Msg::PtyMaster => pty = fd,
            Msg::SeccompListener => listener = fd,
            Msg::Ready => return Ok((pty, listener)),
            Msg::Error(e) => return Err(Error::Other(e)),
            other => return Err(Error::Other(format!("unexpected sync message {other:?}"))),
        }
    }
}

/// Writes a pid file atomically, as runc does (temp file + rename).
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    let tmp = path.with_extension("tmp-berth");
    let io = |op, source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    };
    fs::write(&tmp, pid.to_string()).map_err(|e| io("write pid file", e))?;
    fs::rename(&tmp, path).map_err(|e| io("rename pid file", e))
}

/// The name of the calling user (from /etc/passwd as data), or the uid as text.
fn owner_name() -> String {
    let uid = nix::unistd::Uid::effective().as_raw();
    let by_uid: HashMap<u32, String> = fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_owned()))
        })
        .collect();
    by_uid.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
}
