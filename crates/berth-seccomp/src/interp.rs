//! A classic-BPF interpreter for tests: runs a compiled filter on a
//! `seccomp_data` without installing it, checking what the kernel's verifier
//! would check along the way.

use libc::sock_filter;

use crate::bpf::*;

/// The syscall a filter is asked about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub(crate) arch: u32,
    pub(crate) nr: u32,
    pub(crate) args: [u64; 6],
}

impl Call {
    pub(crate) fn new(arch: u32, nr: u32, args: &[u64]) -> Call {
        let mut a = [0u64; 6];
        a[..args.len()].copy_from_slice(args);
        Call { arch, nr, args: a }
    }

    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        b[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        b[8..16].copy_from_slice(&0x1000u64.to_ne_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        b
    }
}

/// Runs `prog` on `call` and returns the filter's verdict. Panics on anything
/// the kernel would reject (bad opcode, out-of-range jump or load, falling off
/// the end, too long).
pub(crate) fn run(prog: &[sock_filter], call: &Call) -> u32 {
    assert!(
        !prog.is_empty() && prog.len() <= MAX_INSNS,
        "bad length {}",
        prog.len()
    );
    let data = call.bytes();
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let ins = prog
            .get(pc)
            .unwrap_or_else(|| panic!("fell off the end at {pc}"));
        pc += 1;
        let cond = |c: bool| usize::from(if c { ins.jt } else { ins.jf });
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let off = ins.k as usize;
                assert!(
                    off.is_multiple_of(4) && off + 4 <= data.len(),
                    "bad load offset {off}"
                );
                let mut w = [0u8; 4];
                w.copy_from_slice(&data[off..off + 4]);
                a = u32::from_ne_bytes(w);
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= ins.k,
            c if c == BPF_JMP | BPF_JA => pc += ins.k as usize,
            c if c == BPF_JMP | BPF_JEQ | BPF_K => pc += cond(a == ins.k),
            c if c == BPF_JMP | BPF_JGT | BPF_K => pc += cond(a > ins.k),
            c if c == BPF_JMP | BPF_JGE | BPF_K => pc += cond(a >= ins.k),
            c if c == BPF_RET | BPF_K => return ins.k,
            other => panic!("unsupported opcode {other:#x} at {}", pc - 1),
        }
        assert!(pc < prog.len(), "jump out of program at {pc}");
    }
}
