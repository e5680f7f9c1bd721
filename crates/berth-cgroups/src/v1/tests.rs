//! v1 manager against temporary directories laid out like a hybrid host: v1 hierarchies
//! for most controllers, hugetlb only in the unified hierarchy.

use std::path::Path;

use super::*;
use crate::detect::{Hierarchy, Layout};
use crate::{CgroupMode, Manager as AnyManager};
use oci_spec::runtime::LinuxResources;

fn seed(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("seed");
    }
}

fn rd(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("read")
}

const V1: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
];

fn layout(root: &Path, hybrid: bool) -> Layout {
    let v1 = V1
        .iter()
        .map(|c| {
            let mp = root.join(c);
            std::fs::create_dir_all(&mp).expect("mkdir");
            Hierarchy {
                mount_point: mp,
                mount_root: "/".into(),
                controllers: vec![c.to_string()],
                own_cgroup: "/".into(),
            }
        })
        .collect();
    let unified = hybrid.then(|| {
        let mp = root.join("unified");
        seed(
            &mp,
            &[
                ("cgroup.controllers", "hugetlb\n"),
                ("cgroup.subtree_control", ""),
            ],
        );
        Hierarchy {
            mount_point: mp,
            mount_root: "/".into(),
            controllers: Vec::new(),
            own_cgroup: "/".into(),
        }
    });
    Layout { v1, unified }
}

fn manager(l: &Layout, path: &str) -> Manager {
    match AnyManager::with_layout(l, Some(path), "c1").expect("manager") {
        AnyManager::V1(m) => m,
        AnyManager::V2(_) => panic!("v1 layout must give a v1 manager"),
    }
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

#[test]
fn create_in_every_hierarchy_with_cpuset_copy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let l = layout(root, true);
    assert_eq!(
        AnyManager::with_layout(&l, Some("/x/c1"), "c1")
            .expect("m")
            .mode(),
        CgroupMode::Hybrid
    );
    seed(
        &root.join("cpuset"),
        &[("cpuset.cpus", "0-1\n"), ("cpuset.mems", "0\n")],
    );
    // What the kernel would show in new cpuset directories: empty lists.
    seed(
        &root.join("cpuset/x/c1"),
        &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
    );
    seed(
        &root.join("cpuset/x"),
        &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
    );
    let m = manager(&l, "/x/c1");
    m.create().expect("create");
    for c in V1 {
        assert!(root.join(c).join("x/c1").is_dir(), "{c}");
    }
    assert!(root.join("unified/x/c1").is_dir());
    // Creating enables nothing on cgroup2 (other runtimes need hugetlb free for v1) ...
    let subtree =
        || std::fs::read_to_string(root.join("unified/cgroup.subtree_control")).unwrap_or_default();
    assert_eq!(subtree().trim(), "");
    // ... until a spec asks for a limit that only cgroup2 can hold.
    let r: LinuxResources = serde_json::from_value(serde_json::json!({
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]
    }))
    .unwrap();
    let _ = m.apply(&r);
    assert_eq!(subtree().trim(), "+hugetlb");
    assert_eq!(rd(&root.join("cpuset/x"), "cpuset.cpus"), "0-1");
    assert_eq!(rd(&root.join("cpuset/x/c1"), "cpuset.mems"), "0");
    assert_eq!(m.paths().len(), V1.len() + 1);
}

