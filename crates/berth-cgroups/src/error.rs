//! The crate's error type: every variant names the path and the operation that failed, so a
//! message read in a container log says which cgroup file refused what.

use std::path::PathBuf;

/// Errors from cgroup detection, configuration, and inspection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation on a cgroup file or directory failed.
    #[error("cgroup {op} {path}: {source}")]
    Io {
        /// What was being done ("write", "read", "mkdir", "rmdir", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// Writing a value into a cgroup file failed (the value is part of the message).
    #[error("cgroup write {value:?} to {path}: {source}")]
    Write {
        /// The file written.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup file held something we could not parse.
    #[error("cgroup parse {path}: {reason}")]
    Parse {
        /// The file read.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// No usable cgroup hierarchy was found in the mount table.
    #[error("cgroup detect: {0}")]
    Detect(String),
    /// The spec's `cgroupsPath` is malformed.
    #[error("cgroup path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The resources ask for something that is invalid or contradictory.
    #[error("cgroup resources: {0}")]
    InvalidResources(String),
    /// The resources need a controller that this cgroup does not have.
    #[error("cgroup apply {path}: controller {controller} is not available")]
    MissingController {
        /// The controller ("memory", "io", ...).
        controller: &'static str,
        /// The cgroup directory.
        path: PathBuf,
    },
    /// The resources use a feature this cgroup version does not offer.
    #[error("cgroup apply: {0} is not supported on this cgroup version")]
    Unsupported(String),
    /// Freezing did not complete in time.
    #[error("cgroup freeze {path}: still {state} after {waited_ms} ms")]
    FreezeTimeout {
        /// The freezer file polled.
        path: PathBuf,
        /// The last state read.
        state: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// A bpf(2) call for the v2 device filter failed.
    #[error("cgroup devices bpf {op} {path}: {source}{log}")]
    Bpf {
        /// Which bpf command ("load", "attach", "query", "detach", ...).
        op: &'static str,
        /// The cgroup directory.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
        /// The verifier log, if any (prefixed with ": ").
        log: String,
    },
}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Build an [`Error::Io`] from an operation, a path and an `io::Error`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Build an [`Error::Parse`].
    pub(crate) fn parse(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The OS error number behind this error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } | Error::Write { source, .. } | Error::Bpf { source, .. } => {
                source.raw_os_error()
            }
            _ => None,
        }
    }
}
