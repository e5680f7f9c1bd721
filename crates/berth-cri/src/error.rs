//! Errors of the CRI server and their gRPC status codes.

use berth_engine::{EngineError, ErrorKind};

/// What can go wrong serving CRI.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(EngineError),
    /// A request that cannot be served as sent.
    #[error("{0}")]
    InvalidArgument(String),
    /// A failure of the server itself.
    #[error("{0}")]
    Internal(String),
    /// The socket could not be set up.
    #[error("{op} {path}: {source}")]
    Socket {
        /// What was being done.
        op: &'static str,
        /// The socket path.
        path: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("serving CRI: {0}")]
    Serve(#[from] tonic::transport::Error),
}

impl From<CriError> for tonic::Status {
    /// gRPC's codes for the engine's kinds, so kubelet and crictl tell a missing image from a
    /// refused request from a broken daemon.
    fn from(e: CriError) -> tonic::Status {
        let msg = e.to_string();
        match e {
            CriError::Engine(ref inner) => match inner.kind() {
                ErrorKind::NotFound => tonic::Status::not_found(msg),
                ErrorKind::Conflict => tonic::Status::failed_precondition(msg),
                ErrorKind::InvalidParameter => tonic::Status::invalid_argument(msg),
                ErrorKind::NotImplemented => tonic::Status::unimplemented(msg),
                ErrorKind::Internal => tonic::Status::internal(msg),
            },
            CriError::InvalidArgument(_) => tonic::Status::invalid_argument(msg),
            _ => tonic::Status::internal(msg),
        }
    }
}
