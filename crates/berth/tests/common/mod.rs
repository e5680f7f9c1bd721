//! Harness for the end-to-end tests: each test starts its own berthd on a temp socket with
//! temp data/exec roots, drives the real `berth` binary, and a Drop guard removes every
//! container (and with it its mounts and cgroups) and stops the daemon, even on failure.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// The directory holding the workspace's binaries; berthd and berth-shim are built there once
/// per test process (other crates' binaries are not built for this crate's tests).
pub fn bin_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // Prebuilt binaries (the cgroup v2 VM runs the test binaries without cargo).
            if let Some(dir) = std::env::var_os("BERTH_BIN_DIR") {
                return PathBuf::from(dir);
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let st = Command::new(cargo)
                .args(["build", "-q", "-p", "berthd", "-p", "berth-shim"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(st.success(), "building berthd and berth-shim failed");
            Path::new(BERTH).parent().unwrap().to_path_buf()
        })
        .clone()
}

/// A busybox rootfs tarball shared by all tests (built once, published by an atomic rename, so
/// parallel test processes neither race nor leave copies behind).
pub fn rootfs_tar() -> PathBuf {
    let tar = std::env::temp_dir().join(format!(
        "berth-e2e-rootfs-{}.tar",
        env!("CARGO_PKG_VERSION")
    ));
    if tar.exists() {
        return tar;
    }
    let base = std::env::temp_dir().join(format!("berth-e2e-rootfs-tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let dir = base.join("rootfs");
    for d in [
        "bin", "proc", "sys", "dev", "etc", "tmp", "root", "var", "home",
    ] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static must be installed");
    fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", dir.join("bin").join(applet));
        }
    }
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000:alice:/home/alice:/bin/sh\n",
    )
    .unwrap();
    fs::write(
        dir.join("etc/group"),
        "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\nnogroup:x:65534:\n",
    )
    .unwrap();
    let tmp_tar = base.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(&tmp_tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let _ = fs::rename(&tmp_tar, &tar);
    let _ = fs::remove_dir_all(&base);
    tar
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// One test's daemon and its roots.
pub struct Daemon {
    pub dir: PathBuf,
    pub sock: PathBuf,
    child: Option<Child>,
    /// Extra berthd flags (networking: `--bridge none` unless a test asks for a bridge).
    args: Vec<String>,
}

impl Daemon {
    /// Starts berthd on fresh roots, without a default bridge (`--bridge none`): parallel
    /// daemons must not share one; containers get an empty network namespace.
    pub fn start() -> Daemon {
        Daemon::start_with(&["--bridge", "none"])
    }

    /// Starts berthd on fresh roots with these extra flags (e.g. `--bridge NAME --bip CIDR`).
    pub fn start_with(args: &[&str]) -> Daemon {
        let dir = std::env::temp_dir().join(format!(
            "berth-e2e-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let mut d = Daemon {
            sock: dir.join("berth.sock"),
            dir,
            child: None,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("berthd.log"))
            .unwrap();
        let child = Command::new(bin_dir().join("berthd"))
            .arg("--data-root")
            .arg(self.dir.join("data"))
            .arg("--exec-root")
            .arg(self.dir.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("--log-level=debug")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Generous: the emulated cgroup v2 VM is slow to start a debug berthd.
        let deadline = Instant::now() + Duration::from_secs(60);
        while UnixStream::connect(&self.sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "berthd did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The daemon's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The daemon's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("berthd.log")).unwrap_or_default()
    }

    /// `kill -9` the daemon (by its pid), leaving the containers to their shims.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM the daemon and wait for it; returns how long it took to exit.
    pub fn terminate(&mut self) -> Duration {
        let t = Instant::now();
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling the daemon we spawned.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
        t.elapsed()
    }

    /// Starts the daemon again on the same roots (killing it first if it runs).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Starts the daemon again after [`Daemon::terminate`] or [`Daemon::kill9`].
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Runs `berth -H unix://SOCK ARGS…`, optionally with `stdin` from a file.
    pub fn berth_with_stdin(&self, args: &[&str], stdin: Option<&Path>) -> Output {
        // Output through files: nothing a container does can hold them open past our read.
        let mut out = tempfile::tempfile().unwrap();
        let mut err = tempfile::tempfile().unwrap();
        let mut cmd = Command::new(BERTH);
        cmd.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap());
        match stdin {
            Some(p) => cmd.stdin(fs::File::open(p).unwrap()),
            None => cmd.stdin(Stdio::null()),
        };
        let status = cmd.status().unwrap();
        let read = |f: &mut fs::File| {
            let mut v = Vec::new();
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.read_to_end(&mut v).unwrap();
            v
        };
        Output {
            status,
            stdout: read(&mut out),
            stderr: read(&mut err),
        }
    }

    /// Runs `berth ARGS…`.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_with_stdin(args, None)
    }

    /// Runs `berth ARGS…`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        assert!(
            o.status.success(),
            "berth {args:?} failed: {}\n{}\ndaemon log:\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Imports the busybox rootfs as `busybox:latest`.
    pub fn import_busybox(&self) -> String {
        let o = self.berth_with_stdin(&["import", "-", "busybox:latest"], Some(&rootfs_tar()));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    }

    /// One raw HTTP/1.1 request on the socket; returns the whole response text.
    pub fn raw(&self, method: &str, path: &str) -> String {
        let mut s = UnixStream::connect(&self.sock).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_none() && UnixStream::connect(&self.sock).is_err() {
            self.spawn();
        }
        // Retried: a container caught between a restart policy's stop and start answers 409
        // ("being started") for a moment, and one left here would outlive the test.
        for _ in 0..20 {
            let ids = self.berth(&["ps", "-a", "-q", "--no-trunc"]);
            let ids = String::from_utf8_lossy(&ids.stdout).into_owned();
            if ids.trim().is_empty() {
                break;
            }
            for id in ids.lines() {
                let _ = self.berth(&["rm", "-f", id]);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
        // Safety net: unmount anything a failed removal left, then delete the roots.
        if let Ok(entries) = fs::read_dir(self.dir.join("exec/containers")) {
            for e in entries.flatten() {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(e.path().join("rootfs"))
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // A killed daemon leaves its network behind: pinned namespaces and its nftables table
        // (named after the data root, as the engine names it). Its bridge is the test's to
        // remove, as only the test knows its name.
        if let Ok(entries) = fs::read_dir(self.dir.join("exec/netns")) {
            for e in entries.flatten() {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(e.path())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &nft_table(&self.dir.join("data"))])
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `f` holding the lock every test process takes before it edits /etc/passwd,
/// /etc/subuid or /etc/subgid (the rootless and userns-remap tests, and daemons they start
/// that run useradd/usermod).
pub fn with_subid_lock<T>(f: impl FnOnce() -> T) -> T {
    use std::os::fd::AsRawFd;
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/run/berth-tests-subid.lock")
        .unwrap();
    // SAFETY: flock on an fd we own; released when `lock` is closed.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    f()
}

/// Replaces a host file through a rename, keeping its mode, so a daemon reading it meanwhile
/// (another test's) sees the old or the new text, never a truncated file.
pub fn replace_file(file: &str, text: &str) {
    let tmp = format!("{file}.berth-test-{}", std::process::id());
    fs::write(&tmp, text).unwrap();
    if let Ok(m) = fs::metadata(file) {
        fs::set_permissions(&tmp, m.permissions()).unwrap();
    }
    fs::rename(&tmp, file).unwrap();
}

/// Appends `line` to a host file (by rename); call under [`with_subid_lock`].
pub fn append_line(file: &str, line: &str) {
    let mut text = fs::read_to_string(file).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    replace_file(file, &text);
}

/// Removes the first line exactly equal to `line` from a host file (by rename), leaving every
/// other line as it is; call under [`with_subid_lock`].
pub fn remove_line(file: &str, line: &str) {
    let Ok(text) = fs::read_to_string(file) else {
        return;
    };
    let mut removed = false;
    let kept: String = text
        .lines()
        .filter(|l| {
            let ours = !removed && *l == line;
            removed |= ours;
            !ours
        })
        .map(|l| format!("{l}\n"))
        .collect();
    replace_file(file, &kept);
}

/// The engine's nftables table for a data root (FNV-1a of the path, as `berth-engine` does).
pub fn nft_table(data_root: &Path) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in data_root.as_os_str().as_encoded_bytes() {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    format!("berth_{h:08x}")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The docker CLI, if installed (its tests compare berthd with what docker users run).
pub fn docker_cli() -> Option<PathBuf> {
    ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Daemon {
    /// Runs the real docker CLI against this daemon (with its own empty config dir).
    pub fn docker(&self, docker: &Path, args: &[&str]) -> Output {
        let cfg = self.dir.join("docker-config");
        fs::create_dir_all(&cfg).unwrap();
        Command::new(docker)
            .env("DOCKER_CONFIG", &cfg)
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// Polls `ready` every 20 ms until it holds; fails the test with `what` after `timeout`. For
/// waits on a state (a log line, a file, a status) instead of a fixed sleep.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the python script at `path` against `d` (its socket in `SOCK`, plus `env`) and
/// asserts it succeeded and printed `ok` last; the daemon's log is shown when it did not.
#[allow(dead_code)] // Not every test binary runs python.
pub fn run_python_ok(d: &Daemon, path: &Path, env: &[(&str, &str)]) {
    let o = Command::new("python3")
        .arg(path)
        .env("SOCK", &d.sock)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).ends_with("ok\n"),
        "{}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        d.log()
    );
}

/// Whether docker-py (python3-docker) can be imported.
pub fn has_docker_py() -> bool {
    Command::new("python3")
        .args(["-c", "import docker"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether a test that cannot run (a tool, a package or root missing) must fail instead of
/// skipping: `BERTH_REQUIRE_ALL=1`, which CI sets so that a machine missing something cannot
/// pass by skipping.
pub fn require_all() -> bool {
    std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1")
}

/// Call where a test would skip because `why` (e.g. "docker CLI not installed"): panics under
/// [`require_all`], else says it skips; the caller returns after it.
pub fn skip(why: &str) {
    assert!(
        !require_all(),
        "{why}, and BERTH_REQUIRE_ALL=1: this test must run here"
    );
    eprintln!("{why}: skipping (set BERTH_REQUIRE_ALL=1 to make this a failure)");
}
