//! The container's init process: everything between the clone and the exec of the user's program.
//!
//! Phases, in the order the runtime spec and runc fix them:
//! 1. [`enter`]: wait for the parent (uid maps, cgroup), cgroup namespace, hostname.
//! 2. rootfs `prepare`, then the create hooks (runtime side via the parent, container side here).
//! 3. `pivot`, the terminal, rootfs `finalize`, process attributes that need privilege.
//! 4. Report ready, park on the exec FIFO until `start`.
//! 5. [`finish`]: startContainer hooks, seccomp, identity, capabilities, close fds, exec.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{Process, Spec};

use super::channel::{Channel, Msg};
use crate::namespaces::Namespaces;
use crate::syscall::LinuxSyscall;
use crate::{caps, hooks, identity, rootfs, tty};

/// Everything the init needs; it lives in the parent's memory, which the clone copied.
#[derive(Clone, Copy)]
pub(crate) struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub ns: &'a Namespaces,
    pub no_pivot: bool,
    /// O_PATH descriptor of the exec FIFO.
    pub fifo: RawFd,
    /// A connected `--console-socket`, if the caller gave one.
    pub console_socket: Option<RawFd>,
    pub preserve_fds: i32,
    pub sync: &'a Channel,
    /// Whether our parent is the runtime (single clone): then we die with it until created.
    /// Under an intermediate (which exits at once) this must stay off.
    pub parent_is_runtime: bool,
    /// v1 `tasks` files to write `0` to once `Go` arrives: the init joins its cgroup itself,
    /// which is cheap (see `berth_cgroups::Manager::self_join`). Empty when the parent moves it.
    pub cgroup_tasks: &'a [CString],
}

/// The host's /proc, kept only when the container has no mount namespace (-1 otherwise).
static HOST_PROC: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Whether the init has reported Ready (the runtime stops reading the sync socket then).
static READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A failure inside the init, already worded for the user.
pub(crate) struct InitError(pub String);

impl<T: std::fmt::Display> From<T> for InitError {
    fn from(e: T) -> Self {
        InitError(e.to_string())
    }
}

/// Runs the init; on failure reports to the parent and returns the exit code.
pub(crate) fn run(a: &InitArgs<'_>) -> i32 {
    // Until created, the init must not outlive an aborted `create` (which would otherwise leave
    // it parked forever; the runtime's Undo kills it in the two-stage case).
    if a.parent_is_runtime {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
    // Non-dumpable from birth: no process without CAP_SYS_PTRACE can open our /proc entries
    // (notably /proc/PID/exe, the runtime binary) — see `seal::needed_for`. In a new user
    // namespace the /proc/self/fd reopen of the FIFO needs us dumpable; we stay so until it.
    if !a.ns.has(nix::sched::CloneFlags::CLONE_NEWUSER) {
        let _ = nix::sys::prctl::set_dumpable(false);
    }
    match setup(a) {
        Ok(prog) => {
            let e = finish(a.spec, &prog, a.preserve_fds);
            // After `start`, nobody listens on the sync socket: stderr is the container's.
            eprintln!("berth-runtime: exec failed: {}", e.0);
            127
        }
        // Before Ready the runtime is listening; after it, only the container's stderr is.
        Err(e) if READY.load(std::sync::atomic::Ordering::Relaxed) => {
            eprintln!("berth-runtime: {}", e.0);
            1
        }
        Err(e) => {
            let _ = a.sync.send(&Msg::Error(e.0), None);
            1
        }
    }
}

/// Phases 1–4. Returns the resolved program once `start` has released the init.
fn setup(a: &InitArgs<'_>) -> Result<Program, InitError> {
    let spec = a.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| InitError("config.json has no process".into()))?;
    // What we make in the container's root (mount points, /dev) gets conventional modes
    // whatever the caller's umask (a daemon's may be 077), as under runc.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        crate::identity::DEFAULT_UMASK,
    ));
    enter(a)?;
    let sys = LinuxSyscall;
    if a.ns.has(nix::sched::CloneFlags::CLONE_NEWNS) {
        let opts = rootfs::RootfsOptions {
            rootfs: a.rootfs,
            bundle: a.bundle,
            new_cgroup_ns: a.ns.new_cgroup,
        };
        rootfs::prepare(&sys, spec, &opts)?;
    }
    // Runtime-namespace hooks run in the parent; it answers with the state for ours.
    a.sync.send(&Msg::RunCreateHooks, None)?;
    let state_json = match a.sync.recv()?.0 {
        Msg::HooksDone(s) => s,
        Msg::Error(e) => return Err(InitError(e)),
        other => return Err(InitError(format!("unexpected sync message {other:?}"))),
    };
    let hk = spec.hooks().as_ref();
    hooks::run_all(
        hk.and_then(|h| h.create_container().as_ref()),
        &state_json,
        hooks::Namespace::Container(process.env().as_deref().unwrap_or(&[])),
    )?;
    if a.ns.has(nix::sched::CloneFlags::CLONE_NEWNS) {
        rootfs::pivot(&sys, a.rootfs, a.no_pivot)?;
    } else {
        // No mount namespace: the container shares the *caller's* one, not the private one the
        // runtime may have entered to protect its binary (see `seal`).
        if let Some(fd) = crate::seal::host_mount_ns() {
            // SAFETY: setns on the descriptor `seal` passed across the re-exec.
            if unsafe { libc::setns(fd, libc::CLONE_NEWNS) } != 0 {
                return Err(InitError(format!(
                    "setns host mount namespace: {}",
                    nix::Error::last()
                )));
            }
        }
        // Without a mount namespace the chroot may hold no /proc: keep the host's for the FIFO.
        // (With one, no host directory may stay reachable from the container.)
        let proc = open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let raw = std::os::fd::IntoRawFd::into_raw_fd(proc);
        HOST_PROC.store(raw, std::sync::atomic::Ordering::Relaxed);
        nix::unistd::chroot(a.rootfs)?;
        nix::unistd::chdir("/")?;
    }
    if process.terminal().unwrap_or(false) {
        terminal(a, process)?;
    }
    if a.ns.has(nix::sched::CloneFlags::CLONE_NEWNS) {
        rootfs::finalize(&sys, spec)?;
    }
    privileged_attributes(process)?;
    let prog = Program::resolve(process)?;
    early_seccomp(a)?;
    // Created: from here the init outlives the `create` command.
    let _ = nix::sys::prctl::set_pdeathsig(None);
    a.sync.send(&Msg::Ready, None)?;
    READY.store(true, std::sync::atomic::Ordering::Relaxed);
    // Reopening the FIFO through /proc/self/fd needs us dumpable (in a user namespace, a
    // non-dumpable process's /proc entries belong to the host's root).
    wait_for_start(a.fifo)?;
    // From here on, keep other container processes out of our /proc entries until we exec.
    nix::sys::prctl::set_dumpable(false)?;
    hooks::run_all(
        hk.and_then(|h| h.start_container().as_ref()),
        &state_json,
        hooks::Namespace::Container(process.env().as_deref().unwrap_or(&[])),
    )?;
    Ok(prog)
}

