//! The crate's error type; the engine maps its kinds to docker's status codes.

/// Errors from network operations; the message is what the user sees (docker's wording where
/// docker has one).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// No network by that name or id (404).
    #[error("network {0} not found")]
    NotFound(String),
    /// Bad input from the caller (400).
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with current state: a name in use, a port taken (409).
    #[error("{0}")]
    Conflict(String),
    /// A netlink request failed.
    #[error("netlink: {op}: {msg}")]
    Netlink {
        /// What was being done.
        op: String,
        /// The kernel's answer.
        msg: String,
    },
    /// `nft` refused the ruleset.
    #[error("nftables: {0}")]
    Nft(String),
    /// Filesystem or system failure.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = NetError> = std::result::Result<T, E>;

/// Helper for `map_err` on I/O results.
pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> NetError + 'a {
    move |source| NetError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}
