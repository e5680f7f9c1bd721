//! Unit tests of prepare (spec mounts) against `RecordingSyscall`.
//!
//! The rootfs is a real temporary directory (path resolution, mountpoint creation and the
//! /proc/self/fd targets are real); only the privileged calls are recorded.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use serde_json::json;

use super::testutil::*;
use super::*;
use crate::syscall::recording::{Call, RecordingSyscall};

#[test]
fn typical_spec_mounts_in_order_with_exact_flags() {
    let b = Bundle::new();
    std::fs::create_dir_all(b.in_root("tmp")).expect("mkdir");
    std::fs::set_permissions(
        b.in_root("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .expect("chmod");
    let s = spec(json!({
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "ro"]},
        ],
        "linux": {"namespaces": [{"type": "mount"}, {"type": "network"}]},
    }));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let nosuid = MsFlags::MS_NOSUID;
    let nne = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let mut want = preamble(&b);
    want.extend([
        mnt(
            Some("proc"),
            b.in_root("proc"),
            Some("proc"),
            MsFlags::empty(),
            None,
        ),
        mnt(
            Some("tmpfs"),
            b.in_root("dev"),
            Some("tmpfs"),
            nosuid | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        ),
        mnt(
            Some("devpts"),
            b.in_root("dev/pts"),
            Some("devpts"),
            nosuid | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        ),
        mnt(
            Some("mqueue"),
            b.in_root("dev/mqueue"),
            Some("mqueue"),
            nne,
            None,
        ),
        mnt(
            Some("sysfs"),
            b.in_root("sys"),
            Some("sysfs"),
            nne | MsFlags::MS_RDONLY,
            None,
        ),
        // tmpfs: read-only is delayed to finalize; the existing directory's mode is kept.
        mnt(
            Some("tmpfs"),
            b.in_root("tmp"),
            Some("tmpfs"),
            nosuid,
            Some("mode=1777"),
        ),
    ]);
    assert_eq!(sys.mounts(), want);
    assert!(
        b.in_root("dev/pts").is_dir() && b.in_root("proc").is_dir() && b.in_root("sys").is_dir()
    );
}

#[test]
fn ro_bind_is_a_bind_then_a_bind_remount() {
    let b = Bundle::new();
    std::fs::write(b.path.join("hosts"), b"127.0.0.1 localhost\n").expect("write");
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["rbind", "ro", "nosuid"]},
    ]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let src = b.path.join("hosts");
    let mounts = sys.mounts();
    assert_eq!(
        mounts[4..],
        [
            mnt(
                src.to_str(),
                b.in_root("etc/hosts"),
                None,
                BIND | MsFlags::MS_REC,
                None
            ),
            flags_only(
                b.in_root("etc/hosts"),
                REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
            ),
        ]
    );
    // A file source gets an empty file as mountpoint, its parents directories.
    assert!(b.in_root("etc/hosts").is_file());
}

#[test]
fn plain_bind_without_flags_is_a_single_call() {
    let b = Bundle::new();
    std::fs::create_dir(b.path.join("data")).expect("mkdir");
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/data", "source": "data", "options": ["bind"]},
    ]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let src = b.path.join("data");
    assert_eq!(
        sys.mounts()[4..],
        [mnt(src.to_str(), b.in_root("data"), None, BIND, None)]
    );
}

#[test]
fn eperm_remount_retries_with_the_locked_flags_of_the_source() {
    let b = Bundle::new();
    std::fs::create_dir(b.path.join("data")).expect("mkdir");
    let src = b.path.join("data");
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "ro"]},
    ]}));
    let sys = RecordingSyscall::default();
    let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_RELATIME;
    sys.flags_of.borrow_mut().insert(src.clone(), locked);
    let first = REMOUNT | MsFlags::MS_RDONLY;
    sys.fail_when(
        move |c| matches!(c, Call::Mount { flags, .. } if *flags == first),
        Errno::EPERM,
    );
    run_prepare(&b, &s, &sys).expect("prepare");
    assert_eq!(
        sys.mounts()[5..],
        [
            flags_only(b.in_root("data"), first),
            flags_only(b.in_root("data"), first | locked)
        ]
    );
}

#[test]
fn clearing_a_locked_flag_is_an_error_not_a_silent_nosuid() {
    let b = Bundle::new();
    std::fs::create_dir(b.path.join("data")).expect("mkdir");
    let src = b.path.join("data");
    let s = spec(json!({"mounts": [
        {"destination": "/data", "type": "bind", "source": src, "options": ["bind", "suid", "ro"]},
    ]}));
    let sys = RecordingSyscall::default();
    sys.flags_of
        .borrow_mut()
        .insert(src.clone(), MsFlags::MS_NOSUID);
    sys.fail_when(
        |c| matches!(c, Call::Mount { flags, .. } if flags.contains(MsFlags::MS_REMOUNT)),
        Errno::EPERM,
    );
    let err = run_prepare(&b, &s, &sys).expect_err("locked");
    assert_eq!(
        err.to_string(),
        format!(
            "mount {} to /data: cannot clear locked flags nosuid: operation not permitted",
            src.display()
        )
    );
}

