//! Real-kernel tests: they create cgroups named `berth-test-<pid>-<n>` at the top of every
//! hierarchy, put processes in them, and remove everything in a Drop guard (`common`). They
//! need root and skip (with a note) without it, or fail under `BERTH_REQUIRE_ALL=1` (CI). Run
//! them on a v1/hybrid host and, through `tests/run-in-cgroup2-vm.sh`, on a pure cgroup v2
//! kernel. Device rules and block I/O are in `devices_io.rs`.

use std::path::Path;
use std::time::Duration;

use berth_cgroups::{CgroupMode, FreezerState, Layout, Manager};

mod common;

use common::{dir_for, finish, gated, host_has, is_root, read, release, res, unique, Guard};

#[test]
fn detects_the_host_layout() {
    let layout = Layout::detect().expect("detect");
    let m = Manager::new(None, "detect-only").expect("manager");
    assert_eq!(m.mode(), layout.mode());
    let sys_is_v2 = read(Path::new("/proc/self/mountinfo"))
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
    assert_eq!(sys_is_v2, m.mode() == CgroupMode::Unified);
    eprintln!("mode: {:?}, paths: {:?}", m.mode(), m.paths());
    assert!(m.paths().iter().all(|p| p.ends_with("berth/detect-only")));
}

#[test]
fn limits_stats_freeze_and_destroy() {
    if !is_root() {
        return;
    }
    let name = unique();
    let path = format!("/{name}");
    let m = Manager::new(Some(&path), "c").expect("manager");
    let mut g = Guard::new(m.clone());
    m.create().expect("create");
    m.create().expect("create is idempotent");
    assert_unified_dir_fd(&m);
    let huge = host_has("hugetlb")
        && berth_cgroups::hugepages::page_sizes()
            .iter()
            .any(|s| s == "2MB");
    if !huge {
        eprintln!("note: no hugetlb controller or 2MB pages; hugetlb not exercised");
    }
    m.apply(&res(&limits_json(huge))).expect("apply");
    assert_limits_written(&m);
    if huge {
        assert_hugetlb_written(&m);
    }
    assert_stats_of_a_task(&m, &mut g, huge);

    assert_eq!(m.state().expect("state"), FreezerState::Thawed);
    m.freeze().expect("freeze");
    assert_eq!(m.state().expect("state"), FreezerState::Frozen);
    m.thaw().expect("thaw");
    assert_eq!(m.state().expect("state"), FreezerState::Thawed);

    // The caller kills, then destroys.
    for c in &mut g.children {
        c.kill().expect("kill");
        c.wait().expect("wait");
    }
    g.children.clear();
    m.destroy().expect("destroy");
    for p in m.paths() {
        assert!(!p.exists(), "{} removed", p.display());
    }
    m.destroy().expect("destroy twice");
}

/// On cgroup v2 the manager hands out an fd of the cgroup directory (for `CLONE_INTO_CGROUP`);
/// on v1 there is none.
fn assert_unified_dir_fd(m: &Manager) {
    match m.unified_dir_fd().expect("open") {
        Some(fd) => {
            use std::os::fd::AsRawFd;
            // SAFETY: an all-zero stat is valid, and fstat only writes into it.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: the fd is open for the duration of the call.
            assert_eq!(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) }, 0);
            assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFDIR);
        }
        None => assert_ne!(m.mode(), CgroupMode::Unified),
    }
}

/// Memory, CPU, cpuset and pids limits, plus a 2MB hugetlb limit where the host has one.
fn limits_json(huge: bool) -> String {
    let mut json = String::from(
        r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 16}"#,
    );
    if huge {
        json.push_str(r#", "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]"#);
    }
    json.push('}');
    json
}

