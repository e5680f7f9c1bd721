//! Running from a copy of our binary that nothing can write (CVE-2019-5736).
//!
//! Why: a process inside a container can reach the runtime's binary through `/proc/PID/exe` of a
//! runtime process that joined it (or through a `#!/proc/self/exe` script run by `exec`), and
//! write through it to the host's file. Only commands that put a process into a container need
//! the protection, and it is on their start path, so it is made cheap:
//!
//! 1. Already protected (a sealed memfd, or the binary sits on a read-only mount): nothing to do.
//! 2. As root: enter a private mount namespace (a slave of the host's, so host mounts still
//!    arrive), bind the binary over itself read-only, and re-exec from that path. `/proc/PID/exe`
//!    then names a read-only mount: reopening it for writing fails with EROFS, and no copy is
//!    made. Hooks meant for the runtime namespace go back to the host's mount namespace through
//!    [`host_mount_ns`].
//! 3. Otherwise (rootless, or step 2 failed): copy the binary into a sealed memfd and exec that.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Environment variable carrying the host mount namespace fd across the re-exec.
const HOST_MNTNS_ENV: &str = "_BERTH_RUNTIME_HOST_MNTNS";

/// Why protecting the binary failed.
#[derive(Debug, thiserror::Error)]
#[error("protect runtime binary: {op}: {source}")]
pub struct SealError {
    op: &'static str,
    #[source]
    source: std::io::Error,
}

fn last(op: &'static str) -> SealError {
    SealError {
        op,
        source: std::io::Error::last_os_error(),
    }
}

/// Whether the running binary is a fully sealed memfd.
fn is_sealed_memfd(exe: &File) -> bool {
    // SAFETY: F_GET_SEALS on a valid fd; returns -1 (EINVAL) for files that are not memfds.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Whether the running binary cannot be written through `/proc/self/exe`.
pub fn is_protected() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    if is_sealed_memfd(&exe) {
        return true;
    }
    // The mount the binary was executed from: read-only means EROFS for any writer.
    nix::sys::statvfs::fstatvfs(&exe)
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false)
}

/// The host's mount namespace, when this process re-executed into a private one (for hooks that
/// the spec says run in the runtime's namespace).
pub fn host_mount_ns() -> Option<RawFd> {
    std::env::var(HOST_MNTNS_ENV).ok()?.parse().ok()
}

/// Whether starting this container needs the protected binary at all.
///
/// Why: the protection costs a re-exec on every `create`. It is only needed when an untrusted
/// process can reach a runtime process's `/proc/PID/exe`. A fresh init in a *new* PID namespace
/// is alone there until it execs the user's program, and it is non-dumpable from birth, so later
/// container processes (`exec`) cannot open its `/proc` entries without `CAP_SYS_PTRACE`. So the
/// binary must be protected when: the container shares or joins a PID namespace, uses a user
/// namespace (the init stays dumpable there for a while), may hold `CAP_SYS_PTRACE`, or runs
/// `createContainer`/`startContainer` hooks (programs from the container's filesystem, started by
/// the init). `exec` always needs it (its process joins a running container).
pub fn needed_for(spec: &oci_spec::runtime::Spec) -> bool {
    use oci_spec::runtime::{Capability, LinuxNamespaceType as T};
    let Some(linux) = spec.linux().as_ref() else {
        return true;
    };
    let namespaces = linux.namespaces().as_deref().unwrap_or(&[]);
    let new_pid_ns = namespaces
        .iter()
        .any(|n| n.typ() == T::Pid && n.path().is_none());
    let user_ns = namespaces.iter().any(|n| n.typ() == T::User);
    let ptrace = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .map(|c| {
            [
                c.bounding(),
                c.effective(),
                c.permitted(),
                c.inheritable(),
                c.ambient(),
            ]
            .iter()
            .any(|set| {
                set.as_ref()
                    .is_some_and(|s| s.contains(&Capability::SysPtrace))
            })
        })
        .unwrap_or(false);
    let container_hooks = spec.hooks().as_ref().is_some_and(|h| {
        h.create_container().as_ref().is_some_and(|v| !v.is_empty())
            || h.start_container().as_ref().is_some_and(|v| !v.is_empty())
    });
    !new_pid_ns || user_ns || ptrace || container_hooks
}