/// Phase 1: wait until the parent mapped our ids and placed us in the cgroup, then finish the
/// namespaces that must come after that.
fn enter(a: &InitArgs<'_>) -> Result<(), InitError> {
    match a.sync.recv()?.0 {
        Msg::Go => {}
        Msg::Error(e) => return Err(InitError(e)),
        other => return Err(InitError(format!("unexpected sync message {other:?}"))),
    }
    for tasks in a.cgroup_tasks {
        join_cgroup_v1(tasks)?;
    }
    if a.ns.has(nix::sched::CloneFlags::CLONE_NEWUSER) {
        // Become root of the user namespace so files we create are owned by the mapped root.
        let root = nix::unistd::Uid::from_raw(0);
        let rootg = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(rootg, rootg, rootg)?;
        nix::unistd::setresuid(root, root, root)?;
    }
    if a.ns.new_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)?;
    }
    if a.ns.has(nix::sched::CloneFlags::CLONE_NEWUTS) {
        if let Some(h) = a.spec.hostname() {
            nix::unistd::sethostname(h)?;
        }
        if let Some(d) = a.spec.domainname() {
            let c = CString::new(d.as_str())?;
            // SAFETY: setdomainname reads `len` bytes from a valid C string.
            if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } != 0 {
                return Err(InitError(format!("setdomainname: {}", nix::Error::last())));
            }
        }
    }
    Ok(())
}

