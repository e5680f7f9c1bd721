//! End-to-end tests: filters are really installed, in a child process
//! (`seccomp-try`), never in the multi-threaded test harness.
#![cfg(target_arch = "x86_64")]

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ret(i64),
    Errno(i32),
    Signal(i32),
}

/// A profile file removed on drop.
struct Profile(PathBuf);

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn profile(json: &str) -> Profile {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "berth-seccomp-test-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, json).expect("write profile");
    Profile(path)
}

fn try_call(profile: &str, call: impl ToString, args: &[u64]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_seccomp-try"))
        .arg(profile)
        .arg(call.to_string())
        .args(args.iter().map(|a| format!("{a:#x}")))
        .output()
        .expect("spawn seccomp-try");
    if let Some(sig) = out.status.signal() {
        return Outcome::Signal(sig);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "seccomp-try failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (kind, value) = stdout.trim().split_once(' ').expect("ret/errno line");
    match kind {
        "ret" => Outcome::Ret(value.parse().expect("number")),
        "errno" => Outcome::Errno(value.parse().expect("number")),
        other => panic!("unexpected output {other}"),
    }
}

fn with(json: &str, call: impl ToString, args: &[u64]) -> Outcome {
    let p = profile(json);
    try_call(p.0.to_str().expect("utf-8 path"), call, args)
}

const GETPID: i64 = libc::SYS_getpid;
const GETPPID: i64 = libc::SYS_getppid;

#[test]
fn errno_actions() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
        {"names":["getuid"],"action":"SCMP_ACT_ERRNO"}]}"#;
    assert_eq!(with(json, GETPID, &[]), Outcome::Errno(13));
    assert_eq!(
        with(json, libc::SYS_getuid, &[]),
        Outcome::Errno(libc::EPERM)
    );
    assert!(matches!(with(json, GETPPID, &[]), Outcome::Ret(p) if p > 0));
    // The default action applies to everything unlisted.
    let deny = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":22,"syscalls":[
        {"names":["write","exit_group","exit","sigaltstack","munmap","rt_sigprocmask","brk","mmap","futex","rt_sigaction","madvise","close"],"action":"SCMP_ACT_ALLOW"}]}"#;
    assert_eq!(with(deny, GETPPID, &[]), Outcome::Errno(22));
}

#[test]
fn kill_and_trap_actions() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpid"],"action":"{action}"}}]}}"#
        );
        assert_eq!(
            with(&json, GETPID, &[]),
            Outcome::Signal(libc::SIGSYS),
            "{action}"
        );
    }
    // TRACE without a tracer: the call is skipped with ENOSYS.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_TRACE"}]}"#;
    assert_eq!(with(json, GETPID, &[]), Outcome::Errno(libc::ENOSYS));
    // LOG allows the call.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_LOG"}]}"#;
    assert!(matches!(with(json, GETPID, &[]), Outcome::Ret(_)));
}

#[test]
fn argument_rules() {
    // getpid ignores its arguments, so they are free for the filter to test.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":7,"args":[
            {"index":0,"value":4294967296,"op":"SCMP_CMP_GE"},
            {"index":3,"value":240,"valueTwo":16,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#;
    assert_eq!(
        with(json, GETPID, &[0x1_0000_0000, 0, 0, 0x1f]),
        Outcome::Errno(7)
    );
    assert!(matches!(
        with(json, GETPID, &[0xffff_ffff, 0, 0, 0x1f]),
        Outcome::Ret(_)
    ));
    assert!(matches!(
        with(json, GETPID, &[0x1_0000_0000, 0, 0, 0x2f]),
        Outcome::Ret(_)
    ));
}

#[test]
fn arch_mismatch_is_killed() {
    let x32_getpid = 0x4000_0000 | GETPID as u64;
    let only64 = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}"#;
    assert_eq!(with(only64, x32_getpid, &[]), Outcome::Signal(libc::SIGSYS));
    // Listed, the x32 call reaches the kernel (ENOSYS when the kernel has no x32 support).
    let with_x32 = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X32"]}"#;
    assert!(matches!(
        with(with_x32, x32_getpid, &[]),
        Outcome::Ret(_) | Outcome::Errno(libc::ENOSYS)
    ));

    // The i386 ABI through int 0x80, when this kernel has it.
    if !matches!(try_call("none", "int80:20", &[]), Outcome::Ret(p) if p > 0) {
        eprintln!("skipped i386 part: no IA32 emulation");
        return;
    }
    assert_eq!(with(only64, "int80:20", &[]), Outcome::Signal(libc::SIGSYS));
    let with_x86 = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":5}]}"#;
    assert_eq!(with(with_x86, "int80:20", &[]), Outcome::Errno(5));
    assert!(matches!(with(with_x86, "int80:64", &[]), Outcome::Ret(p) if p > 0)); // getppid
    assert_eq!(with(with_x86, GETPID, &[]), Outcome::Errno(5));
}