#[test]
fn propagation_options_follow_the_mount() {
    let b = Bundle::new();
    std::fs::create_dir(b.path.join("data")).expect("mkdir");
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "rshared", "unbindable"]},
    ]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    assert_eq!(
        sys.mounts()[5..],
        [
            flags_only(b.in_root("data"), MsFlags::MS_SHARED | MsFlags::MS_REC),
            flags_only(b.in_root("data"), MsFlags::MS_UNBINDABLE),
        ]
    );
}

#[test]
fn rootfs_propagation_private_and_shared() {
    let b = Bundle::new();
    let s = spec(json!({"mounts": [no_dev_mount(&b)], "linux": {"rootfsPropagation": "private"}}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    assert_eq!(
        sys.mounts()[..2],
        [
            flags_only("/", MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            flags_only(&b.rootfs, MsFlags::MS_PRIVATE),
        ]
    );

    // Shared: `/` is made rshared, the rootfs parent private (pivot_root needs it), and
    // finalize re-applies rshared on the new root.
    let s = spec(json!({"linux": {"rootfsPropagation": "shared"}}));
    let sys = RecordingSyscall::default();
    finalize::finalize_in(&sys, &s, &b.rootfs).expect("finalize");
    assert_eq!(
        sys.mounts(),
        [flags_only(&b.rootfs, MsFlags::MS_SHARED | MsFlags::MS_REC)]
    );
}

#[test]
fn parent_propagation_walks_up_to_the_mount_point() {
    let sys = RecordingSyscall::default();
    sys.fail_when(
        |c| matches!(c, Call::Mount { target, .. } if target.starts_with("/a/b")),
        Errno::EINVAL,
    );
    parent_mount_private(&sys, Path::new("/a/b/c"), REC_SLAVE).expect("walk");
    assert_eq!(
        sys.mounts(),
        [
            flags_only("/a/b/c", MsFlags::MS_SLAVE),
            flags_only("/a/b", MsFlags::MS_SLAVE),
            flags_only("/a", MsFlags::MS_SLAVE),
        ]
    );
}

#[test]
fn invalid_specs_fail_before_any_call() {
    let b = Bundle::new();
    let cases = [
        (
            json!({"linux": {"rootfsPropagation": "sharedd"}}),
            "rootfs propagation \"sharedd\" is not valid".to_owned(),
        ),
        (
            json!({"mounts": [{"destination": "data", "type": "tmpfs", "source": "tmpfs"}]}),
            "mount tmpfs to data: destination is not an absolute path".to_owned(),
        ),
        (
            json!({"mounts": [{"destination": "/data", "type": "bind", "source": "/nope/x", "options": ["rbind"]}]}),
            "mount /nope/x to /data: no such file or directory".to_owned(),
        ),
        (
            json!({"mounts": [{"destination": "/data", "type": "none", "source": "/", "options": ["bind", "idmap"]}]}),
            "mount / to /data: mount option \"idmap\" (id-mapped mounts) is not supported"
                .to_owned(),
        ),
        (
            json!({"linux": {"devices": [{"path": "/etc/passwd", "type": "c", "major": 1, "minor": 3}]}}),
            "device /etc/passwd: path must be inside /dev".to_owned(),
        ),
        (
            json!({"linux": {"sysctl": {"net.ipv4.ip_forward": "1"}}}),
            "sysctl \"net.ipv4.ip_forward\" is not allowed in the host's network namespace"
                .to_owned(),
        ),
    ];
    for (json, want) in cases {
        let sys = RecordingSyscall::default();
        let err = run_prepare(&b, &spec(json), &sys).expect_err(&want);
        assert_eq!(err.to_string(), want);
        assert!(sys.calls.borrow().is_empty(), "calls made for {want}");
    }
}

#[test]
fn sysfs_in_a_user_namespace_without_network_namespace_binds_the_host_sys() {
    let b = Bundle::new();
    let s = spec(json!({
        "mounts": [
            no_dev_mount(&b),
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {"namespaces": [{"type": "user"}, {"type": "mount"}]},
    }));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let nne = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    assert_eq!(
        sys.mounts()[4..],
        [
            mnt(
                Some("/sys"),
                b.in_root("sys"),
                None,
                BIND | MsFlags::MS_REC,
                None
            ),
            flags_only(b.in_root("sys"), REMOUNT | nne | MsFlags::MS_RDONLY),
        ]
    );
}

#[test]
fn sysfs_without_network_namespace_is_fresh_and_falls_back_to_a_bind() {
    let b = Bundle::new();
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
    ]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let ro = MsFlags::MS_RDONLY;
    assert_eq!(
        sys.mounts()[4..],
        [mnt(
            Some("sysfs"),
            b.in_root("sys"),
            Some("sysfs"),
            ro,
            None
        )]
    );

    // Refused (we are in a user namespace the spec does not mention): bind instead.
    let sys = RecordingSyscall::default();
    sys.fail_when(
        |c| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "sysfs"),
        Errno::EPERM,
    );
    run_prepare(&b, &s, &sys).expect("prepare");
    assert_eq!(
        sys.mounts()[5..],
        [
            mnt(
                Some("/sys"),
                b.in_root("sys"),
                None,
                BIND | MsFlags::MS_REC,
                None
            ),
            flags_only(b.in_root("sys"), REMOUNT | ro),
        ]
    );
}

#[test]
fn symlinked_destinations_stay_inside_the_rootfs() {
    let b = Bundle::new();
    let outside = tempfile::tempdir().expect("outside");
    let outside = std::fs::canonicalize(outside.path()).expect("canonical");
    std::os::unix::fs::symlink(&outside, b.in_root("etc")).expect("symlink");
    std::fs::create_dir_all(b.in_root("a/b")).expect("mkdir");
    std::os::unix::fs::symlink("../../../../../../..", b.in_root("a/b/up")).expect("symlink");
    std::fs::write(b.path.join("hosts"), b"").expect("write");
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["bind"]},
        {"destination": "/a/b/up/run", "type": "tmpfs", "source": "tmpfs"},
    ]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let src = b.path.join("hosts");
    let etc_inside = b.rootfs.join(outside.strip_prefix("/").expect("abs"));
    assert_eq!(
        sys.mounts()[4..],
        [
            mnt(src.to_str(), etc_inside.join("hosts"), None, BIND, None),
            mnt(
                Some("tmpfs"),
                b.in_root("run"),
                Some("tmpfs"),
                MsFlags::empty(),
                None
            ),
        ]
    );
    assert!(
        !outside.join("hosts").exists(),
        "mountpoint created outside the rootfs"
    );
}

