//! The crate-level error: each module has its own error enum, folded in here.

use std::path::PathBuf;

/// Why a runtime operation failed. Messages are lowercase, like runc's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("rootfs: {0}")]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroup::CgroupError),
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Channel(#[from] crate::process::channel::ChannelError),
    #[error(transparent)]
    Userns(#[from] crate::process::userns::UsernsError),
    #[error("{0}")]
    Other(String),
}

/// Result with the crate-level error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
