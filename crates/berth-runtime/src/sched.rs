//! The process's scheduling: `process.scheduler` (sched_setattr) and `process.ioPriority`
//! (ioprio_set). Both are per-process and inherited across exec, so the init sets them last.

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler,
};

/// Why a scheduling attribute could not be set.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error("sched_setattr: {0}")]
    Sched(nix::Error),
    #[error("ioprio_set: {0}")]
    Ioprio(nix::Error),
    #[error("invalid io priority {0} (0-7)")]
    IoprioRange(i64),
}

/// The kernel's `struct sched_attr` (sched_setattr(2)), which libc does not declare.
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

fn policy(p: LinuxSchedulerPolicy) -> u32 {
    (match p {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }) as u32
}

fn flag(f: LinuxSchedulerFlag) -> u64 {
    match f {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

/// Applies `process.scheduler` to the calling process.
pub fn set_scheduler(s: &Scheduler) -> Result<(), SchedError> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy(*s.policy()),
        flags: s
            .flags()
            .iter()
            .flatten()
            .map(|f| flag(*f))
            .fold(0, |a, b| a | b),
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: sched_setattr reads `size` bytes of the struct we own; pid 0 is the caller.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        return Err(SchedError::Sched(nix::Error::last()));
    }
    Ok(())
}

/// Applies `process.ioPriority` to the calling process.
pub fn set_io_priority(p: &LinuxIOPriority) -> Result<(), SchedError> {
    if !(0..=7).contains(&p.priority()) {
        return Err(SchedError::IoprioRange(p.priority()));
    }
    let class: i64 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    const IOPRIO_WHO_PROCESS: i64 = 1;
    // SAFETY: ioprio_set takes plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            (class << 13) | p.priority(),
        )
    };
    if r != 0 {
        return Err(SchedError::Ioprio(nix::Error::last()));
    }
    Ok(())
}
