//! Resource limits from the spec reach the container's cgroup, and the cgroup goes with delete.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

#[test]
fn memory_and_pids_limits_apply_and_cgroup_is_removed() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["sleep", "1000"]);
    spec["linux"]["resources"] = json!({
        "memory": {"limit": 67108864},
        "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    });
    w.write_spec(&spec);
    let id = w.id("cg");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &id]));
    let pid = w.state(&id)["pid"].as_i64().unwrap();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let read = |ctrl: &str, v1file: &str, v2file: &str| -> String {
        let line = cgroup
            .lines()
            .find(|l| {
                if unified {
                    l.starts_with("0::")
                } else {
                    l.split(':')
                        .nth(1)
                        .is_some_and(|c| c.split(',').any(|x| x == ctrl))
                }
            })
            .unwrap();
        let rel = line.splitn(3, ':').nth(2).unwrap();
        let base = if unified {
            "/sys/fs/cgroup".to_owned()
        } else {
            format!("/sys/fs/cgroup/{ctrl}")
        };
        let f = if unified { v2file } else { v1file };
        std::fs::read_to_string(format!("{base}{rel}/{f}"))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes", "memory.max"),
        "67108864"
    );
    assert_eq!(read("pids", "pids.max", "pids.max"), "20");
    if !unified {
        assert_eq!(read("cpu", "cpu.shares", "cpu.weight"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us", "cpu.max"), "50000");
    }
    // A fork loop stops at the pids limit (counted from the host).
    ok(&w.rt(&[
        "exec",
        "-d",
        &id,
        "sh",
        "-c",
        "for i in $(seq 40); do sleep 100 & done; wait",
    ]));
    // Until the forks have hit the limit (or at least 10 run).
    wait_until(
        "the exec's forks",
        std::time::Duration::from_secs(10),
        || {
            let pids: Vec<i64> =
                serde_json::from_str(&ok(&w.rt(&["ps", "--format", "json", &id]))).unwrap();
            pids.len() >= 10
        },
    );
    let pids: Vec<i64> =
        serde_json::from_str(&ok(&w.rt(&["ps", "--format", "json", &id]))).unwrap();
    assert!(
        pids.len() >= 10 && pids.len() <= 20,
        "processes: {}",
        pids.len()
    );
    ok(&w.rt(&["delete", "--force", &id]));
    assert!(!cgroup_exists(&id), "cgroup left behind");
}