/// Whether the filter was installed before `start` (see [`early_seccomp`]).
static SECCOMP_INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A filter with notify actions goes in before `Ready`, as runc does: its listener must reach
/// the agent through the runtime, which exits once the container is created.
fn early_seccomp(a: &InitArgs<'_>) -> Result<(), InitError> {
    let Some(s) = a.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    if !crate::seccomp::has_notify(s) {
        return Ok(());
    }
    if let Some(listener) = crate::seccomp::install(s)? {
        a.sync
            .send(&Msg::SeccompListener, Some(listener.as_raw_fd()))?;
    }
    SECCOMP_INSTALLED.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Moves this (single-threaded) process into a v1 cgroup by writing `0` to its `tasks` file.
fn join_cgroup_v1(tasks: &CString) -> Result<(), InitError> {
    crate::cgroup::join_v1_self(tasks)
        .map_err(|e| InitError(format!("join cgroup {}: {e}", tasks.to_string_lossy())))
}

/// Makes a pty in the container, wires it as stdio and the console, and hands the master out.
fn terminal(a: &InitArgs<'_>, process: &Process) -> Result<(), InitError> {
    let pty = tty::open_pty()?;
    if let Some(size) = process.console_size() {
        tty::set_size(
            pty.master.as_raw_fd(),
            size.height() as u16,
            size.width() as u16,
        );
    }
    if a.ns.has(nix::sched::CloneFlags::CLONE_NEWNS) {
        rootfs::mount_console(&LinuxSyscall, &pty.slave_path)?;
    }
    tty::make_controlling(&pty.slave)?;
    match a.console_socket {
        Some(sock) => tty::send_fd(sock, pty.master.as_raw_fd(), "/dev/ptmx")?,
        None => a.sync.send(&Msg::PtyMaster, Some(pty.master.as_raw_fd()))?,
    }
    Ok(())
}

/// Attributes that need privileges we are about to drop: rlimits, oom score, personality,
/// no_new_privs.
fn privileged_attributes(process: &Process) -> Result<(), InitError> {
    if let Some(adj) = process.oom_score_adj() {
        identity::set_oom_score_adj(adj)?;
    }
    identity::set_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    if let Some(s) = process.scheduler() {
        crate::sched::set_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        crate::sched::set_io_priority(p)?;
    }
    if process.no_new_privileges().unwrap_or(false) {
        nix::sys::prctl::set_no_new_privs()?;
    }
    Ok(())
}

/// Blocks on the exec FIFO until `start` opens it for reading.
fn wait_for_start(fifo: RawFd) -> Result<(), InitError> {
    let path = format!("self/fd/{fifo}");
    let host_proc = HOST_PROC.load(std::sync::atomic::Ordering::Relaxed);
    let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let fd = if host_proc >= 0 {
        // SAFETY: HOST_PROC holds a descriptor this process opened and never closes.
        let dir = unsafe { std::os::fd::BorrowedFd::borrow_raw(host_proc) };
        nix::fcntl::openat(dir, path.as_str(), flags, Mode::empty())
    } else {
        open(format!("/proc/{path}").as_str(), flags, Mode::empty())
    }
    .map_err(|e| InitError(format!("open exec fifo: {e}")))?;
    nix::unistd::write(&fd, b"0").map_err(|e| InitError(format!("write exec fifo: {e}")))?;
    // Keep the write end open until exec closes it (O_CLOEXEC): `start` waits for that EOF, so
    // it returns (and runs poststart hooks) only once the user's program is running.
    let _ = std::os::fd::IntoRawFd::into_raw_fd(fd);
    Ok(())
}

/// The program to exec, resolved before `create` reports success so a missing binary fails early.
pub(crate) struct Program {
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
    cwd: PathBuf,
}

impl Program {
    /// Replaces the calling process with the program; returns only on failure.
    pub(crate) fn exec(&self) -> InitError {
        match nix::unistd::execve(&self.path, &self.args, &self.env) {
            Ok(never) => match never {},
            Err(e) => InitError(format!("exec {:?}: {e}", self.path)),
        }
    }

    /// Resolves `args[0]` against the process's `PATH`, as the container will see it.
    pub(crate) fn resolve(process: &Process) -> Result<Program, InitError> {
        let args = process
            .args()
            .as_ref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| InitError("args must not be empty".into()))?;
        let env = dedup_env(process.env().as_deref().unwrap_or(&[]));
        let path_var = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        let cwd = process.cwd().clone();
        let exe = lookup(&args[0], path_var, &cwd)?;
        let cstr = |s: &str| CString::new(s).map_err(|e| InitError(e.to_string()));
        Ok(Program {
            path: cstr(&exe)?,
            args: args.iter().map(|s| cstr(s)).collect::<Result<_, _>>()?,
            env: env.iter().map(|s| cstr(s)).collect::<Result<_, _>>()?,
            cwd,
        })
    }
}

/// Keeps one entry per variable, the last given (so `exec --env K=V` overrides the spec's K).
fn dedup_env(env: &[String]) -> Vec<String> {
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_owned();
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for e in env {
        let k = key(e);
        out.retain(|o| key(o) != k);
        out.push(e.clone());
    }
    out
}

