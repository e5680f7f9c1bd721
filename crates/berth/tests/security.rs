//! End-to-end: Docker-equivalent confinement by default (capabilities, seccomp, masked and
//! read-only paths, device cgroup), the options that change it (`--privileged`, `--cap-add`,
//! `--cap-drop`, `--security-opt`, `--read-only`, `--group-add`, `--sysctl`), and regression
//! tests for the container-escape classes users fear.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{stderr, stdout, Daemon};

/// `Key:\tvalue` lines of a `/proc/<pid>/status` text.
fn status_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

/// `/proc/self/status` as the container's process sees it, with `flags` on `run` (read from
/// the container's log, so the check does not depend on attach timing).
fn status_with(d: &Daemon, flags: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "cat", "/proc/self/status"]);
    let id = d.ok(&args).trim().to_owned();
    assert_eq!(d.ok(&["wait", &id]), "0\n");
    let out = d.ok(&["logs", &id]);
    d.ok(&["rm", &id]);
    out
}

/// Runs `run -d ARGS…` to its end; returns (exit code, stdout, stderr) from `wait` and the
/// container's log, so the checks do not depend on attach timing.
fn run_logged(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let mut full = vec!["run", "-d"];
    full.extend_from_slice(args);
    let id = d.ok(&full).trim().to_owned();
    let code = d.ok(&["wait", &id]).trim().parse().unwrap();
    let o = d.berth(&["logs", &id]);
    d.ok(&["rm", &id]);
    (code, stdout(&o), stderr(&o))
}

/// [`run_logged`] that must exit 0; its stdout.
fn run_ok(d: &Daemon, args: &[&str]) -> String {
    let (code, out, err) = run_logged(d, args);
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    out
}

fn host_cap_bnd() -> String {
    status_field(
        &std::fs::read_to_string("/proc/self/status").unwrap(),
        "CapBnd",
    )
}

#[test]
fn default_confinement_matches_docker() {
    let d = Daemon::start();
    d.import_busybox();
    let st = status_with(&d, &[]);
    assert_eq!(status_field(&st, "CapEff"), "00000000a80425fb", "{st}");
    assert_eq!(status_field(&st, "CapBnd"), "00000000a80425fb", "{st}");
    assert_eq!(status_field(&st, "Seccomp"), "2", "{st}");
    assert_eq!(status_field(&st, "NoNewPrivs"), "0", "{st}");
    // Masked paths are empty, read-only paths refuse writes.
    let out = run_ok(
        &d,
        &[
            "busybox",
            "sh",
            "-c",
            "cat /proc/timer_list | wc -c; cat /proc/keys | wc -c; ls /sys/firmware | wc -l; \
         echo 1 > /proc/sys/kernel/panic && echo WROTE-PROC-SYS; \
         echo 1 > /proc/sysrq-trigger && echo WROTE-SYSRQ; \
         touch /sys/kernel/x 2>/dev/null && echo WROTE-SYS; \
         echo 0 > /sys/fs/cgroup/x 2>/dev/null && echo WROTE-CGROUP; echo done",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], &["0", "0", "0"], "{out}");
    assert!(!out.contains("WROTE"), "{out}");
    assert!(out.ends_with("done\n"), "{out}");
}

#[test]
fn privileged_and_capability_flags_change_it() {
    let d = Daemon::start();
    d.import_busybox();
    let st = status_with(&d, &["--privileged"]);
    assert_eq!(status_field(&st, "CapEff"), host_cap_bnd(), "{st}");
    assert_eq!(status_field(&st, "Seccomp"), "0", "{st}");
    // Nothing masked, and host devices are there.
    let out = run_ok(
        &d,
        &[
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "cat /proc/timer_list | wc -c; ls /dev | wc -l",
        ],
    );
    let sizes: Vec<u64> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert!(sizes[0] > 0, "/proc/timer_list is not masked: {out}");
    let st = status_with(&d, &["--cap-drop", "ALL"]);
    assert_eq!(status_field(&st, "CapEff"), "0000000000000000", "{st}");
    let st = status_with(&d, &["--cap-drop", "ALL", "--cap-add", "net_admin"]);
    assert_eq!(status_field(&st, "CapEff"), "0000000000001000", "{st}");
    let st = status_with(&d, &["--cap-add", "SYS_ADMIN", "--cap-drop", "CAP_CHOWN"]);
    assert_eq!(status_field(&st, "CapEff"), "00000000a82425fa", "{st}");
    let st = status_with(&d, &["--security-opt", "seccomp=unconfined"]);
    assert_eq!(status_field(&st, "Seccomp"), "0", "{st}");
    assert_eq!(status_field(&st, "CapEff"), "00000000a80425fb", "{st}");
    let st = status_with(&d, &["--security-opt", "no-new-privileges"]);
    assert_eq!(status_field(&st, "NoNewPrivs"), "1", "{st}");
    let o = d.berth(&["run", "--rm", "--cap-add", "FOO", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("invalid CapAdd: unknown capability: \"CAP_FOO\""),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["run", "--rm", "--security-opt", "bogus", "busybox", "true"]);
    assert!(
        stderr(&o).contains("invalid --security-opt 1: \"bogus\""),
        "{}",
        stderr(&o)
    );
    // exec gets the container's capabilities.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "nocaps",
        "--cap-drop",
        "ALL",
        "busybox",
        "sleep",
        "300",
    ]);
    let st = d.ok(&["exec", "nocaps", "cat", "/proc/self/status"]);
    assert_eq!(status_field(&st, "CapEff"), "0000000000000000", "{st}");
    assert_eq!(status_field(&st, "Seccomp"), "2", "{st}");
}

