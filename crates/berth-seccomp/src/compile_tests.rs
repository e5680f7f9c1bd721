//! Unit tests for the compiler: programs run in the test BPF interpreter.

use super::*;
use crate::interp::{run, Call};
use crate::syscalls::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const fn errno(e: u32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e
}

fn spec(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).expect("valid seccomp json")
}

fn verdict(f: &Filter, arch: u32, nr: u32, args: &[u64]) -> u32 {
    run(f.instructions(), &Call::new(arch, nr, args))
}

fn x64(f: &Filter, name: &str, args: &[u64]) -> u32 {
    let nr = Abi::X86_64.syscall_nr(name).expect("known syscall");
    verdict(f, AUDIT_ARCH_X86_64, nr, args)
}

#[cfg(target_arch = "x86_64")]
#[test]
fn errno_rule_and_default() {
    let f = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["getpid","no_such_call"],"action":"SCMP_ACT_ERRNO"},
                        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
    ))
    .expect("compiles");
    assert_eq!(x64(&f, "getpid", &[]), errno(1));
    assert_eq!(x64(&f, "getppid", &[]), errno(38));
    assert_eq!(x64(&f, "read", &[]), ALLOW);
    assert_eq!(verdict(&f, AUDIT_ARCH_X86_64, u32::MAX, &[]), ALLOW);
    assert!(!f.uses_notify());

    let f = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":13,
            "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    ))
    .expect("compiles");
    assert_eq!(x64(&f, "read", &[]), ALLOW);
    assert_eq!(x64(&f, "write", &[]), errno(13));
    // Past every known syscall: ENOSYS, so libc can fall back.
    assert_eq!(verdict(&f, AUDIT_ARCH_X86_64, 100_000, &[]), errno(38));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn arch_checks() {
    let only64 = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    ))
    .expect("compiles");
    let x32_getpid = X32_SYSCALL_BIT | 39;
    // x32 numbers must not slip through an x86_64-only filter, nor other arches.
    assert_eq!(
        verdict(&only64, AUDIT_ARCH_X86_64, x32_getpid, &[]),
        BAD_ARCH_ACTION
    );
    assert_eq!(
        verdict(&only64, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, &[]),
        BAD_ARCH_ACTION
    );
    assert_eq!(verdict(&only64, AUDIT_ARCH_I386, 20, &[]), BAD_ARCH_ACTION);
    assert_eq!(
        verdict(&only64, AUDIT_ARCH_AARCH64, 172, &[]),
        BAD_ARCH_ACTION
    );
    assert_eq!(verdict(&only64, 0, 0, &[]), BAD_ARCH_ACTION);

    let all = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ALLOW",
            "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64"],
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    ))
    .expect("compiles");
    assert_eq!(verdict(&all, AUDIT_ARCH_X86_64, 39, &[]), errno(1));
    assert_eq!(verdict(&all, AUDIT_ARCH_X86_64, x32_getpid, &[]), errno(1));
    assert_eq!(
        verdict(&all, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 40, &[]),
        ALLOW
    );
    assert_eq!(verdict(&all, AUDIT_ARCH_I386, 20, &[]), errno(1));
    assert_eq!(verdict(&all, AUDIT_ARCH_I386, 39, &[]), ALLOW);
    assert_eq!(verdict(&all, AUDIT_ARCH_AARCH64, 172, &[]), errno(1));
    assert_eq!(
        verdict(&all, crate::syscalls::AUDIT_ARCH_ARM, 20, &[]),
        BAD_ARCH_ACTION
    );

    // The native ABI is always part of the filter, even when not listed;
    // unsupported architectures are left out.
    let native = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X32","SCMP_ARCH_MIPS"],
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    ))
    .expect("compiles");
    assert_eq!(verdict(&native, AUDIT_ARCH_X86_64, 39, &[]), errno(1));
    assert_eq!(
        verdict(&native, AUDIT_ARCH_X86_64, x32_getpid, &[]),
        errno(1)
    );
}

