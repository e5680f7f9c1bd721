//! The compiled device program is run through a small interpreter of the few opcodes it uses
//! and compared with the rule evaluator on many requests.

use super::*;
use crate::devices::{self, ACC_MKNOD, ACC_READ, ACC_WRITE};
use oci_spec::runtime::LinuxDeviceCgroup;

/// Execute a device program on a context of (type, access, major, minor).
fn run(prog: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [(access << 16) | typ, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 10_000, "program does not terminate");
        let i = prog[pc];
        let dst = (i.regs & 0x0f) as usize;
        let src = (i.regs >> 4) as usize;
        pc += 1;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "loads only from the context");
                r[dst] = u64::from(ctx[(i.off / 4) as usize]);
            }
            ALU32_AND_K => r[dst] = u64::from((r[dst] as u32) & (i.imm as u32)),
            ALU32_RSH_K => r[dst] = u64::from((r[dst] as u32) >> i.imm),
            ALU32_MOV_X => r[dst] = u64::from(r[src] as u32),
            ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
            JNE_K => {
                if r[dst] != i.imm as i64 as u64 {
                    pc = (pc as i64 + i64::from(i.off)) as usize;
                }
            }
            JEQ_K => {
                if r[dst] == i.imm as i64 as u64 {
                    pc = (pc as i64 + i64::from(i.off)) as usize;
                }
            }
            EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

fn rules(json: &str) -> Vec<DeviceRule> {
    let v: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).expect("json");
    devices::from_oci(&v).expect("rules")
}

/// Check the program against the evaluator for every combination of a few devices/accesses.
fn check_equivalent(rs: &[DeviceRule]) {
    let prog = compile(rs).expect("compile");
    let eff = Effective::new(rs);
    let accesses = [
        ACC_READ,
        ACC_WRITE,
        ACC_MKNOD,
        ACC_READ | ACC_WRITE,
        ACC_READ | ACC_WRITE | ACC_MKNOD,
    ];
    for (typ, t) in [(DevType::Block, 1), (DevType::Char, 2)] {
        for major in [0, 1, 5, 8, 136, 4095] {
            for minor in [0, 1, 3, 5, 9, 1 << 19] {
                for acc in accesses {
                    let want = eff.allows(typ, major, minor, acc);
                    let got = run(&prog, t, acc, major, minor);
                    assert_eq!(
                        got,
                        u64::from(want),
                        "{typ:?} {major}:{minor} access {acc} rules {rs:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn docker_like_default_list() {
    let rs = rules(
        r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
            {"allow":true,"type":"c","major":136,"access":"rwm"},
            {"allow":true,"type":"c","major":5,"minor":1,"access":"rw"},
            {"allow":true,"type":"b","access":"m"},
            {"allow":true,"type":"c","access":"m"},
            {"allow":false,"type":"c","major":136,"minor":9,"access":"w"}]"#,
    );
    check_equivalent(&rs);
    let prog = compile(&rs).expect("compile");
    assert_eq!(run(&prog, 2, ACC_READ, 1, 3), 1);
    assert_eq!(run(&prog, 2, ACC_READ, 1, 9), 0);
    assert_eq!(run(&prog, 1, ACC_MKNOD, 8, 0), 1);
    assert_eq!(run(&prog, 1, ACC_READ, 8, 0), 0);
    assert_eq!(run(&prog, 2, ACC_READ, 136, 9), 1);
    assert_eq!(run(&prog, 2, ACC_WRITE, 136, 9), 0);
}

#[test]
fn allow_all_then_deny_wildcards() {
    let rs = rules(
        r#"[{"allow":true,"access":"rwm"},
            {"allow":false,"type":"b","major":8,"access":"rw"},
            {"allow":false,"type":"a","minor":5,"access":"m"}]"#,
    );
    check_equivalent(&rs);
    let prog = compile(&rs).expect("compile");
    assert_eq!(run(&prog, 1, ACC_READ, 8, 1), 0);
    assert_eq!(run(&prog, 1, ACC_MKNOD, 8, 1), 1);
    assert_eq!(run(&prog, 2, ACC_MKNOD, 1, 5), 0);
    assert_eq!(run(&prog, 2, ACC_READ, 1, 5), 1);
}

#[test]
fn empty_and_deny_all_programs() {
    let prog = compile(&[]).expect("compile");
    assert_eq!(prog.len(), 8, "prologue + default");
    assert_eq!(run(&prog, 2, ACC_READ, 1, 1), 1);
    let rs = rules(r#"[{"allow":false}]"#);
    check_equivalent(&rs);
    assert_eq!(run(&compile(&rs).expect("compile"), 2, ACC_READ, 1, 3), 0);
}

#[test]
fn rule_blocks_shape() {
    let rs =
        rules(r#"[{"allow":false},{"allow":true,"type":"c","major":1,"minor":3,"access":"r"}]"#);
    let prog = compile(&rs).expect("compile");
    // prologue(6) + type jump, mov, and, jne, major jne, minor jne, mov r0, exit + default(2)
    assert_eq!(prog.len(), 6 + 8 + 2);
    assert_eq!(prog[6], insn(JNE_K, 2, 0, 7, 2));
    assert_eq!(prog[9], insn(JNE_K, 1, 0, 4, 0));
    assert_eq!(prog[12], insn(ALU64_MOV_K, 0, 0, 0, 1));
    assert_eq!(prog[14], insn(ALU64_MOV_K, 0, 0, 0, 0));
}

#[test]
fn huge_numbers_rejected() {
    let rs = rules(r#"[{"allow":true,"type":"c","major":3000000000,"minor":1}]"#);
    assert!(compile(&rs).is_err());
}