#[test]
fn apply_routes_each_controller() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let l = layout(root, true);
    let d = |c: &str| root.join(c).join("c1");
    seed(
        &d("memory"),
        &[
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory.soft_limit_in_bytes", ""),
            ("memory.swappiness", "60\n"),
            ("memory.oom_control", ""),
        ],
    );
    seed(
        &d("cpu"),
        &[
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_period_us", "100000\n"),
        ],
    );
    seed(&d("pids"), &[("pids.max", "max\n")]);
    seed(
        &d("blkio"),
        &[
            ("blkio.bfq.weight", ""),
            ("blkio.throttle.read_bps_device", ""),
        ],
    );
    seed(
        &d("devices"),
        &[("devices.allow", ""), ("devices.deny", "")],
    );
    seed(
        &d("unified"),
        &[
            ("cgroup.controllers", "hugetlb\n"),
            ("hugetlb.2MB.max", "max\n"),
        ],
    );
    let m = manager(&l, "/c1");
    let has_2mb = crate::hugepages::page_sizes().iter().any(|s| s == "2MB");
    let huge = if has_2mb {
        r#", "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]"#
    } else {
        ""
    };
    let json = format!(
        r#"{{
        "memory": {{"limit": 1048576, "swap": 2097152, "reservation": 4096,
                    "swappiness": 0, "disableOOMKiller": true}},
        "cpu": {{"shares": 512, "quota": 20000, "period": 50000}},
        "pids": {{"limit": 32}},
        "blockIO": {{"weight": 300,
                     "throttleReadBpsDevice": [{{"major": 8, "minor": 0, "rate": 1000}}]}},
        "devices": [{{"allow": false, "access": "rwm"}},
                    {{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}},
                    {{"allow": false, "type": "c", "major": 1, "minor": 5, "access": "w"}}]
        {huge}}}"#
    );
    m.apply(&resources(&json)).expect("apply");
    let mem = d("memory");
    assert_eq!(rd(&mem, "memory.limit_in_bytes"), "1048576");
    assert_eq!(rd(&mem, "memory.memsw.limit_in_bytes"), "2097152");
    assert_eq!(rd(&mem, "memory.soft_limit_in_bytes"), "4096");
    assert_eq!(rd(&mem, "memory.swappiness"), "0");
    assert_eq!(rd(&mem, "memory.oom_control"), "1");
    assert_eq!(rd(&d("cpu"), "cpu.shares"), "512");
    assert_eq!(rd(&d("cpu"), "cpu.cfs_quota_us"), "20000");
    assert_eq!(rd(&d("cpu"), "cpu.cfs_period_us"), "50000");
    assert_eq!(rd(&d("pids"), "pids.max"), "32");
    assert_eq!(
        rd(&d("blkio"), "blkio.bfq.weight"),
        "300",
        "BFQ file when CFQ's is absent"
    );
    assert_eq!(
        rd(&d("blkio"), "blkio.throttle.read_bps_device"),
        "8:0 1000\n"
    );
    assert_eq!(rd(&d("devices"), "devices.deny"), "a *:* rwm\nc 1:5 w\n");
    assert_eq!(rd(&d("devices"), "devices.allow"), "c 1:3 rwm\n");
    if has_2mb {
        assert_eq!(
            rd(&d("unified"), "hugetlb.2MB.max"),
            "2097152",
            "hugetlb lives in the unified hierarchy on this layout"
        );
    }
}

#[test]
fn legacy_without_unified_refuses_unified_map() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let l = layout(tmp.path(), false);
    let m = manager(&l, "/c1");
    let err = m
        .apply(&resources(r#"{"unified": {"memory.high": "1"}}"#))
        .expect_err("legacy host");
    assert!(err.to_string().contains("unified"), "{err}");
    let err = m
        .apply(&resources(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
        ))
        .expect_err("no hugetlb anywhere");
    assert!(err.to_string().contains("hugetlb"), "{err}");
}

#[test]
fn stats_read_v1_files_and_unified_hugetlb() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let l = layout(root, true);
    let d = |c: &str| root.join(c).join("c1");
    seed(
        &d("cpuacct"),
        &[
            ("cpuacct.usage", "3000\n"),
            ("cpuacct.usage_user", "2000\n"),
            ("cpuacct.usage_sys", "1000\n"),
            ("cpuacct.usage_percpu", "1000 2000 \n"),
        ],
    );
    seed(
        &d("cpu"),
        &[(
            "cpu.stat",
            "nr_periods 5\nnr_throttled 1\nthrottled_time 777\n",
        )],
    );
    seed(
        &d("memory"),
        &[
            ("memory.usage_in_bytes", "4096\n"),
            ("memory.max_usage_in_bytes", "8192\n"),
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.usage_in_bytes", "5120\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory.failcnt", "4\n"),
            (
                "memory.stat",
                "cache 10\nrss 20\ntotal_cache 100\ntotal_rss 200\n",
            ),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
            ),
        ],
    );
    seed(
        &d("pids"),
        &[
            ("pids.current", "2\n"),
            ("pids.max", "32\n"),
            ("cgroup.procs", "7\n8\n"),
        ],
    );
    seed(
        &d("blkio"),
        &[(
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 512\n8:0 Write 1024\nTotal 1536\n",
        )],
    );
    let sizes = crate::hugepages::page_sizes();
    let files: Vec<(String, &str)> = sizes
        .iter()
        .flat_map(|s| {
            [
                (format!("hugetlb.{s}.current"), "0\n"),
                (format!("hugetlb.{s}.events"), "max 6\n"),
            ]
        })
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    seed(&d("unified"), &refs);
    let m = manager(&l, "/c1");
    let s = m.stats().expect("stats");
    assert_eq!(s.cpu.usage_total_ns, 3000);
    assert_eq!(s.cpu.usage_user_ns, 2000);
    assert_eq!(s.cpu.usage_system_ns, 1000);
    assert_eq!(s.cpu.per_cpu_ns, vec![1000, 2000]);
    assert_eq!(s.cpu.throttling.throttled_time_ns, 777);
    assert_eq!(s.memory.usage, 4096);
    assert_eq!(s.memory.max_usage, 8192);
    assert_eq!(s.memory.limit, None);
    assert_eq!(s.memory.swap_usage, 1024);
    assert_eq!(s.memory.cache, 100, "hierarchical counters preferred");
    assert_eq!(s.memory.rss, 200);
    assert_eq!(s.memory.failcnt, 4);
    assert_eq!(s.memory.oom_kill, 3);
    assert_eq!(s.memory.oom_events, 3);
    assert_eq!(s.pids.current, 2);
    assert_eq!(s.pids.limit, Some(32));
    assert_eq!(s.blkio.service_bytes.len(), 2);
    assert_eq!(s.hugetlb.len(), sizes.len());
    for h in s.hugetlb.values() {
        assert_eq!(h.failcnt, 6);
    }
    assert_eq!(m.pids().expect("pids"), vec![7, 8]);
}

