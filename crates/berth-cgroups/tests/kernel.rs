//! Real-kernel tests: they create cgroups named `berth-test-<pid>-<n>` at the top of every
//! hierarchy, put processes in them, and remove everything in a Drop guard. They need root
//! and skip (with a note) without it, or fail under `BERTH_REQUIRE_ALL=1` (CI). Run them on a v1/hybrid host and, through
//! `tests/run-in-cgroup2-vm.sh`, on a pure cgroup v2 kernel.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_cgroups::{devices, devices_ebpf, CgroupMode, FreezerState, Layout, Manager};
use oci_spec::runtime::LinuxResources;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // CI sets BERTH_REQUIRE_ALL=1: there a test that cannot run fails instead of passing.
    let required = std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1");
    assert!(
        root || !required,
        "needs root, and BERTH_REQUIRE_ALL=1: this test must run here"
    );
    if !root {
        eprintln!("skipped: needs root");
    }
    root
}

fn unique() -> String {
    format!(
        "berth-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A test cgroup tree and the processes in it; dropping it kills them and removes the tree.
struct Guard {
    top: Manager,
    children: Vec<Child>,
    /// The cgroup2 root's `cgroup.subtree_control` before the test, to restore: enabling a
    /// controller there (hugetlb on a hybrid host) would change the host for other runtimes
    /// (crun refuses hybrid hosts whose cgroup2 root has controllers enabled).
    root_controllers: Option<(PathBuf, String)>,
}

impl Guard {
    fn new(top: Manager) -> Guard {
        let root_controllers = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .iter()
            .map(|d| Path::new(d).join("cgroup.subtree_control"))
            .find(|p| p.exists())
            .and_then(|p| std::fs::read_to_string(&p).ok().map(|s| (p, s)));
        Guard {
            top,
            children: Vec::new(),
            root_controllers,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // A frozen task cannot die: thaw first.
        let _ = self.top.thaw();
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = self.top.destroy() {
            eprintln!("cleanup of {:?} failed: {e}", self.top.paths());
        }
        if let Some((file, before)) = &self.root_controllers {
            let now = std::fs::read_to_string(file).unwrap_or_default();
            let had: Vec<&str> = before.split_whitespace().collect();
            for c in now.split_whitespace().filter(|c| !had.contains(c)) {
                // Best effort: another test's cgroup may still need it (EBUSY).
                let _ = std::fs::write(file, format!("-{c}"));
            }
        }
    }
}

/// Start `sh -c 'read _; SCRIPT'`: it waits for a line on stdin, so it can be moved into a
/// cgroup before it does anything.
fn gated(script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _ ; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

fn release(c: &mut Child) {
    let stdin = c.stdin.as_mut().expect("stdin");
    stdin.write_all(b"go\n").expect("release");
    stdin.flush().expect("flush");
}

/// Wait for a child to exit (bounded), returning its stdout and stderr.
fn finish(c: &mut Child, limit: Duration) -> (String, String) {
    let start = Instant::now();
    loop {
        if c.try_wait().expect("try_wait").is_some() {
            break;
        }
        assert!(start.elapsed() < limit, "child did not finish in {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    let mut err = String::new();
    if let Some(o) = c.stdout.as_mut() {
        o.read_to_string(&mut out).expect("stdout");
    }
    if let Some(e) = c.stderr.as_mut() {
        e.read_to_string(&mut err).expect("stderr");
    }
    (out, err)
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The directory of `controller` among the manager's paths (v1), or the unified one.
fn dir_for(m: &Manager, v1_mount: &str) -> PathBuf {
    if let Some(u) = m.unified_path() {
        return u;
    }
    m.paths()
        .into_iter()
        .find(|p| p.starts_with(Path::new("/sys/fs/cgroup").join(v1_mount)))
        .unwrap_or_else(|| panic!("no {v1_mount} directory in {:?}", m.paths()))
}

fn host_has(controller: &str) -> bool {
    berth_cgroups::host_controllers()
        .expect("controllers")
        .contains(controller)
}

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
    let mut json = String::from(
        r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 16}"#,
    );
    let huge = host_has("hugetlb")
        && berth_cgroups::hugepages::page_sizes()
            .iter()
            .any(|s| s == "2MB");
    if huge {
        json.push_str(r#", "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]"#);
    } else {
        eprintln!("note: no hugetlb controller or 2MB pages; hugetlb not exercised");
    }
    json.push('}');
    m.apply(&res(&json)).expect("apply");

    let v2 = m.mode() == CgroupMode::Unified;
    let mem = dir_for(&m, "memory");
    let cpu = dir_for(&m, "cpu");
    let pids = dir_for(&m, "pids");
    let cpuset = dir_for(&m, "cpuset");
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
    assert_eq!(read(&pids.join("pids.max")), "16");
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
    assert_eq!(read(&cpuset.join("cpuset.cpus")), "0");
    assert_eq!(read(&cpuset.join("cpuset.mems")), "0");
    if huge {
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

    // A process joins, then execs (so memory and CPU are charged here).
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
    let name = unique();
    let m = Manager::new(Some(&format!("/{name}")), "c").expect("manager");
    let mut g = Guard::new(m.clone());
    m.create().expect("create");
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

/// Devices are enforced, through v1's devices controller or v2's eBPF program.
#[test]
fn device_rules_are_enforced() {
    if !is_root() {
        return;
    }
    let name = unique();
    let m = Manager::new(Some(&format!("/{name}")), "c").expect("manager");
    let mut g = Guard::new(m.clone());
    m.create().expect("create");
    let rules = r#"{"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "r"}]}"#;
    m.apply(&res(rules)).expect("apply devices");
    // Applying again replaces (v2: one program stays attached).
    m.apply(&res(rules)).expect("apply devices again");
    if let Some(u) = m.unified_path() {
        assert_eq!(devices_ebpf::attached_count(&u).expect("query"), 1);
    }
    let mut child = gated(
        "echo x > /dev/null && echo null-ok; \
         head -c 1 /dev/zero > /dev/null && echo zero-ok; \
         head -c 1 /dev/urandom > /dev/null && echo urandom-read-ok; \
         echo x > /dev/urandom && echo urandom-write-ok; true",
    );
    m.add_task(child.id() as i32).expect("add_task");
    release(&mut child);
    let (out, err) = finish(&mut child, Duration::from_secs(10));
    g.children.push(child);
    assert!(out.contains("null-ok"), "out {out:?} err {err:?}");
    assert!(out.contains("urandom-read-ok"), "out {out:?} err {err:?}");
    assert!(
        !out.contains("zero-ok"),
        "/dev/zero must be denied: {out:?}"
    );
    assert!(
        !out.contains("urandom-write-ok"),
        "write must be denied: {out:?}"
    );
    assert!(err.contains("not permitted"), "{err:?}");
}

/// The eBPF device program on any cgroup2 mount (hybrid hosts included), loaded and
/// attached directly.
#[test]
fn ebpf_program_loads_and_filters_on_cgroup2() {
    if !is_root() {
        return;
    }
    let Some(u) = Layout::detect().expect("detect").unified else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let dir = u.mount_point.join(unique());
    std::fs::create_dir(&dir).expect("mkdir");
    let cleanup = CleanDir(dir.clone());
    let list: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
        r#"[{"allow": true, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "r"}]"#,
    )
    .expect("json");
    let rules = devices::from_oci(&list).expect("rules");
    devices_ebpf::attach(&dir, &rules).expect("attach");
    devices_ebpf::attach(&dir, &rules).expect("replace");
    assert_eq!(devices_ebpf::attached_count(&dir).expect("query"), 1);
    let mut child = gated(
        "head -c 1 /dev/zero > /dev/null && echo zero-ok; echo x > /dev/zero && echo zero-w-ok; true",
    );
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).expect("join");
    release(&mut child);
    let (out, _err) = finish(&mut child, Duration::from_secs(10));
    assert!(
        !out.contains("zero-ok"),
        "read of /dev/zero denied: {out:?}"
    );
    assert!(
        out.contains("zero-w-ok"),
        "write of /dev/zero allowed: {out:?}"
    );
    drop(cleanup);
}

struct CleanDir(PathBuf);

impl Drop for CleanDir {
    fn drop(&mut self) {
        for _ in 0..100 {
            match std::fs::remove_dir(&self.0) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => return,
            }
        }
    }
}

#[test]
fn destroy_of_a_missing_cgroup_succeeds() {
    let m = Manager::new(Some(&format!("/{}", unique())), "c").expect("manager");
    m.destroy().expect("nothing to remove");
}

/// A block device of this machine ("name", "major:minor"), preferring real disks.
fn block_device() -> Option<(String, String)> {
    let mut devs: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            Some((name, dev.trim().to_string()))
        })
        .collect();
    devs.sort_by_key(|(n, _)| {
        (
            n.starts_with("loop") || n.starts_with("zram") || n.starts_with("ram"),
            n.clone(),
        )
    });
    devs.into_iter().next()
}

#[test]
fn block_io_throttle_and_stats() {
    if !is_root() {
        return;
    }
    let Some((name, dev)) = block_device() else {
        eprintln!("skipped: no block device");
        return;
    };
    let (major, minor) = dev.split_once(':').expect("major:minor");
    let m = Manager::new(Some(&format!("/{}", unique())), "c").expect("manager");
    let mut g = Guard::new(m.clone());
    m.create().expect("create");
    m.apply(&res(&format!(
        r#"{{"blockIO": {{
            "throttleReadBpsDevice": [{{"major": {major}, "minor": {minor}, "rate": 104857600}}],
            "throttleWriteIOPSDevice": [{{"major": {major}, "minor": {minor}, "rate": 1000}}]}}}}"#
    )))
    .expect("apply");
    if let Some(u) = m.unified_path() {
        let line = read(&u.join("io.max"));
        assert!(
            line.contains(&format!(
                "{dev} rbps=104857600 wbps=max riops=max wiops=1000"
            )),
            "{line:?}"
        );
    } else {
        let d = dir_for(&m, "blkio");
        assert_eq!(
            read(&d.join("blkio.throttle.read_bps_device")),
            format!("{dev} 104857600")
        );
        assert_eq!(
            read(&d.join("blkio.throttle.write_iops_device")),
            format!("{dev} 1000")
        );
    }
    // Direct reads show up in the stats (direct I/O skips the page cache): of the device
    // itself when we may open it, else of a file on a block-device filesystem.
    let size: u64 = std::fs::read_to_string(format!("/sys/block/{name}/size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let raw = Path::new("/dev").join(&name);
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.io", unique()));
    let _rm = RemoveFile(file.clone());
    let source = if size >= 2048 && std::fs::File::open(&raw).is_ok() {
        raw
    } else {
        std::fs::write(&file, vec![7u8; 1 << 20]).expect("write test file");
        let st_dev = std::fs::metadata(&file)
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
            .expect("stat");
        let (fmaj, fmin) = (libc::major(st_dev), libc::minor(st_dev));
        if !Path::new(&format!("/sys/dev/block/{fmaj}:{fmin}")).exists() {
            eprintln!("note: no readable block device; I/O stats not exercised");
            return;
        }
        file.clone()
    };
    let mut child = gated(&format!(
        "dd if={} of=/dev/null bs=65536 count=16 iflag=direct 2>/dev/null",
        source.display()
    ));
    m.add_task(child.id() as i32).expect("add_task");
    release(&mut child);
    finish(&mut child, Duration::from_secs(30));
    g.children.push(child);
    let st = m.stats().expect("stats");
    let read_bytes: u64 = st
        .blkio
        .service_bytes
        .iter()
        .filter(|e| e.op == "Read")
        .map(|e| e.value)
        .sum();
    assert!(
        read_bytes >= 1 << 20,
        "read bytes {read_bytes}: {:?}",
        st.blkio
    );
    assert!(st
        .blkio
        .serviced
        .iter()
        .any(|e| e.op == "Read" && e.value > 0));
}

struct RemoveFile(PathBuf);

impl Drop for RemoveFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Freezing really stops the processes: a busy loop's CPU time does not move while frozen,
/// and moves again once thawed.
#[test]
fn freeze_stops_a_busy_process() {
    if !is_root() {
        return;
    }
    let m = Manager::new(Some(&format!("/{}", unique())), "c").expect("manager");
    let mut g = Guard::new(m.clone());
    m.create().expect("create");
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
