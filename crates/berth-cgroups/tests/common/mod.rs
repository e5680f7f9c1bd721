//! Shared by the real-kernel tests: unique cgroup names, a Drop guard that kills the test's
//! processes and removes its cgroups (and restores the cgroup2 root's controllers), processes
//! gated on stdin so they can join a cgroup before they run, and file readers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_cgroups::Manager;
use oci_spec::runtime::LinuxResources;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn is_root() -> bool {
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

pub fn unique() -> String {
    format!(
        "berth-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A test cgroup tree and the processes in it; dropping it kills them and removes the tree.
pub struct Guard {
    pub top: Manager,
    pub children: Vec<Child>,
    /// The cgroup2 root's `cgroup.subtree_control` before the test, to restore: enabling a
    /// controller there (hugetlb on a hybrid host) would change the host for other runtimes
    /// (crun refuses hybrid hosts whose cgroup2 root has controllers enabled).
    root_controllers: Option<(PathBuf, String)>,
}

impl Guard {
    /// A cgroup `/<unique>/c`, created, and the guard that removes it.
    pub fn fresh() -> (Manager, Guard) {
        let m = Manager::new(Some(&format!("/{}", unique())), "c").expect("manager");
        let g = Guard::new(m.clone());
        m.create().expect("create");
        (m, g)
    }

    pub fn new(top: Manager) -> Guard {
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
pub fn gated(script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _ ; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

pub fn release(c: &mut Child) {
    let stdin = c.stdin.as_mut().expect("stdin");
    stdin.write_all(b"go\n").expect("release");
    stdin.flush().expect("flush");
}

/// Wait for a child to exit (bounded), returning its stdout and stderr.
pub fn finish(c: &mut Child, limit: Duration) -> (String, String) {
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

pub fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The directory of `controller` among the manager's paths (v1), or the unified one.
pub fn dir_for(m: &Manager, v1_mount: &str) -> PathBuf {
    if let Some(u) = m.unified_path() {
        return u;
    }
    m.paths()
        .into_iter()
        .find(|p| p.starts_with(Path::new("/sys/fs/cgroup").join(v1_mount)))
        .unwrap_or_else(|| panic!("no {v1_mount} directory in {:?}", m.paths()))
}

pub fn host_has(controller: &str) -> bool {
    berth_cgroups::host_controllers()
        .expect("controllers")
        .contains(controller)
}

/// A directory removed on drop, retried while the kernel still reports it busy.
pub struct CleanDir(pub PathBuf);

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

/// A file removed on drop.
pub struct RemoveFile(pub PathBuf);

impl Drop for RemoveFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
