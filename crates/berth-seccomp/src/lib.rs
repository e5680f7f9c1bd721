//! Seccomp for Berth: OCI `linux.seccomp` sections compiled to classic BPF and
//! installed in the calling process, plus Docker's default profile.
//!
//! - [`compile`] turns an [`oci_spec::runtime::LinuxSeccomp`] into a [`Filter`]
//!   (pure Rust BPF generation, see the [`compile`] module docs for the layout
//!   and rule precedence);
//! - [`Filter::install`] loads it with `seccomp(2)`, returning the
//!   user-notification fd when the profile uses `SCMP_ACT_NOTIFY`;
//! - [`docker_default`] gives Docker's default profile (`profiles/default.json`)
//!   resolved for a container's capabilities and architecture, and
//!   [`load_profile`] does the same for any Docker-format profile.
//!
//! Syscall numbers come from tables generated from the kernel UAPI headers
//! (x86_64, x32, i386, aarch64, arm) by `scripts/gen-syscall-tables.py`.
//! The `seccomp-try` binary installs a profile and tries one syscall; the
//! end-to-end tests use it so filters are never installed in the test harness.

mod bpf;
mod compile;
mod docker;
mod filter;
#[cfg(test)]
mod interp;
mod syscalls;

pub use bpf::AsmError;
pub use compile::{compile, CompileError, BAD_ARCH_ACTION};
pub use docker::{docker_default, load_profile, ProfileError};
pub use filter::{Filter, InstallError};
