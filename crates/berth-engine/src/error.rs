//! The engine's error type, with a [`ErrorKind`] the API layer maps to docker's status codes.

/// What went wrong, in the categories docker's API distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such container or image (404).
    NotFound,
    /// The request conflicts with current state, e.g. a name in use (409).
    Conflict,
    /// A bad parameter from the caller (400).
    InvalidParameter,
    /// Something this configuration cannot do, e.g. read a `none` log (501).
    NotImplemented,
    /// Anything else (500).
    Internal,
}

/// Errors from engine operations; the message is what the user sees (docker's wording).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No such container.
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// No such image.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// No such volume.
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// Something else that does not exist (a path in a container); the full message.
    #[error("{0}")]
    NotFound(String),
    /// No such exec instance.
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    /// A state or name conflict; the text is the full message.
    #[error("{0}")]
    Conflict(String),
    /// Bad input; the text is the full message.
    #[error("{0}")]
    InvalidParameter(String),
    /// The image store failed.
    #[error("{0}")]
    Image(#[from] berth_image::StoreError),
    /// Starting the container failed (the runtime's or shim's message).
    #[error("failed to create task for container: {0}")]
    Start(String),
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
    /// Any other internal failure.
    #[error("{0}")]
    Internal(String),
    /// Not supported for this container's configuration; the full message.
    #[error("{0}")]
    NotImplemented(String),
    /// Talking to a registry failed (pull, push, login, search).
    #[error("{0}")]
    Registry(#[from] berth_registry::RegistryError),
}

impl EngineError {
    /// The category, for the API's status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NoSuchContainer(_)
            | EngineError::NoSuchImage(_)
            | EngineError::NoSuchExec(_)
            | EngineError::NoSuchVolume(_)
            | EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::InvalidParameter(_) => ErrorKind::InvalidParameter,
            EngineError::NotImplemented(_) => ErrorKind::NotImplemented,
            EngineError::Image(e) => match e {
                berth_image::StoreError::NotFound(_) => ErrorKind::NotFound,
                berth_image::StoreError::Conflict(_) => ErrorKind::Conflict,
                berth_image::StoreError::Reference(_) => ErrorKind::InvalidParameter,
                _ => ErrorKind::Internal,
            },
            EngineError::Registry(e) if e.is_not_found() => ErrorKind::NotFound,
            EngineError::Registry(berth_registry::RegistryError::Reference(_)) => {
                ErrorKind::InvalidParameter
            }
            // Docker reports a missing or non-executable program as a bad request.
            EngineError::Start(m) if is_exec_failure(m) => ErrorKind::InvalidParameter,
            _ => ErrorKind::Internal,
        }
    }
}

fn is_exec_failure(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("not found") || m.contains("no such file") || m.contains("permission denied")
}

/// Helper for `map_err` on I/O results.
pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> EngineError + 'a {
    move |source| EngineError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// Shorthand for engine results.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
