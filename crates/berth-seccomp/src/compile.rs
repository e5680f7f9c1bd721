//! Compiles an OCI `linux.seccomp` section into a classic-BPF seccomp program.
//!
//! Written here rather than using libseccomp (a C library) or the `seccompiler`
//! crate: seccompiler builds one architecture per filter and has no
//! `SCMP_ACT_NOTIFY`, while OCI specs (and Docker's default profile) list
//! several ABIs (x86_64 + x86 + x32) in one filter and may use notification.
//!
//! # Program layout
//!
//! 1. Load `seccomp_data.arch` and dispatch to one block per audit
//!    architecture; any other architecture gets [`BAD_ARCH_ACTION`]
//!    (`SECCOMP_RET_KILL_PROCESS`). The native ABI is always included, like
//!    libseccomp does; listed architectures without a syscall table here
//!    (mips, ppc, s390, riscv...) are left out and so also hit the bad-arch action.
//! 2. x86_64 and x32 share `AUDIT_ARCH_X86_64`; x32 syscalls carry bit
//!    0x40000000 in their number. The number space of an ABI that is not
//!    listed gets the bad-arch action, so x32 calls cannot slip through a
//!    filter that only lists x86_64. Number `-1` (a tracer skipping a call)
//!    gets the default action.
//! 3. With a denying default action, numbers above the highest syscall an
//!    ABI's table knows get `ERRNO(ENOSYS)`, so that libc falls back from
//!    syscalls newer than the table instead of failing with EPERM (runc does
//!    the same for Docker's profile).
//! 4. Within a block the syscall number space is cut into intervals with one
//!    outcome each (adjacent numbers with the same plain action merge), and a
//!    balanced binary search over the interval starts (`jge`) reaches the
//!    leaf: either a `ret`, or the argument rules of one syscall.
//!
//! # Precedence for one syscall
//!
//! Rules with `args` are checked first, in the order they appear; the first
//! whose conditions all hold (they are ANDed) decides. Otherwise the first rule
//! without `args` decides (later ones for the same syscall are ignored), and
//! otherwise `defaultAction`. Names unknown to an ABI are skipped for it, like
//! libseccomp does.
//!
//! # Arguments
//!
//! Comparisons are on 64-bit values, done on the high then the low 32-bit half.
//! On 32-bit ABIs (x86, arm) only the low half is compared, against the low 32
//! bits of the value (libseccomp's behaviour). `SCMP_CMP_MASKED_EQ` uses `value`
//! as the mask and `valueTwo` as the expected result: `(arg & value) == valueTwo`.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};

use crate::bpf::{Asm, AsmError, Cond, Target, MAX_INSNS};
use crate::filter::Filter;
use crate::syscalls::{Abi, X32_SYSCALL_BIT};

/// Action for syscalls made with an architecture (ABI) the filter does not list.
pub const BAD_ARCH_ACTION: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// Why a seccomp section could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    /// `errnoRet`/`defaultErrnoRet` does not fit in the 16-bit return data.
    #[error("errno return value {0} does not fit in 16 bits")]
    ErrnoTooLarge(u32),
    /// An `args[].index` beyond the six syscall arguments.
    #[error("syscall argument index {0} is out of range 0-5")]
    ArgIndex(usize),
    /// The crate has no syscall table for the architecture it runs on.
    #[error("the host architecture has no seccomp syscall table")]
    UnsupportedHost,
    /// The program exceeds the kernel's 4096-instruction limit.
    #[error("filter has {0} instructions, more than the kernel limit of 4096")]
    TooLarge(usize),
    /// Internal layout failure (a compiler bug).
    #[error("laying out the filter: {0}")]
    Layout(#[from] AsmError),
}

/// One argument condition.
#[derive(Clone, Copy, Debug)]
struct ArgCond {
    index: u32,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: u64,
}

/// A conditional rule: all conditions hold → `action`.
#[derive(Clone, Debug)]
struct Rule {
    action: u32,
    conds: Vec<ArgCond>,
}

/// Everything the spec says about one syscall number of one ABI.
#[derive(Clone, Debug, Default)]
struct Plan {
    conditional: Vec<Rule>,
    unconditional: Option<u32>,
}

/// What an interval of syscall numbers leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    /// Argument rules: index into the chain list, with the ABI's arg width.
    Chain(usize),
}

type Plans = BTreeMap<Abi, BTreeMap<u32, Plan>>;
/// Syscalls whose action depends on arguments, each compiled into its own chain.
type Chains<'p> = Vec<(Abi, &'p Plan)>;