#[test]
fn every_action_value() {
    use LinuxSeccompAction as A;
    let cases = [
        (A::ScmpActKill, None, 0),
        (A::ScmpActKillThread, None, 0),
        (A::ScmpActKillProcess, None, 0x8000_0000),
        (A::ScmpActTrap, None, 0x0003_0000),
        (A::ScmpActErrno, None, 0x0005_0001),
        (A::ScmpActErrno, Some(22), 0x0005_0016),
        (A::ScmpActTrace, None, 0x7ff0_0001),
        (A::ScmpActTrace, Some(7), 0x7ff0_0007),
        (A::ScmpActNotify, None, 0x7fc0_0000),
        (A::ScmpActLog, None, 0x7ffc_0000),
        (A::ScmpActAllow, None, 0x7fff_0000),
    ];
    for (action, errno_ret, want) in cases {
        assert_eq!(action_value(action, errno_ret), Ok(want), "{action:?}");
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpid"],"action":"{action}"{}}}]}}"#,
            errno_ret
                .map(|e| format!(r#","errnoRet":{e}"#))
                .unwrap_or_default()
        );
        let f = compile(&spec(&json)).expect("compiles");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(x64(&f, "getpid", &[]), want, "{action:?}");
        }
        assert_eq!(f.uses_notify(), action == A::ScmpActNotify);
    }
    assert_eq!(
        action_value(A::ScmpActErrno, Some(0x1_0000)),
        Err(CompileError::ErrnoTooLarge(0x1_0000))
    );
    let f = compile(&spec(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#)).expect("compiles");
    assert!(f.uses_notify());
}

#[test]
fn bad_arg_index_is_an_error() {
    let err = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO",
            "args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    ))
    .unwrap_err();
    assert_eq!(err, CompileError::ArgIndex(6));
}

const TRICKY: [u64; 12] = [
    0,
    1,
    5,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0005,
    0x5_0000_0000,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_fffe,
    u64::MAX,
];

fn holds(op: &str, a: u64, v: u64, v2: u64) -> bool {
    match op {
        "SCMP_CMP_NE" => a != v,
        "SCMP_CMP_LT" => a < v,
        "SCMP_CMP_LE" => a <= v,
        "SCMP_CMP_EQ" => a == v,
        "SCMP_CMP_GE" => a >= v,
        "SCMP_CMP_GT" => a > v,
        "SCMP_CMP_MASKED_EQ" => a & v == v2,
        _ => unreachable!(),
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn every_operator_on_64_bit_values() {
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let mut probes: Vec<u64> = TRICKY.to_vec();
    for v in TRICKY {
        probes.extend([v.wrapping_add(1), v.wrapping_sub(1), v ^ 0x1_0000_0000]);
    }
    for op in ops {
        for v in TRICKY {
            for v2 in [0, v & 0x1_0000_0005, v] {
                let json = format!(
                    r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["getpid"],
                        "action":"SCMP_ACT_ALLOW","args":[{{"index":2,"value":{v},"valueTwo":{v2},"op":"{op}"}}]}}]}}"#
                );
                let f = compile(&spec(&json)).expect("compiles");
                for &a in &probes {
                    let want = if holds(op, a, v, v2) { ALLOW } else { errno(1) };
                    assert_eq!(
                        x64(&f, "getpid", &[0, 0, a]),
                        want,
                        "{op} arg={a:#x} value={v:#x} value2={v2:#x}"
                    );
                }
            }
        }
    }
}

