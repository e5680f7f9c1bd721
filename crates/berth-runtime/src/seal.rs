//! Running from a sealed in-memory copy of our own binary (CVE-2019-5736).
//!
//! Why: a process inside a container can reach the runtime's binary through `/proc/PID/exe` of a
//! runtime process that joined it (or through a `#!/proc/self/exe` script run by `exec`) and
//! overwrite it on the host. A sealed memfd copy cannot be written, grown or shrunk, so that
//! attack writes nothing. Only commands that put a process into a container need it.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Why re-executing from a sealed copy failed.
#[derive(Debug, thiserror::Error)]
#[error("sealed binary: {op}: {source}")]
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

/// Whether the running binary is already a fully sealed memfd.
pub fn is_sealed() -> bool {
    let Ok(f) = File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS on a valid fd; returns -1 (EINVAL) for files that are not memfds.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-executes the current process from a sealed memfd copy of its binary, with the same
/// arguments and environment. Returns only if already sealed, or on error.
pub fn ensure_sealed() -> Result<(), SealError> {
    if is_sealed() {
        return Ok(());
    }
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
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.into_encoded_bytes()).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).ok()
        })
        .collect();
    match nix::unistd::fexecve(&mem, &args, &env) {
        Ok(never) => match never {},
        Err(e) => Err(SealError {
            op: "fexecve",
            source: e.into(),
        }),
    }
}
