//! The three phases against the real kernel, in a throwaway mount namespace.
//!
//! The test harness is multi-threaded and must not change its own namespaces, so the test
//! re-runs its own binary (just this test, with an environment variable set) under
//! `unshare -m -n -i -u -p -f --propagation private`. That child builds the container's root
//! with `LinuxSyscall`, pivots into it, finalizes, checks the result from inside, and exits;
//! its mounts disappear with its namespace. Needs root (as every test here runs).

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

use oci_spec::runtime::Spec;
use serde_json::json;

use super::testutil::Bundle;
use super::{finalize, pivot, prepare, RootfsOptions};
use crate::syscall::LinuxSyscall;

const CHILD_ENV: &str = "BERTH_ROOTFS_KERNEL_CHILD";
const TEST_NAME: &str = "rootfs::kernel_tests::real_kernel_full_cycle";

#[test]
fn real_kernel_full_cycle() {
    if let Ok(bundle) = std::env::var(CHILD_ENV) {
        child(Path::new(&bundle));
        return;
    }
    let b = Bundle::new();
    let outside = tempfile::tempdir().expect("outside dir");
    let outside = std::fs::canonicalize(outside.path()).expect("canonical");
    // /etc in the image points at a host path: the bind below must still land in the rootfs.
    std::os::unix::fs::symlink(&outside, b.in_root("etc")).expect("symlink");
    std::fs::write(b.path.join("hosts"), b"10.0.0.1 kernel-test\n").expect("hosts");
    let config = json!({
        "ociVersion": "1.2.0",
        "root": {"path": "rootfs", "readonly": true},
        "process": {"cwd": "/work", "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"]},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["rbind", "ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "ipc"},
                           {"type": "uts"}, {"type": "pid"}],
            "sysctl": {"kernel.shmmax": "4242424", "net.ipv4.ip_forward": "1"},
            "maskedPaths": ["/proc/timer_list", "/sys/firmware", "/proc/does-not-exist"],
            "readonlyPaths": ["/proc/sys"],
        },
    });
    std::fs::write(b.path.join("config.json"), config.to_string()).expect("config");
    let ns = [
        "-m",
        "-n",
        "-i",
        "-u",
        "-p",
        "-f",
        "--propagation",
        "private",
    ];
    run_child(TEST_NAME, &b.path, "unshare", &ns);
    let leaked: Vec<_> = std::fs::read_dir(&outside).expect("read outside").collect();
    assert!(
        leaked.is_empty(),
        "mountpoint created outside the rootfs: {leaked:?}"
    );
}

/// Runs this test binary, only `test`, as `program wrapper_args... EXE --exact test` with
/// [`CHILD_ENV`] set to the bundle, and fails with its output if it fails.
fn run_child(test: &str, bundle: &Path, program: &str, wrapper_args: &[&str]) {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(program)
        .args(wrapper_args)
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, bundle)
        .output()
        .expect("spawn child");
    assert!(
        out.status.success(),
        "child failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In the child: the three phases for `bundle/config.json`.
fn build(bundle: &Path) {
    let spec = Spec::load(bundle.join("config.json")).expect("load spec");
    let rootfs = bundle.join("rootfs");
    let sys = LinuxSyscall;
    let opts = RootfsOptions {
        rootfs: &rootfs,
        bundle,
        new_cgroup_ns: false,
    };
    prepare(&sys, &spec, &opts).expect("prepare");
    pivot(&sys, &rootfs, false).expect("pivot");
    finalize(&sys, &spec).expect("finalize");
}

/// Whether the (top) mount at `mount_point` has per-mount option `opt`.
fn has(mount_point: &str, opt: &str) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let fields = mountinfo
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .rfind(|f| f.get(4) == Some(&mount_point))
        .unwrap_or_else(|| panic!("{mount_point} not mounted:\n{mountinfo}"));
    fields
        .get(5)
        .is_some_and(|o| o.split(',').any(|x| x == opt))
}

