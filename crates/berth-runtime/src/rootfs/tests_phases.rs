//! Unit tests of /dev setup, finalize and mount_console against `RecordingSyscall`.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use serde_json::json;

use super::testutil::*;
use super::*;
use crate::syscall::recording::{Call, RecordingSyscall};

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
    make_dev_null(&b);
    let s = spec(json!({
        "process": {"cwd": "/home/app", "user": {"uid": 0, "gid": 0}},
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

/// A real 1:3 node in the temporary rootfs (these tests run as root).
fn make_dev_null(b: &Bundle) {
    std::fs::create_dir_all(b.in_root("dev")).expect("mkdir");
    nix::sys::stat::mknod(
        &b.in_root("dev/null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .expect("mknod /dev/null (needs root)");
}

#[test]
fn masking_refuses_a_fake_dev_null() {
    let b = Bundle::new();
    std::fs::create_dir_all(b.in_root("dev")).expect("mkdir");
    std::fs::write(b.in_root("proc_secret"), b"").expect("write");
    std::os::unix::fs::symlink("/proc_secret", b.in_root("dev/null")).expect("symlink");
    let s = spec(json!({"linux": {"maskedPaths": ["/proc/kcore"]}}));
    let sys = RecordingSyscall::default();
    let err = finalize::finalize_in(&sys, &s, &b.rootfs).expect_err("fake /dev/null");
    assert_eq!(
        err.to_string(),
        "cannot mask paths: the container's /dev/null is not the null device"
    );
    assert!(sys.calls.borrow().is_empty());
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
