//! Shared harness for the end-to-end tests: a busybox rootfs, bundles, and a driver for the
//! `berth-runtime` binary. Every container a test makes is force-deleted by a Drop guard, and each
//! test has its own state root, so tests run in parallel and leave nothing behind.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

/// A read-only busybox rootfs shared by all tests (built once, atomically).
pub fn shared_rootfs() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-test-rootfs-{}", env!("CARGO_PKG_VERSION")));
    if dir.join("bin/busybox").exists() {
        return dir;
    }
    let tmp = std::env::temp_dir().join(format!("berth-test-rootfs-tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    build_rootfs(&tmp);
    if fs::rename(&tmp, &dir).is_err() {
        // Another test process won the race.
        let _ = fs::remove_dir_all(&tmp);
    }
    dir
}

/// Writes a busybox rootfs into `dir`.
pub fn build_rootfs(dir: &Path) {
    for d in [
        "bin", "proc", "sys", "dev", "etc", "tmp", "root", "var", "home",
    ] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static must be installed (apt-get install busybox-static)");
    fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", dir.join("bin").join(applet));
        }
    }
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A unique container id for this test process.
pub fn unique_id(tag: &str) -> String {
    format!(
        "berth-t-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// The default spec (from `berth-runtime spec`) adapted for tests: no terminal, the given args.
pub fn base_spec(rootfs: &Path, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Value =
        serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(args);
    v["root"]["path"] = json!(rootfs);
    v
}

/// One test's world: a state root, a bundle dir, containers to clean up.
pub struct World {
    pub root: tempfile::TempDir,
    pub bundle: tempfile::TempDir,
    ids: std::cell::RefCell<Vec<String>>,
}

impl World {
    pub fn new() -> World {
        World {
            root: tempfile::Builder::new()
                .prefix("berth-t-root")
                .tempdir()
                .unwrap(),
            bundle: tempfile::Builder::new()
                .prefix("berth-t-bundle")
                .tempdir()
                .unwrap(),
            ids: Default::default(),
        }
    }

    /// Writes `spec` as the bundle's config.json.
    pub fn write_spec(&self, spec: &Value) {
        fs::write(
            self.bundle.path().join("config.json"),
            serde_json::to_vec_pretty(spec).unwrap(),
        )
        .unwrap();
    }

    /// A fresh id registered for cleanup.
    pub fn id(&self, tag: &str) -> String {
        let id = unique_id(tag);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `berth-runtime --root R ARGS…` with captured output. Output goes through files, not
    /// pipes: a detached container inherits the runtime's stdio and would hold a pipe open.
    pub fn rt(&self, args: &[&str]) -> Output {
        let out = tempfile::tempfile().unwrap();
        let err = tempfile::tempfile().unwrap();
        let status = self
            .cmd(args)
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .unwrap();
        let read = |mut f: std::fs::File| {
            use std::io::{Read, Seek};
            let mut v = Vec::new();
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.read_to_end(&mut v).unwrap();
            v
        };
        Output {
            status,
            stdout: read(out),
            stderr: read(err),
        }
    }

    /// The command, for callers that need to set stdio.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(self.root.path()).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `run --bundle B ID` with `spec`; returns (exit code, stdout, stderr).
    pub fn run(&self, spec: &Value, tag: &str) -> (i32, String, String) {
        self.write_spec(spec);
        let id = self.id(tag);
        let out = self.rt(&["run", "--bundle", self.bundle_str(), &id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn bundle_str(&self) -> &str {
        self.bundle.path().to_str().unwrap()
    }

    /// Parsed `state ID`.
    pub fn state(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]);
        assert!(
            out.status.success(),
            "state: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.rt(&["delete", "--force", id]);
        }
    }
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether any cgroup directory with this name exists on the host.
pub fn cgroup_exists(id: &str) -> bool {
    let out = Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "4", "-name", id])
        .output()
        .unwrap();
    !out.stdout.is_empty()
}

/// Whether a test that cannot run (a tool or root missing) must fail instead of skipping:
/// `BERTH_REQUIRE_ALL=1`, which CI sets so that a machine missing something cannot pass by
/// skipping.
pub fn require_all() -> bool {
    std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1")
}

/// Call where a test would skip because `why` (e.g. "podman not installed"): panics under
/// [`require_all`], else says it skips; the caller returns after it.
pub fn skip(why: &str) {
    assert!(
        !require_all(),
        "{why}, and BERTH_REQUIRE_ALL=1: this test must run here"
    );
    eprintln!("{why}: skipping (set BERTH_REQUIRE_ALL=1 to make this a failure)");
}

/// Polls `ready` every 20 ms until it holds; fails the test with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: std::time::Duration, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
