//! Creating processes with clone flags.
//!
//! Why raw `clone`: with a NULL stack the kernel gives the child a copy of the caller's memory,
//! exactly like fork, while also creating namespaces in the same call (one syscall, crun's fast
//! path). Callers must be single-threaded: the child gets only the calling thread.

use std::os::fd::RawFd;

use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// `clone3`'s flag to start the child in the cgroup2 directory given by `cgroup`.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

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
    finish(r, child)
}

/// Like [`clone_fork`], but the child is born inside the cgroup2 directory `cgroup_dir` (an
/// `O_RDONLY | O_DIRECTORY` descriptor), so nobody has to move it there afterwards: a move takes
/// the kernel's global threadgroup lock, which costs an RCU grace period.
///
/// Fails (with the child not created) where `clone3` or `CLONE_INTO_CGROUP` is unavailable;
/// callers then fall back to [`clone_fork`] and a move.
pub fn clone_fork_into_cgroup(
    flags: CloneFlags,
    cgroup_dir: RawFd,
    child: impl FnOnce() -> i32,
) -> nix::Result<Pid> {
    let mut args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_dir as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 with stack 0 and size 0 behaves like fork(2) (the child continues on a
    // private copy of this thread's stack); `args` is a valid, fully initialised clone_args of the
    // size we pass, and no flag asks the kernel to write through a pointer in it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    finish(r, child)
}

fn finish(r: libc::c_long, child: impl FnOnce() -> i32) -> nix::Result<Pid> {
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