/// Compiles the OCI seccomp section into a BPF filter for this host.
pub fn compile(spec: &LinuxSeccomp) -> Result<Filter, CompileError> {
    let default = action_value(spec.default_action(), spec.default_errno_ret())?;
    let native = Abi::native().ok_or(CompileError::UnsupportedHost)?;
    let mut abis = BTreeSet::from([native]);
    for arch in spec.architectures().iter().flatten() {
        if let Some(abi) = Abi::from_oci(*arch) {
            abis.insert(abi);
        }
    }
    let syscalls = spec.syscalls().as_deref().unwrap_or_default();
    let plans = plan_syscalls(syscalls, &abis)?;
    let notify = spec.default_action() == LinuxSeccompAction::ScmpActNotify
        || syscalls
            .iter()
            .any(|sc| sc.action() == LinuxSeccompAction::ScmpActNotify);

    let mut asm = Asm::default();
    let families = families(native, &abis);
    // Dispatch on the audit architecture first: syscall numbers mean different things per
    // family, and an unknown architecture is refused outright.
    let labels: Vec<usize> = families.iter().map(|_| asm.label()).collect();
    asm.load(OFF_ARCH);
    for ((audit, _), label) in families.iter().zip(&labels) {
        asm.jump(Cond::Eq, *audit, Target::Label(*label), Target::Next);
    }
    asm.ret(BAD_ARCH_ACTION);
    for ((_, family), label) in families.iter().zip(&labels) {
        asm.place(*label);
        let (chains, intervals) = family_intervals(family, &plans, default);
        asm.load(OFF_NR);
        search(&mut asm, &intervals, &chains, default);
    }

    let prog = asm.finish()?;
    if prog.len() > MAX_INSNS {
        return Err(CompileError::TooLarge(prog.len()));
    }
    Ok(Filter::new(prog, notify))
}

/// What the spec's rules say per ABI and syscall number: the first unconditional action
/// wins, and conditional rules are kept in order for the argument chains.
fn plan_syscalls(syscalls: &[LinuxSyscall], abis: &BTreeSet<Abi>) -> Result<Plans, CompileError> {
    let mut plans = Plans::new();
    for sc in syscalls {
        let action = action_value(sc.action(), sc.errno_ret())?;
        let conds = arg_conds(sc)?;
        for &abi in abis {
            let per_abi = plans.entry(abi).or_default();
            // A name this ABI does not have is skipped, as libseccomp does.
            for nr in sc.names().iter().filter_map(|n| abi.syscall_nr(n)) {
                let plan = per_abi.entry(nr).or_default();
                if conds.is_empty() {
                    plan.unconditional.get_or_insert(action);
                } else {
                    plan.conditional.push(Rule {
                        action,
                        conds: conds.clone(),
                    });
                }
            }
        }
    }
    Ok(plans)
}

fn arg_conds(sc: &LinuxSyscall) -> Result<Vec<ArgCond>, CompileError> {
    let mut conds = Vec::new();
    for a in sc.args().iter().flatten() {
        let index = u32::try_from(a.index())
            .ok()
            .filter(|i| *i < 6)
            .ok_or(CompileError::ArgIndex(a.index()))?;
        conds.push(ArgCond {
            index,
            op: a.op(),
            value: a.value(),
            value_two: a.value_two().unwrap_or(0),
        });
    }
    Ok(conds)
}

/// The ABIs grouped by audit architecture (x86_64 and x32 share one), the native family
/// first: it is what the container almost always uses.
fn families(native: Abi, abis: &BTreeSet<Abi>) -> Vec<(u32, Vec<Abi>)> {
    let mut families: Vec<(u32, Vec<Abi>)> = Vec::new();
    for abi in std::iter::once(native).chain(abis.iter().copied()) {
        match families.iter_mut().find(|(a, _)| *a == abi.audit_arch()) {
            Some((_, list)) => {
                if !list.contains(&abi) {
                    list.push(abi);
                }
            }
            None => families.push((abi.audit_arch(), vec![abi])),
        }
    }
    families
}

