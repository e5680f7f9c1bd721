//! Confinement and the escape classes: capabilities, no_new_privs, seccomp, leaked descriptors
//! (CVE-2024-21626), and the runtime binary's protection (CVE-2019-5736).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::json;

fn status_field(out: &str, field: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn default_caps_and_no_new_privs() {
    let w = World::new();
    let spec = base_spec(&shared_rootfs(), &["cat", "/proc/self/status"]);
    let (code, out, err) = w.run(&spec, "caps");
    assert_eq!(code, 0, "{err}");
    // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
    for f in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
        assert_eq!(status_field(&out, f), "0000000020000420", "{f}\n{out}");
    }
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
}

#[test]
fn capability_sets_follow_the_spec() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["cat", "/proc/self/status"]);
    spec["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN"],
        "permitted": ["CAP_CHOWN", "CAP_NET_RAW"],
    });
    spec["process"]["noNewPrivileges"] = json!(false);
    let (code, out, err) = w.run(&spec, "caps2");
    assert_eq!(code, 0, "{err}");
    assert_eq!(status_field(&out, "CapBnd"), "0000000000002001");
    assert_eq!(status_field(&out, "CapPrm"), "0000000000002001");
    // Root's effective set becomes its permitted set at exec (legacy root semantics, as runc).
    assert_eq!(status_field(&out, "CapEff"), "0000000000002001");
    assert_eq!(status_field(&out, "CapInh"), "0000000000000000");
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
}

#[test]
fn seccomp_from_the_spec_applies() {
    let w = World::new();
    let mut spec = base_spec(
        &shared_rootfs(),
        &[
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; echo rc=$?",
        ],
    );
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
    }));
    spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let (code, out, err) = w.run(&spec, "seccomp");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        out.contains("Operation not permitted") && out.contains("rc=1"),
        "{out}"
    );
}

/// A seccomp agent: takes the listener from the runtime, answers one notification with EDQUOT,
/// and returns the container process state the runtime sent along.
fn seccomp_agent(listener: std::os::unix::net::UnixListener) -> serde_json::Value {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 8192];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!(RawFd);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
            fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
        }
    }
    let n = msg.bytes;
    let payload: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    let fd = fd.expect("no listener fd");
    // struct seccomp_notif (80 bytes) and seccomp_notif_resp (24 bytes), from linux/seccomp.h.
    let mut req = [0u64; 10];
    const RECV: libc::c_ulong = 0xc050_2100;
    const SEND: libc::c_ulong = 0xc018_2101;
    // SAFETY: RECV fills a seccomp_notif, which `req` is large enough for.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), RECV, req.as_mut_ptr()) };
    assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let mut resp = [0u64; 3];
    resp[0] = req[0];
    resp[2] = (-libc::EDQUOT) as u32 as u64;
    // SAFETY: SEND reads a seccomp_notif_resp: id, val = 0, error = -EDQUOT, flags = 0.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), SEND, resp.as_mut_ptr()) };
    assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    payload
}

#[test]
fn seccomp_notify_reaches_the_agent_at_listener_path() {
    let w = World::new();
    let agent_dir = tempfile::tempdir().unwrap();
    let sock = agent_dir.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let agent = std::thread::spawn(move || seccomp_agent(listener));
    let mut spec = base_spec(
        &shared_rootfs(),
        &["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"],
    );
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
    }));
    spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "listenerPath": sock,
        "listenerMetadata": "agent-test",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let (code, out, err) = w.run(&spec, "notify");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Disk quota exceeded") && out.contains("rc=1"),
        "{out}"
    );
    let payload = agent.join().unwrap();
    assert_eq!(payload["fds"], json!(["seccompFd"]), "{payload}");
    assert_eq!(payload["metadata"], json!("agent-test"));
    assert!(payload["pid"].as_i64().unwrap_or(0) > 0, "{payload}");
    assert!(
        payload["state"]["id"]
            .as_str()
            .unwrap_or("")
            .contains("notify"),
        "{payload}"
    );
}