/// The kernel files hold what [`limits_json`] asked for, in each version's units (v2's
/// swap.max is swap alone, its cpu.weight converted from shares).
fn assert_limits_written(m: &Manager) {
    let v2 = m.mode() == CgroupMode::Unified;
    let mem = dir_for(m, "memory");
    let cpu = dir_for(m, "cpu");
    if v2 {
        assert_eq!(read(&mem.join("memory.max")), "67108864");
        if mem.join("memory.swap.max").exists() {
            assert_eq!(read(&mem.join("memory.swap.max")), "67108864");
        }
        assert_eq!(read(&mem.join("memory.low")), "33554432");
        assert_eq!(read(&cpu.join("cpu.weight")), "59");
        assert_eq!(read(&cpu.join("cpu.max")), "50000 100000");
    } else {
        assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
        if mem.join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "134217728");
        }
        assert_eq!(read(&mem.join("memory.soft_limit_in_bytes")), "33554432");
        assert_eq!(read(&cpu.join("cpu.shares")), "512");
        assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
    }
    assert_eq!(read(&dir_for(m, "pids").join("pids.max")), "16");
    if v2 {
        // Raw v2 keys are written as given, after the structured fields.
        m.apply(&res(r#"{"unified": {"memory.high": "50331648"}}"#))
            .expect("unified");
        assert_eq!(read(&mem.join("memory.high")), "50331648");
    } else {
        // The kernel clamps shares silently; the manager says so.
        let err = m
            .apply(&res(r#"{"cpu": {"shares": 1}}"#))
            .expect_err("out-of-range shares");
        assert!(err.to_string().contains("shares"), "{err}");
        m.apply(&res(r#"{"cpu": {"shares": 512}}"#)).expect("reset");
    }
    let cpuset = dir_for(m, "cpuset");
    assert_eq!(read(&cpuset.join("cpuset.cpus")), "0");
    assert_eq!(read(&cpuset.join("cpuset.mems")), "0");
}

fn assert_hugetlb_written(m: &Manager) {
    // On hybrid hosts this is the unified directory, wherever hugetlb lives.
    let hdir = m
        .paths()
        .into_iter()
        .find(|p| {
            p.join("hugetlb.2MB.max").exists() || p.join("hugetlb.2MB.limit_in_bytes").exists()
        })
        .expect("a directory with hugetlb files");
    let v = if hdir.join("hugetlb.2MB.max").exists() {
        read(&hdir.join("hugetlb.2MB.max"))
    } else {
        read(&hdir.join("hugetlb.2MB.limit_in_bytes"))
    };
    assert_eq!(v, "4194304");
}

/// A process joins, then execs (so memory and CPU are charged here), and the stats count it
/// against the limits just applied. The process stays in `g` for the caller to kill.
fn assert_stats_of_a_task(m: &Manager, g: &mut Guard, huge: bool) {
    let mut child = gated("exec sleep 60");
    let pid = child.id() as i32;
    m.add_task(pid).expect("add_task");
    release(&mut child);
    g.children.push(child);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(m.pids().expect("pids"), vec![pid]);
    let st = m.stats().expect("stats");
    eprintln!("stats: {}", serde_json::to_string(&st).expect("json"));
    assert_eq!(st.pids.current, 1);
    assert_eq!(st.pids.limit, Some(16));
    assert_eq!(st.memory.limit, Some(67_108_864));
    assert!(st.memory.usage > 0, "memory usage counted");
    assert!(st.cpu.usage_total_ns > 0, "cpu usage counted");
    assert_eq!(st.memory.oom_kill, 0);
    if huge {
        assert!(st.hugetlb.contains_key("2MB"), "{:?}", st.hugetlb);
    }
}

#[test]
fn nested_path_enables_ancestors() {
    if !is_root() {
        return;
    }
    let name = unique();
    let top = Manager::new(Some(&format!("/{name}")), "c").expect("top");
    let _g = Guard::new(top.clone());
    let m = Manager::new(Some(&format!("/{name}/inner")), "c").expect("inner");
    m.create().expect("create");
    m.apply(&res(
        r#"{"pids": {"limit": 8}, "memory": {"limit": 33554432}}"#,
    ))
    .expect("apply");
    if let Some(leaf) = m.unified_path() {
        let parent = leaf.parent().expect("parent");
        let enabled = read(&parent.join("cgroup.subtree_control"));
        for c in ["memory", "pids"] {
            assert!(
                enabled.split(' ').any(|e| e == c),
                "{c} enabled in {enabled:?}"
            );
        }
        assert_eq!(read(&leaf.join("pids.max")), "8");
    } else {
        let cs = dir_for(&m, "cpuset");
        assert!(
            !read(&cs.join("cpuset.cpus")).is_empty(),
            "cpuset copied down"
        );
        assert!(!read(&cs.parent().expect("p").join("cpuset.mems")).is_empty());
        assert_eq!(read(&dir_for(&m, "pids").join("pids.max")), "8");
    }
    // A process can join the nested cgroup (v1: needs the cpuset copy).
    let mut child = gated("exit 0");
    m.add_task(child.id() as i32).expect("add_task");
    release(&mut child);
    finish(&mut child, Duration::from_secs(10));
}

#[test]
fn oom_kill_is_counted() {
    if !is_root() {
        return;
    }
    let (m, mut g) = Guard::fresh();
    // 32 MiB, no swap.
    m.apply(&res(r#"{"memory": {"limit": 33554432, "swap": 33554432}}"#))
        .expect("apply");
    // tail -n 1 keeps a whole line in memory, and /dev/zero has no newline.
    let mut child = gated("head -c 200000000 /dev/zero | tail -n 1 > /dev/null");
    m.add_task(child.id() as i32).expect("add_task");
    release(&mut child);
    finish(&mut child, Duration::from_secs(60));
    g.children.push(child);
    let st = m.stats().expect("stats");
    eprintln!("memory: {:?}", st.memory);
    assert!(st.memory.oom_kill >= 1, "oom kill counted: {:?}", st.memory);
    assert!(st.memory.oom_events >= 1);
    if m.mode() == CgroupMode::Unified {
        // v1 counts the memory+swap limit's failures in memory.memsw.failcnt instead.
        assert!(st.memory.failcnt >= 1, "{:?}", st.memory);
    }
}

#[test]
fn destroy_of_a_missing_cgroup_succeeds() {
    let m = Manager::new(Some(&format!("/{}", unique())), "c").expect("manager");
    m.destroy().expect("nothing to remove");
}

/// Freezing really stops the processes: a busy loop's CPU time does not move while frozen,
/// and moves again once thawed.
#[test]
fn freeze_stops_a_busy_process() {
    if !is_root() {
        return;
    }
    let (m, mut g) = Guard::fresh();
    let mut child = gated("while :; do :; done");
    m.add_task(child.id() as i32).expect("add_task");
    release(&mut child);
    g.children.push(child);
    let usage = || m.stats().expect("stats").cpu.usage_total_ns;
    // Runs at all: CPU time grows (polled: a loaded machine may give the loop little time).
    let runs_from = |base: u64, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while usage().saturating_sub(base) < 50_000_000 {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    runs_from(0, "the loop runs");
    m.freeze().expect("freeze");
    assert_eq!(m.state().expect("state"), FreezerState::Frozen);
    let frozen_at = usage();
    std::thread::sleep(Duration::from_millis(300));
    let still = usage();
    assert!(
        still - frozen_at < 5_000_000,
        "frozen process used {} ns",
        still - frozen_at
    );
    m.thaw().expect("thaw");
    runs_from(still, "the loop runs again");
}
