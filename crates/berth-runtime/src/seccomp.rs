//! The bridge to `berth-seccomp`: compile the spec's filter, install it in this process, and hand
//! a user-notification listener to the agent named by `listenerPath`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use oci_spec::runtime::LinuxSeccomp;

/// Why the filter could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: {0}")]
    Compile(#[from] berth_seccomp::CompileError),
    #[error("seccomp: {0}")]
    Install(#[from] berth_seccomp::InstallError),
    #[error("seccomp: listener {path}: {source}")]
    Listener {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("seccomp: notify action needs listenerPath")]
    NoListener,
}

/// Whether the filter sends some syscalls to a user-space agent (then the init installs it
/// before `start`, so the runtime can pass the listener on while it still runs).
pub fn has_notify(s: &LinuxSeccomp) -> bool {
    use oci_spec::runtime::LinuxSeccompAction::ScmpActNotify;
    s.default_action() == ScmpActNotify
        || s.syscalls()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|sc| sc.action() == ScmpActNotify)
}

/// Compiles and installs `s` in the calling process; the listener, if the filter has one.
pub fn install(s: &LinuxSeccomp) -> Result<Option<OwnedFd>, SeccompError> {
    let filter = berth_seccomp::compile(s)?;
    let flags = s.flags().clone().unwrap_or_default();
    Ok(filter.install(&flags)?)
}

/// Hands `listener` to the agent at `listenerPath` with the container process state, as the
/// runtime spec says: one connection, one message, the fd as SCM_RIGHTS.
pub fn send_listener(
    s: &LinuxSeccomp,
    listener: &OwnedFd,
    pid: i32,
    state: serde_json::Value,
) -> Result<(), SeccompError> {
    let path = s
        .listener_path()
        .as_ref()
        .ok_or(SeccompError::NoListener)?
        .to_string_lossy()
        .into_owned();
    let sock = UnixStream::connect(&path).map_err(|source| SeccompError::Listener {
        path: path.clone(),
        source,
    })?;
    let payload = serde_json::json!({
        "ociVersion": crate::container::oci_version(),
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": s.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    })
    .to_string();
    crate::tty::send_fd(sock.as_raw_fd(), listener.as_raw_fd(), &payload).map_err(|e| {
        SeccompError::Listener {
            path,
            source: std::io::Error::other(e.to_string()),
        }
    })
}

/// Compiles and installs `s` in the calling process (an `exec`'d process: the runtime has no
/// channel to pass a listener on from there, so the process hands it over itself).
pub fn apply(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    let Some(fd) = install(s)? else {
        return Ok(());
    };
    let pid = i32::try_from(std::process::id()).unwrap_or_default();
    send_listener(s, &fd, pid, serde_json::json!({ "pid": pid }))
}