#[test]
fn freezer_and_destroy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let l = layout(root, false);
    let m = manager(&l, "/c1");
    seed(&root.join("freezer/c1"), &[("freezer.state", "THAWED\n")]);
    // A plain file keeps what we write, as a kernel that froze at once would report.
    m.set_freezer(FreezerState::Frozen).expect("freeze");
    assert_eq!(m.freezer_state().expect("state"), FreezerState::Frozen);
    m.set_freezer(FreezerState::Thawed).expect("thaw");
    assert_eq!(m.freezer_state().expect("state"), FreezerState::Thawed);
    std::fs::remove_file(root.join("freezer/c1/freezer.state")).expect("rm");
    for c in V1 {
        std::fs::create_dir_all(root.join(c).join("c1")).expect("mkdir");
    }
    m.destroy().expect("destroy");
    for c in V1 {
        assert!(!root.join(c).join("c1").exists(), "{c}");
    }
    m.destroy().expect("destroy again");
}

#[test]
fn network_and_rdma_controllers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let hier = |c: &str| Hierarchy {
        mount_point: root.join(c),
        mount_root: "/".into(),
        controllers: c.split(',').map(str::to_string).collect(),
        own_cgroup: "/".into(),
    };
    let l = Layout {
        v1: vec![hier("net_cls,net_prio"), hier("rdma")],
        unified: None,
    };
    let m = manager(&l, "/c1");
    let net = root.join("net_cls,net_prio/c1");
    seed(
        &net,
        &[("net_cls.classid", "0\n"), ("net_prio.ifpriomap", "")],
    );
    seed(&root.join("rdma/c1"), &[("rdma.max", "")]);
    m.apply(&resources(
        r#"{"network": {"classID": 1048577,
                        "priorities": [{"name": "eth0", "priority": 5}, {"name": "lo", "priority": 2}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3}}}"#,
    ))
    .expect("apply");
    assert_eq!(rd(&net, "net_cls.classid"), "1048577");
    assert_eq!(rd(&net, "net_prio.ifpriomap"), "eth0 5\nlo 2\n");
    assert_eq!(
        rd(&root.join("rdma/c1"), "rdma.max"),
        "mlx5_1 hca_handle=3\n"
    );
    // Without the hierarchies, network settings are skipped with a warning, not an error.
    let bare = Layout {
        v1: vec![hier("memory")],
        unified: None,
    };
    manager(&bare, "/c1")
        .apply(&resources(r#"{"network": {"classID": 1}}"#))
        .expect("skipped");
}
