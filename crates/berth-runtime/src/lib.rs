//! berth-runtime: the OCI runtime library behind the `berth-runtime` binary and Berth's shim.
//!
//! It turns an OCI bundle (`config.json` + rootfs) into an isolated process, and manages its
//! life afterwards (start, kill, pause, exec, delete). Callers must be single-threaded at the
//! point they create or exec into a container: the library forks.

pub mod caps;
pub mod cgroup;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod identity;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod sched;
pub mod seal;
pub mod seccomp;
pub mod state;
pub mod syscall;
pub mod tty;

pub use error::{Error, Result};
pub use features::features;
/// Re-exported so callers build specs with the exact version this library reads.
pub use oci_spec;
