//! The bridge to `berth-seccomp`: compile the spec's filter, install it in this process, and hand
//! a user-notification listener to the agent named by `listenerPath`.

use std::os::fd::AsRawFd;
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

/// Compiles and installs `s` in the calling process.
pub fn apply(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    let filter = berth_seccomp::compile(s)?;
    let flags = s.flags().clone().unwrap_or_default();
    let listener = filter.install(&flags)?;
    let Some(fd) = listener else {
        return Ok(());
    };
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
    let meta = s.listener_metadata().clone().unwrap_or_default();
    let payload = serde_json::json!({ "ociVersion": "1.2.0", "fds": ["seccompFd"], "pid": std::process::id(), "metadata": meta })
        .to_string();
    crate::tty::send_fd(sock.as_raw_fd(), fd.as_raw_fd(), &payload).map_err(|e| {
        SeccompError::Listener {
            path,
            source: std::io::Error::other(e.to_string()),
        }
    })
}
