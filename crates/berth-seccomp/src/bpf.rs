//! A tiny classic-BPF assembler with symbolic labels.
//!
//! Conditional jumps in classic BPF only reach 255 instructions forward; the
//! compiler writes code with labels and [`Asm::finish`] lays it out, inserting
//! `ja` trampolines (32-bit offsets) wherever a conditional target is too far.

use libc::sock_filter;

// Classic BPF opcodes (linux/bpf_common.h).
pub(crate) const BPF_LD: u16 = 0x00;
pub(crate) const BPF_ALU: u16 = 0x04;
pub(crate) const BPF_JMP: u16 = 0x05;
pub(crate) const BPF_RET: u16 = 0x06;
pub(crate) const BPF_W: u16 = 0x00;
pub(crate) const BPF_ABS: u16 = 0x20;
pub(crate) const BPF_K: u16 = 0x00;
pub(crate) const BPF_AND: u16 = 0x50;
pub(crate) const BPF_JA: u16 = 0x00;
pub(crate) const BPF_JEQ: u16 = 0x10;
pub(crate) const BPF_JGT: u16 = 0x20;
pub(crate) const BPF_JGE: u16 = 0x30;

/// The kernel's limit on filter length (BPF_MAXINSNS).
pub(crate) const MAX_INSNS: usize = 4096;

/// A jump target: a label, or the instruction right after the jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Next,
    Label(usize),
}

/// Conditional jump kinds (all compare the accumulator with a constant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    Eq,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    LoadAbs(u32),
    AndK(u32),
    Jump {
        cond: Cond,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Ja(usize),
    Ret(u32),
    Label(usize),
}

/// Why a program could not be laid out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AsmError {
    /// A jump refers to a label placed before it (classic BPF only jumps forward).
    #[error("label {0} is not after the jump that targets it")]
    BackwardJump(usize),
    /// A jump refers to a label that was never placed.
    #[error("label {0} is never placed")]
    MissingLabel(usize),
}