#[test]
fn notify_listener_is_returned_and_answers() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#;
    assert_eq!(with(json, GETPPID, &[]), Outcome::Ret(4242));
    assert!(matches!(with(json, GETPID, &[]), Outcome::Ret(p) if p != 4242));
}

#[test]
fn flags_are_accepted() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW",
        "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#;
    assert_eq!(with(json, GETPID, &[]), Outcome::Errno(libc::EPERM));
}

#[test]
fn docker_default_profile() {
    let newuser = libc::CLONE_NEWUSER as u64;
    assert_eq!(
        try_call("docker", libc::SYS_unshare, &[newuser]),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker", libc::SYS_unshare, &[0]),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker", libc::SYS_mount, &[0, 0, 0, 0, 0]),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker", libc::SYS_keyctl, &[0]),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker", libc::SYS_add_key, &[0]),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker", libc::SYS_clone3, &[0, 0]),
        Outcome::Errno(libc::ENOSYS)
    );
    assert_eq!(
        try_call("docker", libc::SYS_socket, &[40, 1, 0]),
        Outcome::Errno(libc::EPERM)
    );
    assert!(matches!(try_call("docker", GETPID, &[]), Outcome::Ret(p) if p > 0));
    // read/write on a bad fd reach the kernel: EBADF, not EPERM.
    assert_eq!(
        try_call("docker", libc::SYS_read, &[u64::MAX, 0, 0]),
        Outcome::Errno(libc::EBADF)
    );
    assert_eq!(
        try_call("docker", libc::SYS_write, &[u64::MAX, 0, 0]),
        Outcome::Errno(libc::EBADF)
    );
    // personality(0xffffffff) only queries.
    assert!(matches!(
        try_call("docker", libc::SYS_personality, &[0xffff_ffff]),
        Outcome::Ret(_)
    ));
    assert_eq!(
        try_call("docker", libc::SYS_personality, &[0x40_0000]),
        Outcome::Errno(libc::EPERM)
    );
    // clone with a namespace flag is refused (no child is created).
    let clone_newuser = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64;
    assert_eq!(
        try_call("docker", libc::SYS_clone, &[clone_newuser, 0, 0, 0, 0]),
        Outcome::Errno(libc::EPERM)
    );
    // ptrace is allowed on kernels >= 4.8: an invalid request reaches the kernel.
    assert_eq!(
        try_call("docker", libc::SYS_ptrace, &[0xdead, 0x7fff_fff0]),
        Outcome::Errno(libc::ESRCH)
    );
    // bpf needs CAP_BPF (or CAP_SYS_ADMIN) in the profile: an invalid command
    // gets EINVAL from the kernel only when the filter lets it through.
    let bad_bpf = [0xffff, 0, 0];
    assert_eq!(
        try_call("docker", libc::SYS_bpf, &bad_bpf),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker:CAP_BPF", libc::SYS_bpf, &bad_bpf),
        Outcome::Errno(libc::EINVAL)
    );
    assert_eq!(
        try_call("docker", libc::SYS_perf_event_open, &[0, 0, 0, 0, 0]),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker", libc::SYS_reboot, &[0, 0, 0, 0]),
        Outcome::Errno(libc::EPERM)
    );
    assert_eq!(
        try_call("docker:CAP_SYS_BOOT", libc::SYS_reboot, &[0, 0, 0, 0]),
        Outcome::Errno(libc::EINVAL)
    );
    // With CAP_SYS_ADMIN, unshare reaches the kernel (a no-op unshare succeeds).
    assert_eq!(
        try_call("docker:CAP_SYS_ADMIN", libc::SYS_unshare, &[0]),
        Outcome::Ret(0)
    );
}
