//! v2 manager against a temporary directory laid out like a unified hierarchy.

use std::path::Path;

use super::*;
use crate::detect::{Hierarchy, Layout};
use crate::{FreezerState, Manager as AnyManager};

fn seed(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("seed");
    }
}

fn rd(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("read")
}

fn layout(root: &Path) -> Layout {
    Layout {
        v1: Vec::new(),
        unified: Some(Hierarchy {
            mount_point: root.to_path_buf(),
            mount_root: "/".into(),
            controllers: Vec::new(),
            own_cgroup: "/".into(),
        }),
    }
}

fn manager(root: &Path, path: &str) -> Manager {
    match AnyManager::with_layout(&layout(root), Some(path), "c1").expect("manager") {
        AnyManager::V2(m) => m,
        AnyManager::V1(_) => panic!("a unified layout must give a v2 manager"),
    }
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

#[test]
fn create_enables_controllers_top_down() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    seed(
        root,
        &[
            ("cgroup.controllers", "cpuset cpu io memory pids\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    seed(
        &root.join("a"),
        &[
            ("cgroup.controllers", "cpu memory pids\n"),
            ("cgroup.subtree_control", "memory"),
        ],
    );
    let m = manager(root, "/a/b/c");
    m.create().expect("create");
    assert!(root.join("a/b/c").is_dir());
    assert_eq!(
        rd(root, "cgroup.subtree_control"),
        "+cpuset +cpu +io +memory +pids"
    );
    assert_eq!(
        rd(&root.join("a"), "cgroup.subtree_control"),
        "+cpu +pids",
        "only the missing ones are written"
    );
    // Idempotent: nothing new to enable, directories exist.
    std::fs::write(
        root.join("cgroup.subtree_control"),
        "cpuset cpu io memory pids",
    )
    .expect("w");
    m.create().expect("create again");
    assert_eq!(
        rd(root, "cgroup.subtree_control"),
        "cpuset cpu io memory pids"
    );
    assert_eq!(m.path(), root.join("a/b/c"));
}

fn leaf_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n"),
        ("memory.max", "max\n"),
        ("memory.low", "0\n"),
        ("memory.swap.max", "max\n"),
        ("memory.high", "max\n"),
        ("cpu.weight", "100\n"),
        ("cpu.max", "max 100000\n"),
        ("cpu.max.burst", "0\n"),
        ("cpu.idle", "0\n"),
        ("cpuset.cpus", ""),
        ("cpuset.mems", ""),
        ("pids.max", "max\n"),
        ("io.weight", ""),
        ("io.max", ""),
        ("hugetlb.2MB.max", "max\n"),
    ]
}

#[test]
fn apply_writes_converted_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let leaf = root.join("c1");
    seed(&leaf, &leaf_files());
    let m = manager(root, "/c1");
    let mut json = String::from(
        r#"{
        "memory": {"limit": 1048576, "swap": 3145728, "reservation": 524288, "swappiness": 10},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "idle": 1,
                "cpus": "0", "mems": "0"},
        "pids": {"limit": 64},
        "blockIO": {"weight": 500,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]},
        "unified": {"memory.high": "2097152"}"#,
    );
    let has_2mb = crate::hugepages::page_sizes().iter().any(|s| s == "2MB");
    if has_2mb {
        json.push_str(r#", "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]"#);
    }
    json.push('}');
    m.apply(&resources(&json)).expect("apply");
    assert_eq!(rd(&leaf, "memory.max"), "1048576");
    assert_eq!(
        rd(&leaf, "memory.swap.max"),
        "2097152",
        "swap = total - memory"
    );
    assert_eq!(rd(&leaf, "memory.low"), "524288");
    assert_eq!(rd(&leaf, "memory.high"), "2097152");
    assert_eq!(rd(&leaf, "cpu.weight"), "100");
    assert_eq!(rd(&leaf, "cpu.max"), "50000 100000");
    assert_eq!(rd(&leaf, "cpu.max.burst"), "1000");
    assert_eq!(rd(&leaf, "cpu.idle"), "1");
    assert_eq!(rd(&leaf, "cpuset.cpus"), "0");
    assert_eq!(rd(&leaf, "pids.max"), "64");
    assert_eq!(
        rd(&leaf, "io.weight"),
        format!("default {}\n8:0 10000\n", 1 + 490 * 9999 / 990)
    );
    assert_eq!(rd(&leaf, "io.max"), "8:0 rbps=1048576\n8:16 wiops=100\n");
    if has_2mb {
        assert_eq!(rd(&leaf, "hugetlb.2MB.max"), "4194304");
    }
}