#[test]
fn thirty_two_bit_abis_compare_the_low_half() {
    let f = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86","SCMP_ARCH_ARM"],
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW",
                         "args":[{"index":0,"value":5,"op":"SCMP_CMP_EQ"}]}]}"#,
    ))
    .expect("compiles");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(verdict(&f, AUDIT_ARCH_I386, 20, &[5]), ALLOW);
        assert_eq!(verdict(&f, AUDIT_ARCH_I386, 20, &[0x7_0000_0005]), ALLOW);
        assert_eq!(verdict(&f, AUDIT_ARCH_I386, 20, &[6]), errno(1));
        assert_eq!(x64(&f, "getpid", &[0x7_0000_0005]), errno(1));
        assert_eq!(x64(&f, "getpid", &[5]), ALLOW);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn args_are_anded_and_rules_ored() {
    let f = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["mmap"],"action":"SCMP_ACT_ALLOW","args":[
                {"index":0,"value":0,"op":"SCMP_CMP_EQ"},
                {"index":2,"value":4,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
            {"names":["mmap"],"action":"SCMP_ACT_LOG","args":[
                {"index":1,"value":4096,"op":"SCMP_CMP_EQ"}]}]}"#,
    ))
    .expect("compiles");
    assert_eq!(x64(&f, "mmap", &[0, 1, 3]), ALLOW);
    assert_eq!(x64(&f, "mmap", &[0, 1, 7]), errno(1));
    assert_eq!(x64(&f, "mmap", &[8, 1, 3]), errno(1));
    assert_eq!(x64(&f, "mmap", &[8, 4096, 3]), libc::SECCOMP_RET_LOG);
    // Both rules match: the first one listed wins.
    assert_eq!(x64(&f, "mmap", &[0, 4096, 3]), ALLOW);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn conditional_rules_before_unconditional() {
    // The unconditional ALLOW comes first in the spec, the AF_VSOCK rule still wins.
    let f = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["socket","read"],"action":"SCMP_ACT_ALLOW"},
            {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,
             "args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"}]},
            {"names":["socket"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    ))
    .expect("compiles");
    assert_eq!(x64(&f, "socket", &[40, 1, 0]), errno(97));
    assert_eq!(x64(&f, "socket", &[2, 1, 0]), ALLOW);
    assert_eq!(x64(&f, "read", &[]), ALLOW);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn large_programs_stay_correct_with_trampolines() {
    // Every x86_64 syscall gets its own argument rule, so the search tree's
    // right branches are far away and need `ja` trampolines.
    let names: Vec<&str> = crate::syscalls::all_names(Abi::X86_64).collect();
    let rules: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                r#"{{"names":["{n}"],"action":"SCMP_ACT_ALLOW","args":[{{"index":1,"value":{i},"op":"SCMP_CMP_EQ"}}]}}"#
            )
        })
        .collect();
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{}]}}"#,
        rules.join(",")
    );
    let f = compile(&spec(&json)).expect("compiles");
    assert!(f.len() > 1000 && f.len() <= 4096, "len {}", f.len());
    for (i, n) in names.iter().enumerate() {
        let i = i as u64;
        assert_eq!(x64(&f, n, &[0, i]), ALLOW, "{n}");
        assert_eq!(x64(&f, n, &[0, i + 1]), errno(1), "{n}");
    }

    // A plain allow list of everything collapses to a handful of intervals.
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":{},"action":"SCMP_ACT_ALLOW"}}]}}"#,
        serde_json::to_string(&names).expect("json")
    );
    let f = compile(&spec(&json)).expect("compiles");
    assert!(f.len() < 40, "len {}", f.len());
    for n in &names {
        assert_eq!(x64(&f, n, &[]), ALLOW, "{n}");
    }
}

#[test]
fn too_large_programs_are_rejected() {
    // 8 argument rules on each of ~380 syscalls cannot fit in 4096 instructions.
    let names: Vec<&str> = crate::syscalls::all_names(Abi::native().expect("host")).collect();
    let args: Vec<String> = (0..6)
        .map(|i| format!(r#"{{"index":{i},"value":{i},"op":"SCMP_CMP_GT"}}"#))
        .collect();
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":{},"action":"SCMP_ACT_ALLOW","args":[{}]}}]}}"#,
        serde_json::to_string(&names).expect("json"),
        args.join(",")
    );
    assert!(matches!(
        compile(&spec(&json)),
        Err(CompileError::TooLarge(_))
    ));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn numbers_past_the_table_get_enosys_when_denying() {
    let deny = compile(&spec(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"],
            "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    ))
    .expect("compiles");
    let enosys = errno(libc::ENOSYS as u32);
    let (max, _) = Abi::X86_64.max_syscall_nr();
    assert_eq!(Abi::X86_64.syscall_nr("file_setattr"), Some(max));
    assert_eq!(x64(&deny, "read", &[]), ALLOW);
    assert_eq!(x64(&deny, "write", &[]), errno(1));
    assert_eq!(verdict(&deny, AUDIT_ARCH_X86_64, max, &[]), errno(1));
    assert_eq!(verdict(&deny, AUDIT_ARCH_X86_64, max + 1, &[]), enosys);
    assert_eq!(
        verdict(&deny, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT - 1, &[]),
        enosys
    );
    assert_eq!(
        verdict(&deny, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 0x1000, &[]),
        enosys
    );
    assert_eq!(verdict(&deny, AUDIT_ARCH_X86_64, u32::MAX, &[]), errno(1));
    assert_eq!(verdict(&deny, AUDIT_ARCH_I386, 100_000, &[]), enosys);

    let allow = compile(&spec(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)).expect("compiles");
    assert_eq!(verdict(&allow, AUDIT_ARCH_X86_64, max + 1, &[]), ALLOW);
    // ld arch, jeq, ret bad-arch, ld nr, 2 jge, 3 ret (x86_64, x32 = bad arch, -1)
    assert_eq!(allow.len(), 9);
}
