//! Creating processes with clone flags.
//!
//! Why raw `clone`: with a NULL stack the kernel gives the child a copy of the caller's memory,
//! exactly like fork, while also creating namespaces in the same call (one syscall, crun's fast
//! path). Callers must be single-threaded: the child gets only the calling thread.

use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// Forks with extra clone flags; runs `child` in the new process, which then exits with its return
/// value and never returns here.
pub fn clone_fork(flags: CloneFlags, child: impl FnOnce() -> i32) -> nix::Result<Pid> {
    let bits = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: SYS_clone with a NULL stack behaves like fork(2): the child continues on a private
    // copy of this thread's stack. No pointers are passed for tid/tls (flags do not ask for them).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            bits,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match r {
        -1 => Err(nix::Error::last()),
        0 => {
            let code = child();
            // SAFETY: _exit ends the child without running the parent's atexit handlers or
            // flushing buffers it inherited.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Pid::from_raw(pid as i32)),
    }
}