#[test]
fn apply_refuses_missing_controller_and_realtime() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let leaf = root.join("c1");
    seed(&leaf, &leaf_files());
    std::fs::write(leaf.join("cgroup.controllers"), "cpu memory").expect("w");
    let m = manager(root, "/c1");
    let err = m
        .apply(&resources(r#"{"pids": {"limit": 10}}"#))
        .expect_err("pids is not enabled");
    assert!(err.to_string().contains("controller pids"), "{err}");
    let err = m
        .apply(&resources(r#"{"cpu": {"realtimeRuntime": 1000}}"#))
        .expect_err("realtime");
    assert!(err.to_string().contains("realtime"), "{err}");
    let err = m
        .apply(&resources(r#"{"memory": {"swap": 100}}"#))
        .expect_err("swap without memory");
    assert!(err.to_string().contains("swap"), "{err}");
    assert_eq!(
        rd(&leaf, "memory.swap.max"),
        "max\n",
        "nothing written on error"
    );
    let err = m
        .apply(&resources(r#"{"unified": {"rdma.max": "x"}}"#))
        .expect_err("unified key of a missing controller");
    assert!(err.to_string().contains("rdma.max"), "{err}");
    // Only-period update keeps the current quota.
    std::fs::write(leaf.join("cpu.max"), "20000 100000\n").expect("w");
    m.apply(&resources(r#"{"cpu": {"period": 50000}}"#))
        .expect("period only");
    assert_eq!(rd(&leaf, "cpu.max"), "20000 50000");
}

#[test]
fn stats_read_v2_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let leaf = tmp.path().join("c1");
    seed(
        &leaf,
        &[
            (
                "cpu.stat",
                "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\n\
                 nr_throttled 2\nthrottled_usec 30\n",
            ),
            ("memory.current", "8192\n"),
            ("memory.peak", "16384\n"),
            ("memory.max", "1048576\n"),
            ("memory.stat", "anon 4096\nfile 2048\ninactive_file 1024\n"),
            ("memory.swap.current", "512\n"),
            ("memory.swap.max", "max\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n",
            ),
            ("pids.current", "3\n"),
            ("pids.max", "max\n"),
            (
                "io.stat",
                "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
            ),
            ("cgroup.procs", "10\n11\n"),
        ],
    );
    seed(&leaf.join("sub"), &[("cgroup.procs", "12\n")]);
    let m = manager(tmp.path(), "/c1");
    let s = m.stats().expect("stats");
    assert_eq!(s.cpu.usage_total_ns, 1_500_000);
    assert_eq!(s.cpu.usage_user_ns, 1_000_000);
    assert_eq!(s.cpu.usage_system_ns, 500_000);
    assert_eq!(s.cpu.throttling.throttled_periods, 2);
    assert_eq!(s.cpu.throttling.throttled_time_ns, 30_000);
    assert_eq!(s.memory.usage, 8192);
    assert_eq!(s.memory.max_usage, 16384);
    assert_eq!(s.memory.limit, Some(1_048_576));
    assert_eq!(s.memory.rss, 4096);
    assert_eq!(s.memory.cache, 2048);
    assert_eq!(s.memory.swap_usage, 512);
    assert_eq!(s.memory.swap_limit, None);
    assert_eq!(s.memory.failcnt, 7);
    assert_eq!(s.memory.oom_events, 2);
    assert_eq!(s.memory.oom_kill, 1);
    assert_eq!(s.memory.stat.get("inactive_file"), Some(&1024));
    assert_eq!(s.pids.current, 3);
    assert_eq!(s.pids.limit, None);
    assert_eq!(s.blkio.service_bytes.len(), 3);
    assert_eq!(s.blkio.serviced[1].value, 2);
    let mut pids = m.pids().expect("pids");
    pids.sort();
    assert_eq!(pids, vec![10, 11, 12]);
}

#[test]
fn freezer_reads_events() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let leaf = tmp.path().join("c1");
    seed(
        &leaf,
        &[
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 1\n"),
        ],
    );
    let m = manager(tmp.path(), "/c1");
    m.set_freezer(FreezerState::Frozen).expect("freeze");
    assert_eq!(rd(&leaf, "cgroup.freeze"), "1");
    assert_eq!(m.freezer_state().expect("state"), FreezerState::Frozen);
    std::fs::write(leaf.join("cgroup.events"), "populated 1\nfrozen 0\n").expect("w");
    m.set_freezer(FreezerState::Thawed).expect("thaw");
    assert_eq!(m.freezer_state().expect("state"), FreezerState::Thawed);
}

#[test]
fn destroy_removes_tree_and_default_parent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let m = match AnyManager::with_layout(&layout(root), None, "c1").expect("manager") {
        AnyManager::V2(m) => m,
        AnyManager::V1(_) => panic!("v2 expected"),
    };
    std::fs::create_dir_all(root.join("berth/c1/inner")).expect("mkdir");
    m.destroy().expect("destroy");
    assert!(!root.join("berth").exists(), "empty default parent removed");
    m.destroy().expect("destroy again");
}
