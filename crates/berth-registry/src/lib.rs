//! Registry client for Berth: the OCI distribution spec (registry API v2) against Docker Hub
//! and private registries.
//!
//! - [`credentials`]: docker's `config.json` `auths` and the `X-Registry-Auth` header (always
//!   built; the CLI uses only this, with default features off);
//! - [`endpoint`]: reference domain → server (`docker.io` → `registry-1.docker.io`, mirrors,
//!   plain HTTP for loopback and insecure registries);
//! - [`Client`]: rustls HTTPS, Basic and Bearer-token auth from the `WWW-Authenticate`
//!   challenge with per-repository token reuse;
//! - [`pull()`]: the streaming pull pipeline into [`berth_image::ImageStore`];
//! - [`push()`]: blobs (HEAD skip, cross-repository mount, upload) then the manifest by tag,
//!   byte-for-byte as stored so its digest is kept;
//! - [`search()`]: Docker Hub's search API.

pub mod credentials;

#[cfg(feature = "client")]
pub mod auth;
#[cfg(feature = "client")]
mod blob;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub mod endpoint;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
pub mod manifest;
#[cfg(feature = "client")]
pub mod progress;
#[cfg(feature = "client")]
mod pull;
#[cfg(feature = "client")]
mod push;
#[cfg(feature = "client")]
mod search;

pub use credentials::{AuthConfig, ConfigFile, CredentialsError};

#[cfg(feature = "client")]
pub use client::Client;
#[cfg(feature = "client")]
pub use endpoint::{Endpoint, RegistryOptions};
#[cfg(feature = "client")]
pub use error::RegistryError;
#[cfg(feature = "client")]
pub use progress::Progress;
#[cfg(feature = "client")]
pub use pull::{pull, PullOptions, Pulled};
#[cfg(feature = "client")]
pub use push::{push, Pushed};
#[cfg(feature = "client")]
pub use search::{search, search_target, SearchResult};