#[test]
fn mounts_inside_proc_are_refused_except_lxcfs_files() {
    let b = Bundle::new();
    std::fs::write(b.path.join("f"), b"").expect("write");
    let s = spec(json!({"mounts": [
        {"destination": "/proc/cpuinfo", "type": "bind", "source": "f", "options": ["bind"]},
        {"destination": "/proc/sys/kernel/core_pattern", "type": "bind", "source": "f", "options": ["bind"]},
    ]}));
    let sys = RecordingSyscall::default();
    let err = run_prepare(&b, &s, &sys).expect_err("inside proc");
    assert!(
        err.to_string()
            .ends_with("/proc/sys/kernel/core_pattern is inside /proc"),
        "{err}"
    );
    assert_eq!(sys.mounts().len(), 4, "cpuinfo mounted, core_pattern not");

    let s = spec(json!({"mounts": [{"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}]}));
    let err = run_prepare(&b, &s, &RecordingSyscall::default()).expect_err("tmpfs on proc");
    assert_eq!(
        err.to_string(),
        "mount tmpfs to /proc: only a procfs can be mounted on /proc"
    );
}

#[test]
fn proc_on_a_symlink_is_refused() {
    let b = Bundle::new();
    std::os::unix::fs::symlink("/elsewhere", b.in_root("proc")).expect("symlink");
    let s = spec(json!({"mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}));
    let err = run_prepare(&b, &s, &RecordingSyscall::default()).expect_err("symlink");
    assert_eq!(
        err.to_string(),
        "mount proc to /proc: filesystem proc must be mounted on ordinary directory"
    );
}

#[test]
fn rro_sets_recursive_read_only_after_the_remount() {
    let b = Bundle::new();
    std::fs::create_dir(b.path.join("data")).expect("mkdir");
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "rro"]},
    ]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let src = b.path.join("data");
    let calls = sys.calls.borrow();
    assert_eq!(
        calls[4..],
        [
            mnt(
                src.to_str(),
                b.in_root("data"),
                None,
                BIND | MsFlags::MS_REC,
                None
            ),
            flags_only(b.in_root("data"), REMOUNT | MsFlags::MS_RDONLY),
            Call::MountSetattr(b.in_root("data"), true, 0x1, 0),
        ]
    );
}

#[test]
fn cgroup2_type_is_passed_through() {
    let b = Bundle::new();
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup", "options": ["nosuid", "ro"]},
    ]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_RDONLY;
    assert_eq!(
        sys.mounts()[4..],
        [mnt(
            Some("cgroup"),
            b.in_root("sys/fs/cgroup"),
            Some("cgroup2"),
            flags,
            None
        )]
    );
}
