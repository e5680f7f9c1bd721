//! The cgroup v2 device controller: v2 has no `devices.allow`; access is decided by an eBPF
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the cgroup. This module compiles
//! the rules into that program ([`compile`]) and loads/attaches it with raw `bpf(2)` calls
//! ([`attach`]); no libbpf.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::devices::{DevType, DeviceRule, Effective, ACC_ALL};
use crate::error::{Error, Result};

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register in the low nibble, source in the high nibble.
    pub regs: u8,
    /// Jump offset or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

/// `r_dst = *(u32 *)(r_src + off)`.
pub const LDX_MEM_W: u8 = 0x61;
/// `w_dst &= imm` (32-bit).
pub const ALU32_AND_K: u8 = 0x54;
/// `w_dst >>= imm` (32-bit).
pub const ALU32_RSH_K: u8 = 0x74;
/// `w_dst = w_src` (32-bit).
pub const ALU32_MOV_X: u8 = 0xbc;
/// `r_dst = imm`.
pub const ALU64_MOV_K: u8 = 0xb7;
/// `if r_dst != imm goto +off`.
pub const JNE_K: u8 = 0x55;
/// `if r_dst == imm goto +off`.
pub const JEQ_K: u8 = 0x15;
/// `return r0`.
pub const EXIT: u8 = 0x95;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

fn imm_of(v: u32) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::InvalidResources(format!("device number {v} out of range")))
}

/// Compile rules into a device program: the context (`struct bpf_cgroup_dev_ctx`) is loaded
/// into r2 = type, r3 = access, r4 = major, r5 = minor; then one block per rule, last rule
/// first (the last matching rule wins), each returning its verdict when it matches; then the
/// default verdict.
pub fn compile(rules: &[DeviceRule]) -> Result<Vec<Insn>> {
    let eff = Effective::new(rules);
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in eff.rules.iter().rev() {
        // Each jump below carries the index of the block's end in `off` until patched.
        let mut block: Vec<(Insn, bool)> = Vec::new();
        match r.typ {
            DevType::All => {}
            DevType::Block => block.push((insn(JNE_K, 2, 0, 0, 1), true)),
            DevType::Char => block.push((insn(JNE_K, 2, 0, 0, 2), true)),
        }
        if r.access != ACC_ALL {
            block.push((insn(ALU32_MOV_X, 1, 3, 0, 0), false));
            if r.allow {
                // Skip unless every requested bit is granted.
                let not_granted = (!r.access & ACC_ALL) as i32;
                block.push((insn(ALU32_AND_K, 1, 0, 0, not_granted), false));
                block.push((insn(JNE_K, 1, 0, 0, 0), true));
            } else {
                // Skip unless some requested bit is denied.
                block.push((insn(ALU32_AND_K, 1, 0, 0, r.access as i32), false));
                block.push((insn(JEQ_K, 1, 0, 0, 0), true));
            }
        }
        if let Some(m) = r.major {
            block.push((insn(JNE_K, 4, 0, 0, imm_of(m)?), true));
        }
        if let Some(m) = r.minor {
            block.push((insn(JNE_K, 5, 0, 0, imm_of(m)?), true));
        }
        block.push((insn(ALU64_MOV_K, 0, 0, 0, i32::from(r.allow)), false));
        block.push((insn(EXIT, 0, 0, 0, 0), false));
        let len = block.len();
        for (i, (mut ins, is_jump)) in block.into_iter().enumerate() {
            if is_jump {
                // Jump to the first instruction after the block.
                ins.off = i16::try_from(len - i - 1).unwrap_or(i16::MAX);
            }
            prog.push(ins);
        }
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(eff.default_allow)));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    Ok(prog)
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Call bpf(2) with an attribute struct; returns the (non-negative) result.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialised #[repr(C)] struct matching the layout the kernel
    // expects for `cmd`, and the size passed is its exact size; the kernel zero-extends it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned_fd(raw: libc::c_long) -> OwnedFd {
    // SAFETY: `raw` was just returned by a successful bpf(2) call creating a new descriptor
    // that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(raw as RawFd) }
}

/// Load a device program, returning its fd; on failure the verifier's log is in the error.
pub fn load(prog: &[Insn], cgroup: &Path) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..12].copy_from_slice(b"berth_device");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(owned_fd(fd)),
        Err(first) => {
            // Again with the verifier log, to say why.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let err = match bpf(BPF_PROG_LOAD, &mut attr) {
                Ok(fd) => return Ok(owned_fd(fd)),
                Err(e) => e,
            };
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            tracing::debug!(%first, "bpf load failed");
            Err(Error::Bpf {
                op: "load",
                path: cgroup.to_path_buf(),
                source: err,
                log: if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                },
            })
        }
    }
}

/// The ids of device programs attached to a cgroup.
fn query(cg_fd: RawFd, cgroup: &Path) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cg_fd as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr).map_err(|source| Error::Bpf {
        op: "query",
        path: cgroup.to_path_buf(),
        source,
        log: String::new(),
    })?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// Compile `rules`, load the program and make it the cgroup's only device program: attach it
/// (multi mode), then detach the ones attached before, so an `update` replaces the rules
/// without a moment with no filter.
pub fn attach(cgroup: &Path, rules: &[DeviceRule]) -> Result<()> {
    let prog = compile(rules)?;
    let prog_fd = load(&prog, cgroup)?;
    let dir = std::fs::File::open(cgroup).map_err(|e| Error::io("open", cgroup, e))?;
    let cg_fd = dir.as_raw_fd();
    let bpf_err = |op: &'static str, source: std::io::Error| Error::Bpf {
        op,
        path: cgroup.to_path_buf(),
        source,
        log: String::new(),
    };
    let old = query(cg_fd, cgroup)?;
    let mut attr = AttachAttr {
        target_fd: cg_fd as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    if let Err(e) = bpf(BPF_PROG_ATTACH, &mut attr) {
        // A program attached by someone else without multi mode can only be replaced.
        if old.len() == 1 {
            attr.attach_flags = 0;
            bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| bpf_err("attach", e))?;
            return Ok(());
        }
        return Err(bpf_err("attach", e));
    }
    for id in old {
        let mut get = GetFdAttr {
            prog_id: id,
            ..Default::default()
        };
        let old_fd = match bpf(BPF_PROG_GET_FD_BY_ID, &mut get) {
            Ok(fd) => owned_fd(fd),
            // Gone meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(bpf_err("get-fd", e)),
        };
        let mut det = AttachAttr {
            target_fd: cg_fd as u32,
            attach_bpf_fd: old_fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        match bpf(BPF_PROG_DETACH, &mut det) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(bpf_err("detach", e)),
        }
    }
    Ok(())
}

/// How many device programs are attached to a cgroup (for tests and diagnostics).
pub fn attached_count(cgroup: &Path) -> Result<usize> {
    let dir = std::fs::File::open(cgroup).map_err(|e| Error::io("open", cgroup, e))?;
    Ok(query(dir.as_raw_fd(), cgroup)?.len())
}

#[cfg(test)]
#[path = "devices_ebpf_tests.rs"]
mod tests;