fn lookup(name: &str, path_var: &str, cwd: &Path) -> Result<String, InitError> {
    let executable = |p: &Path| {
        nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
            && std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
    };
    if name.contains('/') {
        let p = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            cwd.join(name)
        };
        // runc's words, which docker maps to exit codes: missing is 127, present but not
        // executable ("permission denied", "is a directory") is 126.
        return match std::fs::metadata(&p) {
            Err(_) => Err(InitError(format!(
                "exec: {name:?}: stat {name}: no such file or directory"
            ))),
            Ok(m) if m.is_dir() => Err(InitError(format!("exec: {name:?}: is a directory"))),
            Ok(_) if !executable(&p) => {
                Err(InitError(format!("exec: {name:?}: permission denied")))
            }
            Ok(_) => Ok(name.to_owned()),
        };
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(name);
        if executable(&p) {
            return Ok(p.to_string_lossy().into_owned());
        }
    }
    Err(InitError(format!(
        "exec: {name:?}: executable file not found in $PATH"
    )))
}

/// Phase 5: the last steps before exec; returns only on failure.
pub(crate) fn finish(spec: &Spec, prog: &Program, preserve_fds: i32) -> InitError {
    match finish_inner(spec, prog, preserve_fds) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn finish_inner(
    spec: &Spec,
    prog: &Program,
    preserve_fds: i32,
) -> Result<std::convert::Infallible, InitError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| InitError("config.json has no process".into()))?;
    apply_security(spec, process, prog, preserve_fds)?;
    Err(prog.exec())
}

/// Seccomp, identity, capabilities, cwd, fds: shared by the init and by `exec`'d processes.
pub(crate) fn apply_security(
    spec: &Spec,
    process: &Process,
    prog: &Program,
    preserve_fds: i32,
) -> Result<(), InitError> {
    let nnp = process.no_new_privileges().unwrap_or(false);
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .filter(|_| !SECCOMP_INSTALLED.load(std::sync::atomic::Ordering::Relaxed));
    // Before any filter: the container's own profile may forbid close_range.
    close_fds(3 + preserve_fds.max(0))?;
    set_personality(spec)?;
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it before dropping caps.
    if let (Some(s), false) = (seccomp, nnp) {
        crate::seccomp::apply(s)?;
    }
    if let Some(c) = process.capabilities() {
        caps::drop_bounding(c)?;
    }
    identity::set_user(process.user())?;
    if let Some(c) = process.capabilities() {
        caps::apply_sets(c)?;
    } else {
        caps::apply_sets(&empty_caps())?;
    }
    nix::unistd::chdir(&prog.cwd)
        .map_err(|e| InitError(format!("chdir to cwd ({:?}): {e}", prog.cwd)))?;
    // With no_new_privs, install as late as possible so the filter constrains nothing of ours.
    if let (Some(s), true) = (seccomp, nnp) {
        crate::seccomp::apply(s)?;
    }
    Ok(())
}

/// `linux.personality`, for the init and every exec'd process alike.
fn set_personality(spec: &Spec) -> Result<(), InitError> {
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        let persona = match p.domain() {
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
        };
        // SAFETY: personality(2) takes a plain integer.
        if unsafe { libc::personality(persona as libc::c_ulong) } == -1 {
            return Err(InitError(format!("personality: {}", nix::Error::last())));
        }
    }
    Ok(())
}

fn empty_caps() -> oci_spec::runtime::LinuxCapabilities {
    oci_spec::runtime::LinuxCapabilitiesBuilder::default()
        .bounding(oci_spec::runtime::Capabilities::new())
        .effective(oci_spec::runtime::Capabilities::new())
        .inheritable(oci_spec::runtime::Capabilities::new())
        .permitted(oci_spec::runtime::Capabilities::new())
        .ambient(oci_spec::runtime::Capabilities::new())
        .build()
        .unwrap_or_default()
}

/// Marks every descriptor from `first` up close-on-exec, so nothing of the runtime's reaches the
/// container (CVE-2024-21626). Below `first` (the preserved range) the flags are left alone: the
/// caller's descriptors arrive without close-on-exec, while the runtime's own ones (sync socket,
/// FIFO, console socket), which may sit in that range, were all opened with it.
fn close_fds(first: i32) -> Result<(), InitError> {
    // SAFETY: close_range only changes descriptor flags; CLOSE_RANGE_CLOEXEC closes nothing now.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        return Err(InitError(format!("close_range: {}", nix::Error::last())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::dedup_env;

    #[test]
    fn later_env_entries_override_earlier_ones() {
        let env: Vec<String> = ["PATH=/bin", "A=1", "B=2", "A=3"]
            .map(String::from)
            .to_vec();
        assert_eq!(dedup_env(&env), vec!["PATH=/bin", "B=2", "A=3"]);
    }
}
