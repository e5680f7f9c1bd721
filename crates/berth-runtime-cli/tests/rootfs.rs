//! The root filesystem as the container sees it: mounts, devices, read-only parts, sysctls,
//! rlimits, identity.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

fn run_sh(w: &World, mut spec: serde_json::Value, script: &str) -> (i32, String, String) {
    spec["process"]["args"] = json!(["sh", "-c", script]);
    w.run(&spec, "fs")
}

#[test]
fn readonly_root_and_tmpfs_mount_with_size() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &[]);
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "size=4m", "mode=1777"]
    }));
    let (code, out, err) = run_sh(
        &w,
        spec,
        "touch /rootfile 2>/dev/null && echo writable || echo readonly; \
         echo hi > /tmp/x && cat /tmp/x; grep ' /tmp ' /proc/mounts",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "readonly");
    assert_eq!(lines[1], "hi");
    assert!(
        lines[2].starts_with("tmpfs /tmp tmpfs") && lines[2].contains("size=4096k"),
        "{out}"
    );
}

#[test]
fn bind_mounts_ro_and_rw() {
    let w = World::new();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("data"), "from-host").unwrap();
    let rw = tempfile::tempdir().unwrap();
    let mut spec = base_spec(&shared_rootfs(), &[]);
    let mounts = spec["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/mnt", "type": "bind", "source": host.path(), "options": ["rbind", "ro"]}));
    mounts.push(json!({"destination": "/root", "type": "bind", "source": rw.path(), "options": ["bind", "rw"]}));
    let (code, out, err) = run_sh(
        &w,
        spec,
        "cat /mnt/data; echo x > /mnt/new 2>&1 || echo ro-refused; echo written > /root/out",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("from-host"), "{out}");
    assert!(
        out.contains("ro-refused") || out.contains("Read-only"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(rw.path().join("out")).unwrap(),
        "written\n"
    );
}

#[test]
fn dev_has_default_devices_and_links() {
    let w = World::new();
    let (code, out, err) = run_sh(
        &w,
        base_spec(&shared_rootfs(), &[]),
        "for d in null zero full random urandom tty; do stat -c '%n %t:%T %a' /dev/$d; done; \
         for l in fd stdin ptmx; do readlink /dev/$l; done; echo x > /dev/null && echo null-ok",
    );
    assert_eq!(code, 0, "{err}");
    for want in [
        "/dev/null 1:3 666",
        "/dev/zero 1:5 666",
        "/dev/full 1:7 666",
        "/dev/random 1:8 666",
        "/dev/urandom 1:9 666",
        "/dev/tty 5:0 666",
        "/proc/self/fd",
        "/proc/self/fd/0",
        "pts/ptmx",
        "null-ok",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn masked_and_readonly_paths() {
    let w = World::new();
    let (code, out, err) = run_sh(
        &w,
        base_spec(&shared_rootfs(), &[]),
        "wc -c < /proc/keys; ls /sys/firmware | wc -l; \
         echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro; \
         echo 1 > /proc/sysrq-trigger 2>/dev/null && echo trig-writable || echo trig-ro",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, vec!["0", "0", "sys-ro", "trig-ro"], "{out}");
}

#[test]
fn sysctl_rlimits_oom_cwd_env_user() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &[]);
    spec["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    spec["process"]["oomScoreAdj"] = json!(500);
    spec["process"]["cwd"] = json!("/tmp");
    spec["process"]["env"] = json!(["PATH=/bin", "GREETING=hi there"]);
    spec["process"]["user"] =
        json!({"uid": 65534, "gid": 65534, "additionalGids": [10, 20], "umask": 63});
    let (code, out, err) = run_sh(
        &w,
        spec,
        "cat /proc/sys/net/ipv4/ip_forward; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; \
         pwd; echo $GREETING; id -u; id -g; id -G; umask",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "1",
            "256",
            "512",
            "500",
            "/tmp",
            "hi there",
            "65534",
            "65534",
            "65534 10 20",
            "0077"
        ]
    );
}

#[test]
fn scheduler_and_io_priority() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &[]);
    spec["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    spec["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let (code, out, err) = run_sh(&w, spec, "cut -d' ' -f19,41 /proc/self/stat; ionice -p $$");
    assert_eq!(code, 0, "{err}");
    // Field 19 is nice, field 41 the policy (3 = SCHED_BATCH).
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "stdout: {out}\nstderr: {err}");
    assert_eq!(lines[0], "5 3");
    assert_eq!(lines[1], "best-effort: prio 6");
}

#[test]
fn recursive_atime_options_apply() {
    // `ratime`-style options clear/set the whole atime field (mount_setattr wants it in attr_clr).
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["true"]);
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt", "type": "bind", "source": "/tmp", "options": ["rbind", "rnoatime"]
    }));
    let (code, out, err) = run_sh(&w, spec, "grep ' /mnt ' /proc/mounts");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("noatime"), "{out}");
}
