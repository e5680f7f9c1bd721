//! The Kubernetes Container Runtime Interface (CRI v1, `runtime.v1`) in front of berth-engine:
//! kubelet and crictl talk gRPC to a unix socket, and the services here answer from the same
//! engine, state and image store as the Docker API.
//!
//! The messages and service traits are generated at build time from the vendored
//! `proto/api.proto` (k8s.io/cri-api v0.28.15) by tonic-prost-build over protox.

pub mod engine_calls;
pub mod error;
pub mod images;
pub mod runtime;
pub mod server;

/// The CRI v1 messages and service traits generated from `proto/api.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod proto {
    tonic::include_proto!("runtime.v1");
}

pub use error::CriError;
pub use server::{bind, serve, CriOptions};
