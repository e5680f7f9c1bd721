//! Errors of loading CNI configs and running plugins.

use std::path::PathBuf;

/// What went wrong loading a config, running a plugin or keeping a result.
#[derive(Debug, thiserror::Error)]
pub enum CniError {
    /// No usable config in the config directory: the runtime's network is not ready.
    /// containerd's wording, which kubelet users know.
    #[error("no network config found in {}: cni plugin not initialized", .0.display())]
    NoConfig(PathBuf),
    /// A config file that is not a CNI network config.
    #[error("invalid CNI config {}: {reason}", path.display())]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The plugin binary is in none of the plugin directories.
    #[error("failed to find plugin {plugin:?} in path {path:?}")]
    PluginNotFound {
        /// The plugin `type`.
        plugin: String,
        /// The directories searched.
        path: Vec<PathBuf>,
    },
    /// The plugin answered with a CNI error object or failed without one.
    #[error("plugin type={plugin:?} failed ({command}): {message}")]
    Plugin {
        /// The plugin `type`.
        plugin: String,
        /// ADD, DEL or CHECK.
        command: &'static str,
        /// The plugin's `msg` (and `details`), or its stderr and exit status.
        message: String,
    },
    /// The plugin ran longer than the deadline and was killed.
    #[error("plugin type={plugin:?} ({command}) did not finish within {secs} s")]
    Timeout {
        /// The plugin `type`.
        plugin: String,
        /// ADD, DEL or CHECK.
        command: &'static str,
        /// The deadline.
        secs: u64,
    },
    /// CHECK needs a config of CNI version 0.4.0 or later.
    #[error("configuration version {0:?} does not support the CHECK command")]
    CheckUnsupported(String),
    /// No ADD result is recorded for this attachment (CHECK needs one).
    #[error("no cached CNI result for container {0}")]
    NoCachedResult(String),
    /// A file or process operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// JSON that could not be read or written.
    #[error("{what}: {source}")]
    Json {
        /// Whose JSON.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Results of this crate.
pub type Result<T, E = CniError> = std::result::Result<T, E>;

/// Wraps an io error with the operation and path it happened on.
pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> CniError + 'a {
    move |source| CniError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