#[test]
fn no_runtime_descriptor_reaches_the_container() {
    let w = World::new();
    let spec = base_spec(
        &shared_rootfs(),
        &[
            "sh",
            "-c",
            "ls /proc/self/fd | sort -n | tr '\\n' ' '; readlink /proc/self/cwd",
        ],
    );
    w.write_spec(&spec);
    let id = w.id("fds");
    // Open extra host descriptors (a file and a directory) in the runtime's parent.
    let script = format!(
        "exec 5</etc/hostname 6</sys/fs/cgroup 7</; exec {} --root {} run --bundle {} {}",
        BIN,
        w.root.path().display(),
        w.bundle_str(),
        id
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = ok(&out);
    let mut lines = stdout.lines();
    // ls's own directory descriptor is 3; nothing else may be open, and cwd is the container's /.
    // 0-2 and the descriptor ls uses to read the directory.
    assert_eq!(lines.next().unwrap().trim(), "0 1 2 3 /", "{stdout}");
}

#[test]
fn runtime_binary_cannot_be_written_through_proc_exe() {
    // The CVE-2019-5736 pattern: hold /proc/PID/exe of a runtime process, wait until it exits
    // (no more ETXTBSY), then reopen the handle for writing.
    use std::os::fd::AsRawFd;
    // A container that may hold CAP_SYS_PTRACE could reach the runtime's /proc entries, so its
    // `run` must execute from a protected binary.
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["sleep", "1000"]);
    spec["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_SYS_PTRACE"));
    w.write_spec(&spec);
    let id = w.id("seal");
    // A private copy: while any other test executes the shared binary, a write gets ETXTBSY
    // before the kernel even looks at the mount, which would hide what this test checks.
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("berth-runtime");
    std::fs::copy(BIN, &bin).unwrap();
    let before = std::fs::read(&bin).unwrap();
    let mut child = std::process::Command::new(&bin)
        .arg("--root")
        .arg(w.root.path())
        .args(["run", "--bundle", w.bundle_str(), &id])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while w.rt(&["state", &id]).status.code() != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "container never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap();
    let handle = nix::fcntl::open(
        format!("/proc/{}/exe", child.id()).as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    ok(&w.rt(&["kill", &id, "KILL"]));
    let _ = child.wait();
    let reopen = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    let err = reopen
        .expect_err("runtime binary writable after exit")
        .raw_os_error();
    // EROFS: read-only bind of the binary (root); EPERM: sealed memfd copy (rootless).
    assert!(
        matches!(err, Some(libc::EROFS) | Some(libc::EPERM)),
        "{err:?} via {exe:?}"
    );
    assert_eq!(
        std::fs::read(BIN).unwrap(),
        before,
        "runtime binary changed"
    );
}

#[test]
fn created_init_hides_the_runtime_binary_from_the_container() {
    // Without CAP_SYS_PTRACE and in a fresh PID namespace, `create` runs unprotected (no re-exec);
    // then the parked init — still our binary until `start` — must be out of the container's
    // reach: it is non-dumpable, so /proc/1/exe cannot be opened from inside.
    let w = World::new();
    let rootfs = tempfile::tempdir().unwrap();
    build_rootfs(rootfs.path());
    let mut spec = base_spec(rootfs.path(), &["sleep", "1000"]);
    spec["root"]["readonly"] = json!(false);
    w.write_spec(&spec);
    let id = w.id("hidden");
    ok(&w.rt(&["create", "--bundle", w.bundle_str(), &id]));
    let probe = "readlink /proc/1/exe > /r1 2>&1; echo $? >> /r1; \
        (exec 3</proc/1/exe) 2>/dev/null && echo opened > /r2 || echo refused > /r2";
    ok(&w.rt(&["exec", &id, "sh", "-c", probe]));
    let r1 = std::fs::read_to_string(rootfs.path().join("r1")).unwrap();
    let r2 = std::fs::read_to_string(rootfs.path().join("r2")).unwrap();
    assert!(!r1.contains("berth"), "init exe visible: {r1}");
    assert_eq!(r2.trim(), "refused");
    ok(&w.rt(&["delete", "--force", &id]));
}

