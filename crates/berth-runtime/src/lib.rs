//! berth-runtime: the OCI runtime library behind the `berth-runtime` binary and Berth's shim.
//!
//! It turns an OCI bundle (`config.json` + rootfs) into an isolated process, and manages its
//! life afterwards (start, kill, pause, exec, delete). Callers must be single-threaded at the
//! point they create or exec into a container: the library forks.

pub mod error;
pub mod rootfs;
pub mod syscall;

pub use error::{Error, Result};
/// Re-exported so callers build specs with the exact version this library reads.
pub use oci_spec;