/// Runs in the child, in its own namespaces: build, pivot, finalize, then look around.
fn child(bundle: &Path) {
    build(bundle);
    assert!(has("/", "ro"), "root read-only");
    assert!(has("/proc/sys", "ro"), "readonly path");
    assert!(has("/sys", "ro") && has("/sys", "nosuid"), "sysfs flags");
    assert!(
        has("/dev", "ro") && has("/dev", "nosuid"),
        "/dev remounted read-only in finalize"
    );
    assert!(has("/run", "ro"), "tmpfs remounted read-only in finalize");
    assert!(has("/sys/fs/cgroup", "ro"), "cgroup tmpfs read-only");
    let root_err = std::fs::write("/x", b"").expect_err("root is read-only");
    assert_eq!(root_err.raw_os_error(), Some(libc::EROFS));

    // The bind through `etc -> <host dir>` landed inside the rootfs, read-only.
    let etc = std::fs::read_link("/etc").expect("etc symlink");
    assert_eq!(
        std::fs::read_to_string(etc.join("hosts")).expect("hosts"),
        "10.0.0.1 kernel-test\n"
    );
    assert!(
        has(etc.join("hosts").to_str().expect("utf8"), "ro"),
        "ro bind"
    );

    let null = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(null.file_type().is_char_device());
    assert_eq!(
        std::os::unix::fs::MetadataExt::rdev(&null),
        nix::sys::stat::makedev(1, 3)
    );
    assert_eq!(
        std::fs::read_link("/dev/ptmx").expect("ptmx"),
        Path::new("pts/ptmx")
    );
    assert_eq!(
        std::fs::read_link("/dev/fd").expect("fd"),
        Path::new("/proc/self/fd")
    );
    assert!(Path::new("/work").is_dir(), "cwd created");

    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax")
            .expect("shmmax")
            .trim(),
        "4242424"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .expect("fwd")
            .trim(),
        "1"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/timer_list").expect("masked"),
        "",
        "masked file"
    );
    assert_eq!(
        std::fs::read_dir("/sys/firmware")
            .expect("masked dir")
            .count(),
        0,
        "masked dir"
    );
    let sysctl_err = std::fs::write("/proc/sys/kernel/shmmax", b"1").expect_err("ro /proc/sys");
    assert_eq!(sysctl_err.raw_os_error(), Some(libc::EROFS));
}

const USERNS_TEST: &str = "rootfs::kernel_tests::real_kernel_user_namespace";

/// In a user namespace (`unshare -U -r`): device nodes must be bind mounts, and a read-only
/// bind of a source with locked nosuid/nodev (a tmpfs mounted outside the user namespace)
/// must keep those flags rather than fail with EPERM.
#[test]
fn real_kernel_user_namespace() {
    if let Ok(bundle) = std::env::var(CHILD_ENV) {
        userns_child(Path::new(&bundle));
        return;
    }
    let b = Bundle::new();
    let locked = b.path.join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    let config = json!({
        "ociVersion": "1.2.0",
        "root": {"path": "rootfs"},
        "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"]},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            // No gid=5: only our own ids are mapped.
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/data", "type": "bind", "source": "locked", "options": ["rbind", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": "user"}, {"type": "mount"}, {"type": "network"}, {"type": "pid"}],
            "maskedPaths": ["/proc/timer_list"],
        },
    });
    std::fs::write(b.path.join("config.json"), config.to_string()).expect("config");
    // An outer mount namespace mounts the nosuid,nodev tmpfs, then enters the user namespace:
    // inside it those flags are locked.
    let script = "mount -t tmpfs -o nosuid,nodev berth-locked \"$0\" && exec unshare -U -r -m -n -p -f --propagation private \"$@\"";
    let locked_arg = locked.to_str().expect("utf8");
    run_child(
        USERNS_TEST,
        &b.path,
        "unshare",
        &[
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            locked_arg,
        ],
    );
}

fn userns_child(bundle: &Path) {
    build(bundle);
    // Devices: bind mounts of the host's nodes (mknod is not allowed in a user namespace).
    for dev in ["/dev/null", "/dev/zero", "/dev/tty", "/dev/urandom"] {
        assert!(has(dev, "rw") || has(dev, "ro"), "{dev} is not a mount");
    }
    let null = std::fs::metadata("/dev/null").expect("/dev/null");
    assert_eq!(
        std::os::unix::fs::MetadataExt::rdev(&null),
        nix::sys::stat::makedev(1, 3)
    );
    std::fs::write("/dev/null", b"discarded").expect("write /dev/null");
    // The locked flags were kept on the read-only remount.
    assert!(
        has("/data", "ro") && has("/data", "nosuid") && has("/data", "nodev"),
        "locked flags"
    );
    let err = std::fs::write("/data/x", b"").expect_err("read-only bind");
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    assert!(has("/sys", "ro"), "sysfs in the container's own netns");
    assert!(
        has("/proc/timer_list", "rw"),
        "masked with the bind-mounted /dev/null"
    );
}