#[test]
fn seccomp_profile_from_a_file() {
    let d = Daemon::start();
    d.import_busybox();
    // A profile that allows everything except mkdir*: the file's rules apply, not the default.
    let profile = d.dir.join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let (code, _, err) = run_logged(&d, &["--security-opt", &opt, "busybox", "mkdir", "/tmp/x"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Operation not permitted"), "{err}");
    let o = d.berth(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/nonexistent.json",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&o).contains("opening seccomp profile"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn read_only_group_add_and_sysctls() {
    let d = Daemon::start();
    d.import_busybox();
    let (code, _, err) = run_logged(&d, &["--read-only", "busybox", "touch", "/x"]);
    assert_eq!(code, 1);
    assert!(err.contains("Read-only file system"), "{err}");
    let out = run_ok(
        &d,
        &[
            "--group-add",
            "staff",
            "--group-add",
            "1234",
            "busybox",
            "id",
            "-G",
        ],
    );
    let groups: Vec<&str> = out.split_whitespace().collect();
    assert!(groups.contains(&"50") && groups.contains(&"1234"), "{out}");
    let out = run_ok(
        &d,
        &[
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmax=123456",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/shmmax",
        ],
    );
    assert_eq!(out, "1\n123456\n");
    let o = d.berth(&[
        "run",
        "--rm",
        "--sysctl",
        "kernel.hostname=x",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&o).contains("sysctl 'kernel.hostname' is not allowed"),
        "{}",
        stderr(&o)
    );
}

/// A static helper that calls `keyctl(KEYCTL_JOIN_SESSION_KEYRING)`, `unshare(CLONE_NEWNS)`
/// and `mount`, printing each call's errno (0: it worked); built once per test process.
fn syscall_probe(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("probe.c");
    std::fs::write(
        &src,
        r#"#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    errno = 0; long k = syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, "probe");
    printf("keyctl %d\n", k < 0 ? errno : 0);
    errno = 0; int u = unshare(CLONE_NEWNS | CLONE_NEWUSER);
    printf("unshare %d\n", u < 0 ? errno : 0);
    errno = 0; int m = mount("none", "/tmp", "tmpfs", 0, "");
    printf("mount %d\n", m < 0 ? errno : 0);
    return 0;
}
"#,
    )
    .unwrap();
    let bin = dir.join("probe");
    let ok = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(bin)
}

/// Imports busybox plus `/bin/probe` as `probe:latest`.
fn import_with_probe(d: &Daemon, probe: &Path) {
    let work = d.dir.join("probe-root");
    std::fs::create_dir_all(work.join("bin")).unwrap();
    std::fs::copy(probe, work.join("bin/probe")).unwrap();
    let tar = d.dir.join("probe.tar");
    std::fs::copy(common::rootfs_tar(), &tar).unwrap();
    let st = Command::new("tar")
        .arg("-rf")
        .arg(&tar)
        .arg("-C")
        .arg(&work)
        .arg("./bin/probe")
        .status()
        .unwrap();
    assert!(st.success());
    let o = d.berth_with_stdin(&["import", "-", "probe:latest"], Some(&tar));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn escape_classes_are_blocked() {
    let d = Daemon::start();
    d.import_busybox();
    // unshare/mount/keyctl: refused by default, allowed when the confinement is lifted (so
    // the probe can tell).
    let probe = syscall_probe(&d.dir).expect("a C compiler with static libc (gcc, libc6-dev)");
    import_with_probe(&d, &probe);
    let out = run_ok(&d, &["probe", "/bin/probe"]);
    assert_eq!(
        out, "keyctl 1\nunshare 1\nmount 1\n",
        "EPERM for each: {out}"
    );
    let out = run_ok(&d, &["--privileged", "probe", "/bin/probe"]);
    assert!(out.contains("keyctl 0") && out.contains("mount 0"), "{out}");

    // A device outside the allowed list: mknod works (CAP_MKNOD), opening it does not.
    let (_, out, err) = run_logged(
        &d,
        &[
            "busybox",
            "sh",
            "-c",
            "mknod /tmp/mem c 1 1 && echo made; head -c 1 /tmp/mem >/dev/null && echo READ",
        ],
    );
    assert_eq!(out, "made\n", "{err}");
    assert!(err.contains("Operation not permitted"), "{err}");

    // No host fd leaks into the container's init or an exec'd process.
    d.ok(&["run", "-d", "--name", "fds", "busybox", "sleep", "300"]);
    assert_eq!(d.ok(&["exec", "fds", "ls", "/proc/1/fd"]), "0\n1\n2\n");
    assert_eq!(
        d.ok(&["exec", "fds", "sh", "-c", "ls /proc/$$/fd; true"]),
        "0\n1\n2\n"
    );

    // /proc/self/exe (CVE-2019-5736): a container hammering every /proc/N/exe while execs
    // join it never gets a write through, and the host binaries stay as they were.
    let shim = common::bin_dir().join("berth-shim");
    let before = std::fs::read(&shim).unwrap();
    d.ok(&[
        "run", "-d", "--name", "hammer", "busybox", "sh", "-c",
        "while :; do for p in /proc/[0-9]*; do (echo x >> $p/exe) 2>/dev/null && echo WROTE $p; done; done",
    ]);
    for _ in 0..10 {
        d.ok(&["exec", "hammer", "true"]);
    }
    let logs = d.ok(&["logs", "hammer"]);
    assert!(!logs.contains("WROTE"), "{logs}");
    d.ok(&["rm", "-f", "hammer"]);
    assert_eq!(
        std::fs::read(&shim).unwrap(),
        before,
        "berth-shim was modified"
    );
}
