//! `docker stats`: one reading of a container's counters in docker's JSON shape
//! (`cpu_stats`, `precpu_stats`, `memory_stats`, `pids_stats`, `blkio_stats`, `networks`),
//! from the container's cgroup in whichever hierarchy holds each controller
//! (`berth-cgroups`) and from `/proc/<init>/net/dev`, which shows the container's network
//! namespace.

use berth_cgroups::stats::{BlkioEntry, Stats};
use serde_json::{json, Map, Value};

use crate::containers::Containers;
use crate::error::{EngineError, Result};
use crate::time::{now_rfc3339, ZERO_TIME};

/// Host CPU time in nanoseconds: the `cpu` line of `/proc/stat` (docker's `system_cpu_usage`).
pub fn system_cpu_usage() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    // SAFETY: sysconf with a valid name has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    text.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
        })
        .map_or(0, |ticks| ticks * (1_000_000_000 / hz))
}

/// Host memory (`MemTotal`), docker's `limit` when the container has none.
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// Per-interface counters of a `/proc/<pid>/net/dev` text, loopback left out (docker's
/// `networks`).
pub fn parse_net_dev(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() < 12 {
            continue;
        }
        out.insert(
            name.to_owned(),
            json!({"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                   "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]}),
        );
    }
    out
}

fn blkio(list: &[BlkioEntry]) -> Value {
    if list.is_empty() {
        return Value::Null;
    }
    list.iter()
        .map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}))
        .collect()
}

fn empty_cpu() -> Value {
    json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
           "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}})
}

/// Docker's stats document from cgroup counters (`s`), network counters and the reading time.
pub fn document(id: &str, name: &str, s: &Stats, networks: Map<String, Value>) -> Value {
    let mut usage = json!({
        "total_usage": s.cpu.usage_total_ns,
        "usage_in_kernelmode": s.cpu.usage_system_ns,
        "usage_in_usermode": s.cpu.usage_user_ns,
    });
    if !s.cpu.per_cpu_ns.is_empty() {
        usage["percpu_usage"] = json!(s.cpu.per_cpu_ns);
    }
    let host_mem = host_memory();
    let limit = s
        .memory
        .limit
        .filter(|l| host_mem == 0 || *l < host_mem)
        .unwrap_or(host_mem);
    let mut pids = json!({"current": s.pids.current});
    if let Some(l) = s.pids.limit {
        pids["limit"] = json!(l);
    }
    let mut doc = json!({
        "read": now_rfc3339(),
        "preread": ZERO_TIME,
        "id": id,
        "name": format!("/{name}"),
        "num_procs": 0,
        "storage_stats": {},
        "pids_stats": pids,
        "blkio_stats": {
            "io_service_bytes_recursive": blkio(&s.blkio.service_bytes),
            "io_serviced_recursive": blkio(&s.blkio.serviced),
            "io_queue_recursive": null, "io_service_time_recursive": null,
            "io_wait_time_recursive": null, "io_merged_recursive": null,
            "io_time_recursive": null, "sectors_recursive": null,
        },
        "cpu_stats": {
            "cpu_usage": usage,
            "system_cpu_usage": system_cpu_usage(),
            "online_cpus": crate::resources::host_cpus(),
            "throttling_data": {
                "periods": s.cpu.throttling.periods,
                "throttled_periods": s.cpu.throttling.throttled_periods,
                "throttled_time": s.cpu.throttling.throttled_time_ns,
            },
        },
        "precpu_stats": empty_cpu(),
        "memory_stats": {
            "usage": s.memory.usage,
            "max_usage": s.memory.max_usage,
            "failcnt": s.memory.failcnt,
            "limit": limit,
            "stats": s.memory.stat,
        },
    });
    if !networks.is_empty() {
        doc["networks"] = Value::Object(networks);
    }
    doc
}

/// Carries the previous reading's CPU counters into `cur` as docker's `precpu_stats`.
pub fn with_previous(mut cur: Value, prev: Option<&Value>) -> Value {
    if let Some(p) = prev {
        cur["precpu_stats"] = p["cpu_stats"].clone();
        cur["preread"] = p["read"].clone();
    }
    cur
}

impl Containers {
    /// One reading of container `key`'s counters (zeros when it is not running), with
    /// `prev`'s CPU counters as `precpu_stats`.
    pub fn stats(&self, key: &str, prev: Option<&Value>) -> Result<Value> {
        let (id, name, pid) = {
            let inner = self.lock();
            let id = Self::find_id(&inner, key)?;
            let rec = inner
                .containers
                .get(&id)
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
            let pid = if rec.state.running { rec.state.pid } else { 0 };
            (id, rec.short_name().to_owned(), pid)
        };
        if pid == 0 {
            let mut doc = document(&id, &name, &Stats::default(), Map::new());
            doc["read"] = json!(ZERO_TIME);
            doc["cpu_stats"] = empty_cpu();
            doc["memory_stats"] = json!({});
            doc["pids_stats"] = json!({});
            return Ok(with_previous(doc, prev));
        }
        let stats = match self.rootless_stats(&id) {
            Some(s) => s,
            None => berth_runtime::container::Container::load(&self.runtime_root(), &id)
                .and_then(|c| c.cgroup())
                .map_err(|e| EngineError::Internal(format!("stats of {id}: {e}")))?
                .stats()
                .map_err(|e| EngineError::Internal(format!("stats of {id}: {e}")))?,
        };
        let net = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
            .map(|t| parse_net_dev(&t))
            .unwrap_or_default();
        Ok(with_previous(document(&id, &name, &stats, net), prev))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn net_dev_skips_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n  eth0:    1500      10    1    2    0     0          0         0      700       5    0    3    0     0       0          0\n";
        let m = parse_net_dev(text);
        assert_eq!(m.len(), 1);
        assert_eq!(m["eth0"]["rx_bytes"], 1500);
        assert_eq!(m["eth0"]["tx_bytes"], 700);
        assert_eq!(m["eth0"]["tx_dropped"], 3);
    }

    #[test]
    fn document_has_docker_shape() {
        let mut s = Stats::default();
        s.cpu.usage_total_ns = 5;
        s.memory.usage = 4096;
        s.memory.limit = Some(32 << 20);
        s.pids.current = 2;
        let prev = document("abc", "n", &s, Map::new());
        s.cpu.usage_total_ns = 9;
        let d = with_previous(document("abc", "n", &s, Map::new()), Some(&prev));
        assert_eq!(d["name"], "/n");
        assert_eq!(d["memory_stats"]["limit"], 32 << 20);
        assert_eq!(d["cpu_stats"]["cpu_usage"]["total_usage"], 9);
        assert_eq!(d["precpu_stats"]["cpu_usage"]["total_usage"], 5);
        assert_eq!(d["pids_stats"]["current"], 2);
        assert!(d["blkio_stats"]["io_service_bytes_recursive"].is_null());
        assert!(d.get("networks").is_none());
        assert!(d["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    }
}
