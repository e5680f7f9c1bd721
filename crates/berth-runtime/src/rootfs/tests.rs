//! Unit tests of prepare, finalize and mount_console against `RecordingSyscall`.
//!
//! The rootfs is a real temporary directory (path resolution, mountpoint creation and the
//! /proc/self/fd targets are real); only the privileged calls are recorded.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use serde_json::json;

use super::testutil::{flags_only, mnt, spec, Bundle};
use super::*;
use crate::syscall::recording::{Call, RecordingSyscall};

const REC_SLAVE: MsFlags = MsFlags::MS_SLAVE.union(MsFlags::MS_REC);
const BIND: MsFlags = MsFlags::MS_BIND;
const REMOUNT: MsFlags = MsFlags::MS_BIND.union(MsFlags::MS_REMOUNT);

fn run_prepare(b: &Bundle, s: &Spec, sys: &RecordingSyscall) -> Result<(), RootfsError> {
    let opts = RootfsOptions {
        rootfs: &b.rootfs,
        bundle: &b.path,
        new_cgroup_ns: false,
    };
    prepare(sys, s, &opts)
}

/// The three calls every prepare starts with.
fn preamble(b: &Bundle) -> Vec<Call> {
    let root = b.rootfs.to_str().expect("utf8");
    vec![
        flags_only("/", REC_SLAVE),
        flags_only(&b.rootfs, MsFlags::MS_SLAVE),
        mnt(
            Some(root),
            &b.rootfs,
            Some("bind"),
            BIND | MsFlags::MS_REC,
            None,
        ),
    ]
}

/// A spec mounting /dev as a bind, so that no device setup is recorded.
fn no_dev_mount(b: &Bundle) -> serde_json::Value {
    std::fs::create_dir_all(b.path.join("devdir")).expect("mkdir");
    json!({"destination": "/dev", "type": "bind", "source": "devdir", "options": ["rbind"]})
}

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
fn sysfs_without_network_namespace_binds_the_host_sys() {
    let b = Bundle::new();
    let s = spec(json!({"mounts": [
        no_dev_mount(&b),
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]}));
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
        "mount proc to /proc: filesystem proc must be mounted on an ordinary directory"
    );
}

fn kcore_links() -> usize {
    usize::from(Path::new("/proc/kcore").exists())
}

#[test]
fn devices_are_mknoded_with_exact_mode_and_owner() {
    let b = Bundle::new();
    let s = spec(json!({
        "process": {"terminal": true, "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "mounts": [{"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}],
        "linux": {"devices": [
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 384, "uid": 1000, "gid": 1001},
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 432},
            {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2},
        ]},
    }));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let calls = sys.calls.borrow();
    let mknods: Vec<_> = calls
        .iter()
        .filter(|c| matches!(c, Call::Mknod(..)))
        .cloned()
        .collect();
    let dev = |n: &str| b.in_root(&format!("dev/{n}"));
    let chr = SFlag::S_IFCHR;
    let m = |bits| Mode::from_bits_truncate(bits);
    assert_eq!(
        mknods,
        vec![
            Call::Mknod(dev("zero"), chr, m(0o666), nix::sys::stat::makedev(1, 5)),
            Call::Mknod(dev("full"), chr, m(0o666), nix::sys::stat::makedev(1, 7)),
            Call::Mknod(dev("random"), chr, m(0o666), nix::sys::stat::makedev(1, 8)),
            Call::Mknod(dev("urandom"), chr, m(0o666), nix::sys::stat::makedev(1, 9)),
            Call::Mknod(dev("tty"), chr, m(0o666), nix::sys::stat::makedev(5, 0)),
            Call::Mknod(dev("fuse"), chr, m(0o600), nix::sys::stat::makedev(10, 229)),
            // The spec's /dev/null replaces the default one; /dev/ptmx is never a node.
            Call::Mknod(dev("null"), chr, m(0o660), nix::sys::stat::makedev(1, 3)),
        ]
    );
    let fuse_at = calls
        .iter()
        .position(|c| matches!(c, Call::Mknod(p, ..) if *p == dev("fuse")))
        .expect("fuse");
    assert_eq!(
        calls[fuse_at + 1..fuse_at + 3],
        [
            Call::Chmod(dev("fuse"), m(0o600)),
            Call::Lchown(dev("fuse"), 1000, 1001)
        ]
    );
    let links: Vec<_> = calls
        .iter()
        .filter(|c| matches!(c, Call::Symlink(..)))
        .cloned()
        .collect();
    assert_eq!(links.len(), 5 + kcore_links());
    assert_eq!(links[0], Call::Symlink("pts/ptmx".into(), dev("ptmx")));
    assert!(links.contains(&Call::Symlink("/proc/self/fd".into(), dev("fd"))));
    assert!(links.contains(&Call::Symlink("/proc/self/fd/2".into(), dev("stderr"))));
    assert!(
        dev("console").is_file(),
        "terminal: /dev/console placeholder"
    );
}