/// Program under construction.
#[derive(Debug, Default)]
pub(crate) struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    /// A fresh, not yet placed label.
    pub(crate) fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }

    /// Places `label` at the current position.
    pub(crate) fn place(&mut self, label: usize) {
        self.ops.push(Op::Label(label));
    }

    /// `A = *(u32 *)(seccomp_data + offset)`.
    pub(crate) fn load(&mut self, offset: u32) {
        self.ops.push(Op::LoadAbs(offset));
    }

    /// `A &= k`.
    pub(crate) fn and(&mut self, k: u32) {
        self.ops.push(Op::AndK(k));
    }

    /// `if A <cond> k goto jt else goto jf`.
    pub(crate) fn jump(&mut self, cond: Cond, k: u32, jt: Target, jf: Target) {
        self.ops.push(Op::Jump { cond, k, jt, jf });
    }

    /// Unconditional jump (the layout pass makes its own for trampolines).
    #[cfg(test)]
    pub(crate) fn ja(&mut self, label: usize) {
        self.ops.push(Op::Ja(label));
    }

    /// `return k`.
    pub(crate) fn ret(&mut self, k: u32) {
        self.ops.push(Op::Ret(k));
    }

    /// Resolves labels and emits the program, inserting trampolines for far
    /// conditional jumps.
    pub(crate) fn finish(mut self) -> Result<Vec<sock_filter>, AsmError> {
        self.explicit_next();
        loop {
            let pos = self.positions()?;
            let mut far = Vec::new();
            let mut at = 0usize;
            for (i, op) in self.ops.iter().enumerate() {
                match op {
                    Op::Label(_) => continue,
                    Op::Jump { jt, jf, .. } => {
                        let dist = |t: &Target| match t {
                            Target::Label(l) => pos[*l].saturating_sub(at + 1),
                            Target::Next => 0,
                        };
                        if dist(jt) > 255 || dist(jf) > 255 {
                            far.push((i, dist(jt) > 255, dist(jf) > 255));
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
            if far.is_empty() {
                return self.emit(&pos);
            }
            // Rewrite from the back so earlier indices stay valid.
            for (i, t_far, f_far) in far.into_iter().rev() {
                let Op::Jump { cond, k, jt, jf } = self.ops[i] else {
                    continue;
                };
                let mut tail = Vec::new();
                let (mut njt, mut njf) = (jt, jf);
                for (far_here, target, slot) in [(t_far, jt, &mut njt), (f_far, jf, &mut njf)] {
                    if let (true, Target::Label(l)) = (far_here, target) {
                        let tramp = self.label();
                        tail.push(Op::Label(tramp));
                        tail.push(Op::Ja(l));
                        *slot = Target::Label(tramp);
                    }
                }
                self.ops[i] = Op::Jump {
                    cond,
                    k,
                    jt: njt,
                    jf: njf,
                };
                self.ops.splice(i + 1..i + 1, tail);
            }
        }
    }

    /// Replaces `Target::Next` by a label right after the jump, so trampolines
    /// inserted later do not change what "next" means.
    fn explicit_next(&mut self) {
        let mut out = Vec::with_capacity(self.ops.len());
        for op in std::mem::take(&mut self.ops) {
            if let Op::Jump { cond, k, jt, jf } = op {
                if jt == Target::Next || jf == Target::Next {
                    let next = self.label();
                    let fix = |t| match t {
                        Target::Next => Target::Label(next),
                        t => t,
                    };
                    out.push(Op::Jump {
                        cond,
                        k,
                        jt: fix(jt),
                        jf: fix(jf),
                    });
                    out.push(Op::Label(next));
                    continue;
                }
            }
            out.push(op);
        }
        self.ops = out;
    }

    /// Instruction index of every label.
    fn positions(&self) -> Result<Vec<usize>, AsmError> {
        let mut pos = vec![usize::MAX; self.labels];
        let mut at = 0usize;
        for op in &self.ops {
            match op {
                Op::Label(l) => pos[*l] = at,
                _ => at += 1,
            }
        }
        if let Some(l) = pos.iter().position(|p| *p == usize::MAX) {
            return Err(AsmError::MissingLabel(l));
        }
        Ok(pos)
    }

    fn emit(&self, pos: &[usize]) -> Result<Vec<sock_filter>, AsmError> {
        let mut out = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            let at = out.len();
            let rel = |l: usize| -> Result<usize, AsmError> {
                pos[l].checked_sub(at + 1).ok_or(AsmError::BackwardJump(l))
            };
            let ins = match *op {
                Op::Label(_) => continue,
                Op::LoadAbs(off) => insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, off),
                Op::AndK(k) => insn(BPF_ALU | BPF_AND | BPF_K, 0, 0, k),
                Op::Ret(k) => insn(BPF_RET | BPF_K, 0, 0, k),
                Op::Ja(l) => {
                    let off = u32::try_from(rel(l)?).map_err(|_| AsmError::BackwardJump(l))?;
                    insn(BPF_JMP | BPF_JA, 0, 0, off)
                }
                Op::Jump { cond, k, jt, jf } => {
                    let code = BPF_JMP
                        | BPF_K
                        | match cond {
                            Cond::Eq => BPF_JEQ,
                            Cond::Gt => BPF_JGT,
                            Cond::Ge => BPF_JGE,
                        };
                    let off = |t: Target| -> Result<u8, AsmError> {
                        match t {
                            Target::Next => Ok(0),
                            Target::Label(l) => {
                                u8::try_from(rel(l)?).map_err(|_| AsmError::BackwardJump(l))
                            }
                        }
                    };
                    insn(code, off(jt)?, off(jf)?, k)
                }
            };
            out.push(ins);
        }
        Ok(out)
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_conditional_jumps_get_trampolines() {
        let mut a = Asm::default();
        let far = a.label();
        a.load(0);
        a.jump(Cond::Eq, 7, Target::Label(far), Target::Next);
        for _ in 0..300 {
            a.ret(1);
        }
        a.place(far);
        a.ret(2);
        let prog = a.finish().expect("assembles");
        // load, jeq, ja trampoline, 300 rets, ret 2
        assert_eq!(prog.len(), 304);
        assert_eq!(prog[1].jt, 0);
        assert_eq!(prog[1].jf, 1);
        assert_eq!(prog[2].code, BPF_JMP | BPF_JA);
        assert_eq!(2 + 1 + prog[2].k as usize, 303);
        assert_eq!(prog[303].k, 2);
    }

    #[test]
    fn unplaced_and_backward_labels_are_errors() {
        let mut a = Asm::default();
        let l = a.label();
        a.ja(l);
        assert_eq!(a.finish().unwrap_err(), AsmError::MissingLabel(l));

        let mut a = Asm::default();
        let l = a.label();
        a.place(l);
        a.ja(l);
        assert_eq!(a.finish().unwrap_err(), AsmError::BackwardJump(l));
    }
}
