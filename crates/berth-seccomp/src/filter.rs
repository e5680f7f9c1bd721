//! A compiled seccomp filter and its installation in the calling thread.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use libc::sock_filter;
use oci_spec::runtime::LinuxSeccompFilterFlag;

/// Why the kernel refused a filter.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The `seccomp(2)` call failed (EACCES without no_new_privs or CAP_SYS_ADMIN,
    /// EINVAL for an unsupported flag or a bad program, ...).
    #[error("seccomp(SECCOMP_SET_MODE_FILTER) failed: {0}")]
    Syscall(#[source] io::Error),
    /// With `SECCOMP_FILTER_FLAG_TSYNC`, another thread could not be synchronized.
    #[error("seccomp thread synchronization failed at thread {0}")]
    Tsync(i64),
}

/// A classic-BPF seccomp program ready to be installed, as produced by
/// [`compile`](crate::compile). Kept separate from installation so the runtime
/// can compile (which allocates) before `fork` and only install afterwards.
#[derive(Debug, Clone)]
pub struct Filter {
    prog: Vec<sock_filter>,
    notify: bool,
}

impl Filter {
    pub(crate) fn new(prog: Vec<sock_filter>, notify: bool) -> Filter {
        Filter { prog, notify }
    }

    /// Number of BPF instructions (the kernel accepts at most 4096).
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    /// Whether the program is empty (never true for a compiled filter).
    pub fn is_empty(&self) -> bool {
        self.prog.is_empty()
    }

    /// The raw instructions, for inspection and debugging.
    pub fn instructions(&self) -> &[sock_filter] {
        &self.prog
    }

    /// Whether some rule returns `SCMP_ACT_NOTIFY`, so that [`Filter::install`]
    /// asks the kernel for a notification listener fd.
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// Installs the filter on the calling thread (all threads with TSYNC) with
    /// the spec's `flags`. Returns the user-notification listener fd when the
    /// filter uses `SCMP_ACT_NOTIFY` (`SECCOMP_FILTER_FLAG_NEW_LISTENER` is added
    /// automatically, and `TSYNC_ESRCH` with it when TSYNC is requested, since
    /// the kernel rejects TSYNC + NEW_LISTENER alone).
    ///
    /// The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Does not
    /// allocate, so it may be called between `fork` and `exec`.
    pub fn install(
        &self,
        flags: &[LinuxSeccompFilterFlag],
    ) -> Result<Option<OwnedFd>, InstallError> {
        let mut bits: libc::c_ulong = 0;
        for flag in flags {
            bits |= match flag {
                LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
                LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
                LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                    libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
                }
                LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                    libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
                }
            };
        }
        if self.notify {
            bits |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
            if bits & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
                bits |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
            }
        }
        let len = u16::try_from(self.prog.len())
            .map_err(|_| InstallError::Syscall(io::Error::from_raw_os_error(libc::EINVAL)))?;
        let fprog = libc::sock_fprog {
            len,
            filter: self.prog.as_ptr().cast_mut(),
        };
        // SAFETY: `fprog` points at `self.prog`, which outlives the call; the
        // kernel copies the program and does not keep the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                bits,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(InstallError::Syscall(io::Error::last_os_error()));
        }
        if self.notify {
            let fd = i32::try_from(rc)
                .map_err(|_| InstallError::Syscall(io::Error::from_raw_os_error(libc::EBADF)))?;
            // SAFETY: with NEW_LISTENER the kernel returns a new fd owned by us.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
        if rc > 0 {
            return Err(InstallError::Tsync(rc));
        }
        Ok(None)
    }
}
