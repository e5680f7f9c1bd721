//! Tests of Docker-profile resolution and of the compiled default profile,
//! run in the test BPF interpreter.

use super::*;
use crate::compile::compile;
use crate::interp::{run, Call};
use crate::syscalls::{Abi, AUDIT_ARCH_AARCH64};
use crate::Filter;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | 1;
const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | 38;
const NEW_KERNEL: Option<(u32, u32)> = Some((6, 18));

fn caps(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

fn default_for(list: &[&str], kernel: Option<(u32, u32)>) -> Filter {
    let spec = resolve(DEFAULT_PROFILE, &caps(list), Arch::ScmpArchX86_64, kernel)
        .expect("default profile resolves");
    compile(&spec).expect("default profile compiles")
}

fn check(f: &Filter, abi: Abi, name: &str, args: &[u64]) -> u32 {
    let nr = abi
        .syscall_nr(name)
        .unwrap_or_else(|| panic!("{name} unknown on {abi:?}"));
    run(f.instructions(), &Call::new(abi.audit_arch(), nr, args))
}

#[test]
fn versions() {
    assert_eq!(parse_version("6.18.0-1-amd64"), Some((6, 18)));
    assert_eq!(parse_version("4.8"), Some((4, 8)));
    assert_eq!(parse_version("5"), Some((5, 0)));
    assert_eq!(parse_version("x.y"), None);
    assert!(running_kernel().is_some());
}

#[test]
fn arch_map_and_includes() {
    let spec = resolve(DEFAULT_PROFILE, &[], Arch::ScmpArchX86_64, NEW_KERNEL).expect("resolves");
    assert_eq!(
        spec.architectures().as_deref(),
        Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
    );
    let names: Vec<&str> = spec
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names().iter().map(String::as_str))
        .collect();
    assert!(names.contains(&"arch_prctl"));
    assert!(!names.contains(&"set_tls"));
    assert!(!names.contains(&"unshare"));

    let arm = resolve(DEFAULT_PROFILE, &[], Arch::ScmpArchAarch64, NEW_KERNEL).expect("resolves");
    assert_eq!(
        arm.architectures().as_deref(),
        Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
    );
    let names: Vec<&str> = arm
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names().iter().map(String::as_str))
        .collect();
    assert!(names.contains(&"set_tls") && !names.contains(&"arch_prctl"));

    assert!(matches!(
        resolve(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],
                "archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#,
            &[],
            Arch::ScmpArchX86_64,
            NEW_KERNEL
        ),
        Err(ProfileError::ArchitecturesAndArchMap)
    ));
    assert!(matches!(
        resolve(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
                "includes":{"minKernel":"four"}}]}"#,
            &[],
            Arch::ScmpArchX86_64,
            NEW_KERNEL
        ),
        Err(ProfileError::MinKernel(_))
    ));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_without_caps() {
    let f = default_for(&[], NEW_KERNEL);
    assert!(f.len() < 4096);
    eprintln!("docker default profile: {} BPF instructions", f.len());
    let x = Abi::X86_64;
    for name in [
        "read",
        "write",
        "getpid",
        "openat",
        "mmap",
        "futex",
        "execve",
        "exit_group",
    ] {
        assert_eq!(check(&f, x, name, &[]), ALLOW, "{name}");
    }
    for name in [
        "unshare",
        "mount",
        "umount2",
        "setns",
        "keyctl",
        "add_key",
        "request_key",
        "reboot",
        "kexec_load",
        "kexec_file_load",
        "bpf",
        "perf_event_open",
        "chroot",
        "init_module",
        "acct",
        "iopl",
        "settimeofday",
        "vhangup",
        "syslog",
        "pivot_root",
        "open_by_handle_at",
        "mbind",
        "userfaultfd",
        "kcmp",
    ] {
        assert_eq!(check(&f, x, name, &[]), EPERM, "{name}");
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_ptrace_depends_on_the_kernel() {
    let x = Abi::X86_64;
    // ptrace: allowed on kernels >= 4.8 only.
    assert_eq!(
        check(&default_for(&[], NEW_KERNEL), x, "ptrace", &[]),
        ALLOW
    );
    let old = default_for(&[], Some((4, 4)));
    assert_eq!(check(&old, x, "ptrace", &[]), EPERM);
    assert_eq!(check(&old, x, "process_vm_readv", &[]), EPERM);
    let unknown = default_for(&[], None);
    assert_eq!(check(&unknown, x, "ptrace", &[]), EPERM);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_clone_refuses_namespaces() {
    let f = default_for(&[], NEW_KERNEL);
    let x = Abi::X86_64;
    // clone: plain fork/thread flags pass, any namespace flag is refused.
    let thread_flags = 0x003d_0f00;
    assert_eq!(check(&f, x, "clone", &[libc::SIGCHLD as u64]), ALLOW);
    assert_eq!(check(&f, x, "clone", &[thread_flags]), ALLOW);
    for ns in [
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWNS,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWCGROUP,
    ] {
        let flags = (ns as u32 as u64) | libc::SIGCHLD as u64;
        assert_eq!(check(&f, x, "clone", &[flags]), EPERM, "{ns:#x}");
    }
    assert_eq!(check(&f, x, "clone3", &[]), ENOSYS);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_filters_socket_and_personality_arguments() {
    let f = default_for(&[], NEW_KERNEL);
    let x = Abi::X86_64;
    // socket: AF_ALG (38) and AF_VSOCK (40) refused, AF_NFC (39) and others allowed.
    for (family, want) in [
        (1, ALLOW),
        (2, ALLOW),
        (10, ALLOW),
        (16, ALLOW),
        (37, ALLOW),
        (38, EPERM),
        (39, ALLOW),
        (40, EPERM),
        (41, ALLOW),
        (0x1_0000_0002, ALLOW),
    ] {
        assert_eq!(check(&f, x, "socket", &[family, 1, 0]), want, "AF {family}");
    }

    // personality: only the values Docker lists.
    for (persona, want) in [
        (0, ALLOW),
        (8, ALLOW),
        (0x2_0000, ALLOW),
        (0x2_0008, ALLOW),
        (0xffff_ffff, ALLOW),
        (0x40_0000, EPERM),
        (0x0004_0000, EPERM),
        (0xffff_ffff_ffff_ffff, EPERM),
    ] {
        assert_eq!(
            check(&f, x, "personality", &[persona]),
            want,
            "{persona:#x}"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_covers_32_bit_and_x32() {
    let f = default_for(&[], NEW_KERNEL);
    // 32-bit and x32 ABIs are covered by the same profile.
    assert_eq!(check(&f, Abi::X86, "getpid", &[]), ALLOW);
    assert_eq!(check(&f, Abi::X86, "socketcall", &[]), ALLOW);
    assert_eq!(check(&f, Abi::X86, "unshare", &[]), EPERM);
    assert_eq!(check(&f, Abi::X86, "personality", &[0x1_0000_0008]), ALLOW);
    assert_eq!(check(&f, Abi::X32, "getpid", &[]), ALLOW);
    assert_eq!(check(&f, Abi::X32, "mount", &[]), EPERM);
    let foreign = run(f.instructions(), &Call::new(AUDIT_ARCH_AARCH64, 172, &[]));
    assert_eq!(foreign, crate::BAD_ARCH_ACTION);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_with_caps() {
    let x = Abi::X86_64;
    let admin = default_for(&["CAP_SYS_ADMIN"], NEW_KERNEL);
    for name in [
        "unshare",
        "mount",
        "umount2",
        "setns",
        "sethostname",
        "bpf",
        "perf_event_open",
    ] {
        assert_eq!(check(&admin, x, name, &[]), ALLOW, "{name}");
    }
    let newuser = libc::CLONE_NEWUSER as u32 as u64;
    assert_eq!(check(&admin, x, "clone", &[newuser]), ALLOW);
    assert_eq!(check(&admin, x, "clone3", &[]), ALLOW);
    // CAP_SYS_ADMIN does not open the other groups.
    for name in ["reboot", "keyctl", "kexec_load", "init_module", "chroot"] {
        assert_eq!(check(&admin, x, name, &[]), EPERM, "{name}");
    }

    let many = default_for(
        &[
            "CAP_SYS_BOOT",
            "CAP_SYS_CHROOT",
            "CAP_SYS_MODULE",
            "CAP_SYS_PACCT",
            "CAP_SYS_PTRACE",
            "CAP_SYS_RAWIO",
            "CAP_SYS_TIME",
            "CAP_SYS_TTY_CONFIG",
            "CAP_SYS_NICE",
            "CAP_SYSLOG",
            "CAP_BPF",
            "CAP_PERFMON",
            "CAP_DAC_READ_SEARCH",
        ],
        Some((4, 4)),
    );
    for name in [
        "reboot",
        "chroot",
        "init_module",
        "finit_module",
        "delete_module",
        "acct",
        "ptrace",
        "kcmp",
        "pidfd_getfd",
        "iopl",
        "ioperm",
        "settimeofday",
        "clock_settime",
        "vhangup",
        "mbind",
        "set_mempolicy",
        "syslog",
        "bpf",
        "perf_event_open",
        "open_by_handle_at",
    ] {
        assert_eq!(check(&many, x, name, &[]), ALLOW, "{name}");
    }
    for name in ["kexec_load", "unshare", "mount", "keyctl"] {
        assert_eq!(check(&many, x, name, &[]), EPERM, "{name}");
    }
    assert_eq!(check(&many, x, "clone", &[newuser]), EPERM);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn aarch64_profile_compiles_for_arm_abis() {
    let spec = resolve(DEFAULT_PROFILE, &[], Arch::ScmpArchAarch64, NEW_KERNEL).expect("resolves");
    let f = compile(&spec).expect("compiles");
    assert_eq!(check(&f, Abi::Aarch64, "getpid", &[]), ALLOW);
    assert_eq!(check(&f, Abi::Aarch64, "unshare", &[]), EPERM);
    assert_eq!(check(&f, Abi::Arm, "set_tls", &[]), ALLOW);
    assert_eq!(
        check(&f, Abi::Arm, "clone", &[libc::CLONE_NEWUSER as u32 as u64]),
        EPERM
    );
}

/// Names allowed to every container, without arguments or conditions.
fn base_allow_list(profile: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for rule in profile["syscalls"].as_array().into_iter().flatten() {
        let empty = |k: &str| match &rule[k] {
            serde_json::Value::Null => true,
            serde_json::Value::Array(a) => a.is_empty(),
            serde_json::Value::Object(o) => o
                .values()
                .all(|v| v.is_null() || v == &serde_json::json!([])),
            _ => false,
        };
        if rule["action"] == "SCMP_ACT_ALLOW"
            && empty("args")
            && empty("includes")
            && empty("excludes")
        {
            for n in rule["names"].as_array().into_iter().flatten() {
                if let Some(n) = n.as_str() {
                    out.insert(n.to_string());
                }
            }
        }
    }
    out
}

/// Compares the base allow list with the containers-common (podman) profile
/// shipped by Debian's golang-github-containers-common, when installed. That
/// profile is older and more permissive than Docker's; the differences are
/// pinned here so a change on either side is noticed.
#[test]
fn compare_with_containers_common() {
    let Ok(theirs) = std::fs::read_to_string("/usr/share/containers/seccomp.json") else {
        eprintln!("skipped: /usr/share/containers/seccomp.json not installed");
        return;
    };
    let theirs: serde_json::Value = serde_json::from_str(&theirs).expect("their profile parses");
    let ours: serde_json::Value = serde_json::from_str(DEFAULT_PROFILE).expect("ours parses");
    let (ours, theirs) = (base_allow_list(&ours), base_allow_list(&theirs));
    assert!(ours.len() > 350 && theirs.len() > 350);
    let only_ours: Vec<&String> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(&ours).collect();
    eprintln!("only in berth's default: {only_ours:?}");
    eprintln!("only in containers-common: {only_theirs:?}");
    let newer_syscalls = [
        "cachestat",
        "fchmodat2",
        "futex_requeue",
        "futex_wait",
        "futex_waitv",
        "futex_wake",
        "getxattrat",
        "io_pgetevents",
        "io_pgetevents_time64",
        "listmount",
        "listxattrat",
        "map_shadow_stack",
        "mseal",
        "removexattrat",
        "riscv_hwprobe",
        "setxattrat",
        "statmount",
        "uretprobe",
        "vmsplice",
    ];
    let podman_more_permissive = [
        "clone",
        "clone3",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "get_mempolicy",
        "keyctl",
        "mbind",
        "mount",
        "mount_setattr",
        "move_mount",
        "open_tree",
        "pidfd_getfd",
        "pivot_root",
        "process_vm_readv",
        "process_vm_writev",
        "ptrace",
        "readdir",
        "reboot",
        "set_mempolicy",
        "setns",
        "sigaction",
        "signal",
        "sigpending",
        "sigsuspend",
        "syscall",
        "syslog",
        "timerfd",
        "umount",
        "umount2",
        "unshare",
    ];
    assert_eq!(only_ours, newer_syscalls.iter().collect::<Vec<_>>());
    assert_eq!(
        only_theirs,
        podman_more_permissive.iter().collect::<Vec<_>>()
    );
}

#[test]
fn resolved_profile_round_trips_through_config_json() {
    let spec = docker_default(&caps(&["CAP_SYS_ADMIN"]), Arch::ScmpArchNative).expect("resolves");
    let json = serde_json::to_string(&spec).expect("serializes");
    let back: LinuxSeccomp = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, spec);
    let (a, b) = (
        compile(&spec).expect("compiles"),
        compile(&back).expect("compiles"),
    );
    let code = |f: &Filter| {
        f.instructions()
            .iter()
            .map(|i| (i.code, i.jt, i.jf, i.k))
            .collect::<Vec<_>>()
    };
    assert_eq!(code(&a), code(&b));
}