/// The syscall number space of one family as sorted intervals, each ending in an action or
/// in an argument chain (returned alongside, indexed by [`Leaf::Chain`]).
fn family_intervals<'p>(
    family: &[Abi],
    plans: &'p Plans,
    default: u32,
) -> (Chains<'p>, Vec<(u64, Leaf)>) {
    let mut chains: Chains<'p> = Vec::new();
    let mut intervals: Vec<(u64, Leaf)> = Vec::new();
    for (start, end, abi, base) in regions(family, default) {
        let mut cursor = start;
        // An ABI without rules has only the region's base action.
        if let Some((abi, per_abi)) = abi.and_then(|a| plans.get(&a).map(|p| (a, p))) {
            for (&nr, plan) in per_abi.range(start_u32(start)..) {
                let nr = u64::from(nr);
                if nr >= end {
                    break;
                }
                if nr > cursor {
                    push_interval(&mut intervals, cursor, Leaf::Ret(base));
                }
                let leaf = match (plan.conditional.is_empty(), plan.unconditional) {
                    (true, u) => Leaf::Ret(u.unwrap_or(default)),
                    (false, _) => {
                        chains.push((abi, plan));
                        Leaf::Chain(chains.len() - 1)
                    }
                };
                push_interval(&mut intervals, nr, leaf);
                cursor = nr + 1;
            }
        }
        if cursor < end {
            push_interval(&mut intervals, cursor, Leaf::Ret(base));
        }
    }
    (chains, intervals)
}

fn start_u32(start: u64) -> u32 {
    u32::try_from(start).unwrap_or(u32::MAX)
}

/// Splits the 32-bit syscall number space of one audit architecture into
/// regions `[start, end)` owned by an ABI (`None`: not listed), each with the
/// action for numbers no rule mentions.
fn regions(family: &[Abi], default: u32) -> Vec<(u64, u64, Option<Abi>, u32)> {
    let top = u64::from(u32::MAX);
    let owned: Vec<(u64, u64, Option<Abi>)> =
        if family.contains(&Abi::X86_64) || family.contains(&Abi::X32) {
            let has = |abi| family.contains(&abi).then_some(abi);
            let split = u64::from(X32_SYSCALL_BIT);
            vec![(0, split, has(Abi::X86_64)), (split, top, has(Abi::X32))]
        } else {
            vec![(0, top, family.first().copied())]
        };
    // Numbers above every syscall the ABI knows answer ENOSYS rather than a
    // denying default, so libc falls back from syscalls newer than this
    // table (what runc does for Docker's profile).
    let enosys = !matches!(default, libc::SECCOMP_RET_ALLOW | libc::SECCOMP_RET_LOG);
    let mut out = Vec::new();
    for (start, end, abi) in owned {
        match abi {
            None => out.push((start, end, None, BAD_ARCH_ACTION)),
            Some(abi) => {
                let (max, range_end) = abi.max_syscall_nr();
                let (unknown_from, unknown_to) = (u64::from(max) + 1, u64::from(range_end));
                if enosys && start < unknown_from && unknown_to <= end {
                    out.push((start, unknown_from, Some(abi), default));
                    let nosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
                    out.push((unknown_from, unknown_to, Some(abi), nosys));
                    if unknown_to < end {
                        out.push((unknown_to, end, Some(abi), default));
                    }
                } else {
                    out.push((start, end, Some(abi), default));
                }
            }
        }
    }
    // -1: a tracer skipped the call; leave it to the default action.
    out.push((top, top + 1, family.first().copied(), default));
    out
}

fn push_interval(intervals: &mut Vec<(u64, Leaf)>, start: u64, leaf: Leaf) {
    if let (Some((_, Leaf::Ret(prev))), Leaf::Ret(new)) = (intervals.last(), leaf) {
        if *prev == new {
            return;
        }
    }
    intervals.push((start, leaf));
}

/// Emits a binary search over `intervals` (sorted by start, the first starting
/// at 0), with the syscall number in the accumulator.
fn search(asm: &mut Asm, intervals: &[(u64, Leaf)], chains: &[(Abi, &Plan)], default: u32) {
    match intervals {
        [] => asm.ret(default),
        [(_, Leaf::Ret(action))] => asm.ret(*action),
        [(_, Leaf::Chain(i))] => {
            let (abi, plan) = chains[*i];
            emit_chain(asm, abi, plan, default);
        }
        _ => {
            let mid = intervals.len() / 2;
            let right = asm.label();
            asm.jump(
                Cond::Ge,
                start_u32(intervals[mid].0),
                Target::Label(right),
                Target::Next,
            );
            search(asm, &intervals[..mid], chains, default);
            asm.place(right);
            search(asm, &intervals[mid..], chains, default);
        }
    }
}