#[test]
fn container_cannot_reach_the_runtime_binary_during_exec() {
    // An attacker in the container watches for runtime processes, grabs their exe, and writes
    // through it once they exit (the CVE-2019-5736 pattern).
    let w = World::new();
    let rootfs = tempfile::tempdir().unwrap();
    build_rootfs(rootfs.path());
    let mut spec = base_spec(rootfs.path(), &["sleep", "1000"]);
    spec["root"]["readonly"] = json!(false);
    w.write_spec(&spec);
    let id = w.id("cve5736");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &id]));
    let attacker = "for i in $(seq 2000); do for p in /proc/[0-9]*; do \
        case $(readlink $p/exe 2>/dev/null) in *berth*|*memfd*) \
        exec 3<$p/exe 2>/dev/null && { sleep 1; echo PWNED >>/proc/self/fd/3 2>/dev/null && echo WROTE > /hit || echo blocked > /hit; exit; };; esac; done; done; echo none > /hit";
    ok(&w.rt(&["exec", "-d", &id, "sh", "-c", attacker]));
    let before = std::fs::read(BIN).unwrap();
    for _ in 0..20 {
        let _ = w.rt(&["exec", &id, "true"]);
    }
    // The attacker writes /hit when it is done (WROTE, blocked or none).
    wait_until("the attacker's verdict", Duration::from_secs(30), || {
        std::fs::read_to_string(rootfs.path().join("hit")).is_ok_and(|s| s.ends_with('\n'))
    });
    let hit = std::fs::read_to_string(rootfs.path().join("hit")).unwrap_or_default();
    assert_ne!(hit.trim(), "WROTE");
    assert_eq!(
        std::fs::read(BIN).unwrap(),
        before,
        "runtime binary changed"
    );
    ok(&w.rt(&["delete", "--force", &id]));
}

#[test]
fn device_outside_the_allowed_list_is_refused() {
    let w = World::new();
    let mut spec = base_spec(
        &shared_rootfs(),
        &["sh", "-c", "mknod /tmp/kmsg c 1 11 && echo made; head -c 1 /tmp/kmsg >/dev/null 2>&1 && echo opened || echo refused; head -c 1 /dev/zero | wc -c"],
    );
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
    }));
    spec["process"]["capabilities"]["bounding"] = json!(["CAP_MKNOD"]);
    spec["process"]["capabilities"]["effective"] = json!(["CAP_MKNOD"]);
    spec["process"]["capabilities"]["permitted"] = json!(["CAP_MKNOD"]);
    spec["process"]["capabilities"]["inheritable"] = json!([]);
    spec["process"]["capabilities"]["ambient"] = json!([]);
    let (code, out, err) = w.run(&spec, "devices");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, vec!["made", "refused", "1"], "{out}");
}

#[test]
fn seccomp_profile_without_close_range_still_runs() {
    // Descriptors are closed before the container's filter exists (the filter may forbid it).
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["sh", "-c", "echo alive"]);
    spec["process"]["noNewPrivileges"] = json!(false);
    spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]
    });
    let (code, out, err) = w.run(&spec, "noclose");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "alive");
}

#[test]
fn preserved_fds_carry_only_the_callers_descriptors() {
    // With a large --preserve-fds, the runtime's own descriptors (sync socket, exec FIFO) sit in
    // the preserved range; they must still not reach the container.
    let w = World::new();
    w.write_spec(&base_spec(
        &shared_rootfs(),
        &[
            "sh",
            "-c",
            "for f in /proc/self/fd/*; do readlink $f; done; true",
        ],
    ));
    let id = w.id("preserve");
    let script = format!(
        "exec 3</etc/hostname; exec {} --root {} run --preserve-fds 50 --bundle {} {}",
        BIN,
        w.root.path().display(),
        w.bundle_str(),
        id
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(
        stdout.contains("/etc/hostname"),
        "preserved fd 3 missing:\n{stdout}"
    );
    for bad in ["exec.fifo", "socket:", "anon_inode"] {
        assert!(!stdout.contains(bad), "{bad} leaked:\n{stdout}");
    }
}
