//! Resource usage of a container's cgroup, the same shape on v1 and v2, so the engine's
//! `stats` command and its OOM detection need not know which version the host runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything [`crate::Manager::stats`] reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// Memory usage, limits and OOM counters.
    pub memory: MemoryStats,
    /// Process count.
    pub pids: PidsStats,
    /// Block I/O per device.
    pub blkio: BlkioStats,
    /// Huge page usage per page size ("2MB", "1GB").
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// CPU accounting; all times in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Total CPU time consumed.
    pub usage_total_ns: u64,
    /// Time in user mode.
    pub usage_user_ns: u64,
    /// Time in kernel mode.
    pub usage_system_ns: u64,
    /// Total time per CPU (v1 `cpuacct.usage_percpu`; empty on v2, which has no such file).
    pub per_cpu_ns: Vec<u64>,
    /// CFS bandwidth throttling.
    pub throttling: ThrottlingStats,
}

/// CFS quota enforcement counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThrottlingStats {
    /// Enforcement periods that elapsed.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Total time throttled.
    pub throttled_time_ns: u64,
}

/// Memory accounting, in bytes unless named a count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Current usage (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub usage: u64,
    /// Peak usage (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`; 0 when the kernel has none).
    pub max_usage: u64,
    /// The limit; `None` when unlimited.
    pub limit: Option<u64>,
    /// Page cache (v1 `cache`/`total_cache`, v2 `file`).
    pub cache: u64,
    /// Anonymous memory (v1 `rss`/`total_rss`, v2 `anon`).
    pub rss: u64,
    /// Swap in use.
    pub swap_usage: u64,
    /// Swap limit (v1: memory+swap, as the kernel reports it; v2: swap alone); `None` when
    /// unlimited or not accounted.
    pub swap_limit: Option<u64>,
    /// Times the limit was hit (v1 `memory.failcnt`, v2 `memory.events` `max`).
    pub failcnt: u64,
    /// Processes killed by the OOM killer in this cgroup (v1 `memory.oom_control`, v2
    /// `memory.events` `oom_kill`).
    pub oom_kill: u64,
    /// Times the cgroup went out of memory (v2 `memory.events` `oom`; v1 has no such counter
    /// and reports `oom_kill` here).
    pub oom_events: u64,
    /// Whether the cgroup is out of memory right now (v1 `under_oom`; always false on v2).
    pub under_oom: bool,
    /// The raw `memory.stat` counters, for callers wanting more (e.g. `inactive_file`).
    pub stat: BTreeMap<String, u64>,
}

/// Process count and limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Processes and threads now in the cgroup.
    pub current: u64,
    /// The limit; `None` when unlimited.
    pub limit: Option<u64>,
}

/// Block I/O per device and operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes transferred.
    pub service_bytes: Vec<BlkioEntry>,
    /// Operations completed.
    pub serviced: Vec<BlkioEntry>,
}

/// One device/operation counter ("8:0 Read 4096").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// "Read", "Write", "Discard" (v2), or v1's "Sync", "Async", "Total".
    pub op: String,
    /// The counter.
    pub value: u64,
}

/// Huge page usage of one page size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HugetlbStats {
    /// Bytes in use.
    pub usage: u64,
    /// Peak bytes (v1 only; 0 on v2).
    pub max_usage: u64,
    /// Allocations that failed because of the limit.
    pub failcnt: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_stable_field_names() {
        let mut s = Stats::default();
        s.memory.oom_kill = 2;
        s.memory.limit = Some(4096);
        let v = serde_json::to_value(&s).expect("serialize");
        assert_eq!(v["memory"]["oom_kill"], 2);
        assert_eq!(v["memory"]["limit"], 4096);
        assert!(v["pids"]["limit"].is_null());
        let back: Stats = serde_json::from_value(v).expect("deserialize");
        assert_eq!(back, s);
    }
}