/// Emits the argument rules of one syscall, ending with its fallback `ret`.
fn emit_chain(asm: &mut Asm, abi: Abi, plan: &Plan, default: u32) {
    for rule in &plan.conditional {
        let next_rule = asm.label();
        for cond in &rule.conds {
            emit_cond(asm, abi, cond, next_rule);
        }
        asm.ret(rule.action);
        asm.place(next_rule);
    }
    asm.ret(plan.unconditional.unwrap_or(default));
}

/// Offsets of the low and high 32-bit halves of argument `index`.
fn arg_offsets(index: u32) -> (u32, u32) {
    let base = OFF_ARGS + 8 * index;
    if cfg!(target_endian = "little") {
        (base, base + 4)
    } else {
        (base + 4, base)
    }
}

/// Emits code falling through when `cond` holds and jumping to `fail` otherwise.
fn emit_cond(asm: &mut Asm, abi: Abi, cond: &ArgCond, fail: usize) {
    use LinuxSeccompOperator as Op;
    let (lo_off, hi_off) = arg_offsets(cond.index);
    let fail = Target::Label(fail);
    let split = |v: u64| ((v >> 32) as u32, v as u32);
    let (v_hi, v_lo) = split(cond.value);
    let pass = asm.label();
    let pass_t = Target::Label(pass);
    let wide = !abi.args_are_32bit();

    match cond.op {
        Op::ScmpCmpEq => {
            if wide {
                asm.load(hi_off);
                asm.jump(Cond::Eq, v_hi, Target::Next, fail);
            }
            asm.load(lo_off);
            asm.jump(Cond::Eq, v_lo, Target::Next, fail);
        }
        Op::ScmpCmpNe => {
            if wide {
                asm.load(hi_off);
                asm.jump(Cond::Eq, v_hi, Target::Next, pass_t);
            }
            asm.load(lo_off);
            asm.jump(Cond::Eq, v_lo, fail, Target::Next);
        }
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            // a > v  ⇔  a.hi > v.hi || (a.hi == v.hi && a.lo > v.lo)
            if wide {
                asm.load(hi_off);
                asm.jump(Cond::Gt, v_hi, pass_t, Target::Next);
                asm.jump(Cond::Eq, v_hi, Target::Next, fail);
            }
            asm.load(lo_off);
            let c = if cond.op == Op::ScmpCmpGt {
                Cond::Gt
            } else {
                Cond::Ge
            };
            asm.jump(c, v_lo, Target::Next, fail);
        }
        Op::ScmpCmpLt | Op::ScmpCmpLe => {
            // a < v  ⇔  !(a >= v); a <= v  ⇔  !(a > v)
            if wide {
                asm.load(hi_off);
                asm.jump(Cond::Gt, v_hi, fail, Target::Next);
                asm.jump(Cond::Eq, v_hi, Target::Next, pass_t);
            }
            asm.load(lo_off);
            let c = if cond.op == Op::ScmpCmpLt {
                Cond::Ge
            } else {
                Cond::Gt
            };
            asm.jump(c, v_lo, fail, Target::Next);
        }
        Op::ScmpCmpMaskedEq => {
            let (m_hi, m_lo) = (v_hi, v_lo);
            let (d_hi, d_lo) = split(cond.value_two);
            if wide {
                asm.load(hi_off);
                asm.and(m_hi);
                asm.jump(Cond::Eq, d_hi, Target::Next, fail);
            }
            asm.load(lo_off);
            asm.and(m_lo);
            asm.jump(Cond::Eq, d_lo, Target::Next, fail);
        }
    }
    asm.place(pass);
}

/// The `SECCOMP_RET_*` value of an OCI action; `ERRNO` and `TRACE` carry
/// `errno_ret` (EPERM when absent, like runc).
pub(crate) fn action_value(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
) -> Result<u32, CompileError> {
    let data = || {
        let e = errno_ret.unwrap_or(libc::EPERM as u32);
        if e > libc::SECCOMP_RET_DATA {
            Err(CompileError::ErrnoTooLarge(e))
        } else {
            Ok(e)
        }
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            libc::SECCOMP_RET_KILL_THREAD
        }
        LinuxSeccompAction::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => libc::SECCOMP_RET_ERRNO | data()?,
        LinuxSeccompAction::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        LinuxSeccompAction::ScmpActTrace => libc::SECCOMP_RET_TRACE | data()?,
        LinuxSeccompAction::ScmpActLog => libc::SECCOMP_RET_LOG,
        LinuxSeccompAction::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
    })
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
