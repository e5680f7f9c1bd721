//! The registry client's error type, worded the way docker users know the failures.

use std::io;

use berth_image::content::ContentError;
use berth_image::snapshot::SnapshotError;
use berth_image::StoreError;

/// Errors from talking to a registry or storing what came from it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The name cannot be parsed.
    #[error("invalid reference format: {0}")]
    Reference(String),
    /// The tag or digest does not exist (or the repository does not).
    #[error("manifest for {0} not found: manifest unknown")]
    ManifestUnknown(String),
    /// The repository does not exist, or it needs credentials we do not have.
    #[error("pull access denied for {0}, repository does not exist or may require 'docker login'")]
    AccessDenied(String),
    /// The registry refused the credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The credentials are valid but not allowed to do this.
    #[error("denied: {0}")]
    Denied(String),
    /// No connection could be made.
    #[error("registry {host} is unreachable: {message}")]
    Unreachable {
        /// host[:port].
        host: String,
        /// The network error.
        message: String,
    },
    /// The TLS handshake or certificate check failed.
    #[error("tls: failed to verify connection to {host}: {message}")]
    Tls {
        /// host[:port].
        host: String,
        /// What rustls said.
        message: String,
    },
    /// The registry answered with an error status.
    #[error("error from registry {host}: {status} {message}")]
    Status {
        /// host[:port].
        host: String,
        /// HTTP status.
        status: u16,
        /// The registry's `errors[].message`, or the body.
        message: String,
    },
    /// The registry sent something that does not follow the protocol.
    #[error("registry protocol error: {0}")]
    Protocol(String),
    /// The index has no manifest for the wanted platform.
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoPlatform(String),
    /// Downloaded bytes do not match their digest (or are short).
    #[error(transparent)]
    Content(#[from] ContentError),
    /// Unpacking a layer failed (including a diff id mismatch).
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The image store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Local i/o or a dropped connection that could not be resumed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Another layer failed, so this one was stopped.
    #[error("pull cancelled")]
    Cancelled,
}

impl RegistryError {
    /// Whether this is a "not found" kind of failure (unknown tag, manifest or repository).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RegistryError::ManifestUnknown(_) | RegistryError::AccessDenied(_)
        )
    }

    /// Whether the registry rejected our credentials or lack of them.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            RegistryError::Unauthorized(_) | RegistryError::Denied(_)
        )
    }
}