/// Makes sure the running binary is protected; re-executes the process if needed (same
/// arguments and environment). Returns only when protected already, or on error.
pub fn ensure_sealed() -> Result<(), SealError> {
    if is_protected() {
        if let Some(fd) = host_mount_ns() {
            // Keep it out of everything we exec from now on (hooks setns before their exec).
            // SAFETY: F_SETFD on the fd we passed ourselves across exec.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        return Ok(());
    }
    if nix::unistd::geteuid().is_root() {
        if let Ok(exe) = std::fs::read_link("/proc/self/exe") {
            if exe.exists() {
                // Returns only on failure; then fall back to the copy.
                let e = reexec_read_only(&exe);
                tracing::debug!("read-only re-exec failed, using a sealed copy: {e}");
            }
        }
    }
    reexec_sealed_copy()
}

/// Step 2: private mount namespace, read-only bind of the binary over itself, exec it.
fn reexec_read_only(exe: &Path) -> SealError {
    let host_ns = match File::open("/proc/self/ns/mnt") {
        Ok(f) => f,
        Err(source) => {
            return SealError {
                op: "open mount namespace",
                source,
            }
        }
    };
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS) {
        return SealError {
            op: "unshare",
            source: e.into(),
        };
    }
    let none: Option<&str> = None;
    let steps = [
        (None, Path::new("/"), MsFlags::MS_SLAVE | MsFlags::MS_REC),
        (Some(exe), exe, MsFlags::MS_BIND),
        (
            None,
            exe,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
        ),
    ];
    for (src, target, flags) in steps {
        if let Err(e) = mount(src, target, none, flags, none) {
            return SealError {
                op: "mount",
                source: e.into(),
            };
        }
    }
    // The fd must survive exec (no CLOEXEC); the new image marks it CLOEXEC at once.
    let raw = host_ns.into_raw_fd();
    // SAFETY: clearing FD_CLOEXEC on our own descriptor.
    unsafe { libc::fcntl(raw, libc::F_SETFD, 0) };
    let mut env = environment();
    env.push(cstring(format!("{HOST_MNTNS_ENV}={raw}").into_bytes()));
    let path = cstring(exe.as_os_str().as_encoded_bytes().to_vec());
    match nix::unistd::execve(&path, &arguments(), &env) {
        Ok(never) => match never {},
        Err(e) => SealError {
            op: "exec",
            source: e.into(),
        },
    }
}

/// Step 3: copy the binary into a sealed memfd and exec that.
fn reexec_sealed_copy() -> Result<(), SealError> {
    let exe = File::open("/proc/self/exe").map_err(|source| SealError {
        op: "open /proc/self/exe",
        source,
    })?;
    let name = c"berth-runtime";
    // SAFETY: memfd_create with a valid C string; returns a new fd or -1.
    let raw =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(last("memfd_create"));
    }
    // SAFETY: `raw` is a fresh descriptor we own.
    let mem = unsafe { OwnedFd::from_raw_fd(raw) };
    let size = exe
        .metadata()
        .map_err(|source| SealError { op: "stat", source })?
        .len();
    let mut left = size as usize;
    while left > 0 {
        // SAFETY: sendfile between two valid fds, NULL offset (uses and advances file offsets).
        let n =
            unsafe { libc::sendfile(mem.as_raw_fd(), exe.as_raw_fd(), std::ptr::null_mut(), left) };
        if n <= 0 {
            return Err(last("copy binary"));
        }
        left -= n as usize;
    }
    // SAFETY: F_ADD_SEALS on our memfd.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(last("seal"));
    }
    match nix::unistd::fexecve(&mem, &arguments(), &environment()) {
        Ok(never) => match never {},
        Err(e) => Err(SealError {
            op: "fexecve",
            source: e.into(),
        }),
    }
}

fn cstring(bytes: Vec<u8>) -> CString {
    // Arguments and environment come from the kernel as C strings: no interior NULs.
    CString::new(bytes).unwrap_or_default()
}

fn arguments() -> Vec<CString> {
    std::env::args_os()
        .map(|a| cstring(a.into_encoded_bytes()))
        .collect()
}

fn environment() -> Vec<CString> {
    std::env::vars_os()
        .filter(|(k, _)| k != HOST_MNTNS_ENV)
        .map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            cstring(kv)
        })
        .collect()
}

/// The path the process was executed from (for diagnostics and tests).
pub fn exe_path() -> Option<PathBuf> {
    std::fs::read_link("/proc/self/exe").ok()
}