#[test]
fn devices_are_bind_mounted_in_a_user_namespace_or_when_mknod_is_refused() {
    let b = Bundle::new();
    let s = spec(json!({"linux": {"namespaces": [{"type": "user"}, {"type": "mount"}]}}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    let mounts = sys.mounts();
    assert_eq!(mounts.len(), 3 + 6);
    assert_eq!(
        mounts[3],
        mnt(Some("/dev/null"), b.in_root("dev/null"), None, BIND, None)
    );
    assert!(!sys
        .calls
        .borrow()
        .iter()
        .any(|c| matches!(c, Call::Mknod(..))));
    let meta = std::fs::metadata(b.in_root("dev/tty")).expect("placeholder");
    assert!(meta.is_file());
    assert!(
        !b.in_root("dev/console").exists(),
        "no terminal, no console"
    );

    let b = Bundle::new();
    let sys = RecordingSyscall::default();
    sys.fail_when(
        |c| matches!(c, Call::Mknod(p, ..) if p.ends_with("dev/zero")),
        Errno::EPERM,
    );
    run_prepare(&b, &spec(json!({})), &sys).expect("prepare");
    assert_eq!(
        sys.mounts()[3..],
        [mnt(
            Some("/dev/zero"),
            b.in_root("dev/zero"),
            None,
            BIND,
            None
        )]
    );
}

#[test]
fn a_bind_mounted_dev_gets_no_devices() {
    let b = Bundle::new();
    let s = spec(json!({"mounts": [no_dev_mount(&b)]}));
    let sys = RecordingSyscall::default();
    run_prepare(&b, &s, &sys).expect("prepare");
    assert_eq!(sys.calls.borrow().len(), 4);
}

#[test]
fn finalize_masks_readonly_paths_sysctls_and_readonly_root() {
    let b = Bundle::new();
    for d in ["proc/acpi", "proc/sys", "dev"] {
        std::fs::create_dir_all(b.in_root(d)).expect("mkdir");
    }
    std::fs::write(b.in_root("proc/kcore"), b"").expect("write");
    std::fs::write(b.in_root("dev/null"), b"").expect("write");
    let s = spec(json!({
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]},
        ],
        "linux": {
            "namespaces": [{"type": "network"}, {"type": "ipc"}],
            "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536"},
            "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/missing", "/proc/kcore/"],
            "readonlyPaths": ["/proc/sys", "/proc/nothere"],
        },
    }));
    let sys = RecordingSyscall::default();
    sys.flags_of.borrow_mut().insert(
        b.in_root("proc/sys"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
    );
    finalize::finalize_in(&sys, &s, &b.rootfs).expect("finalize");
    let ro = MsFlags::MS_RDONLY;
    let proc_sys = b.in_root("proc/sys");
    assert_eq!(
        *sys.calls.borrow(),
        vec![
            flags_only(b.in_root("dev"), REMOUNT | ro | MsFlags::MS_NOSUID),
            flags_only(&b.rootfs, REMOUNT | ro),
            Call::WriteFile(b.in_root("proc/sys/kernel/shmmax"), "65536".into()),
            Call::WriteFile(b.in_root("proc/sys/net/ipv4/ip_forward"), "1".into()),
            mnt(
                proc_sys.to_str(),
                &proc_sys,
                None,
                BIND | MsFlags::MS_REC,
                None
            ),
            flags_only(
                &proc_sys,
                REMOUNT | ro | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC
            ),
            mnt(
                b.in_root("dev/null").to_str(),
                b.in_root("proc/kcore"),
                None,
                BIND,
                None
            ),
            mnt(
                Some("tmpfs"),
                b.in_root("proc/acpi"),
                Some("tmpfs"),
                ro,
                None
            ),
        ]
    );
}

#[test]
fn finalize_rejects_bad_sysctl_names() {
    let b = Bundle::new();
    let s = spec(
        json!({"linux": {"namespaces": [{"type": "network"}], "sysctl": {"net/../../self/mem": "x"}}}),
    );
    let err =
        finalize::finalize_in(&RecordingSyscall::default(), &s, &b.rootfs).expect_err("bad name");
    assert_eq!(
        err.to_string(),
        "sysctl \"net/../../self/mem\" is not a valid sysctl name"
    );
}

#[test]
fn console_is_bind_mounted_from_the_pty() {
    let b = Bundle::new();
    let sys = RecordingSyscall::default();
    mount_console_in(&sys, Path::new("/dev/pts/3"), &b.rootfs).expect("console");
    assert_eq!(
        sys.mounts(),
        [mnt(
            Some("/dev/pts/3"),
            b.in_root("dev/console"),
            None,
            BIND,
            None
        )]
    );
    assert!(b.in_root("dev/console").is_file());
}
