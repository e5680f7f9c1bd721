//! The rootless test harness: a per-test unprivileged uid with its own `HOME` and
//! `XDG_RUNTIME_DIR`, a berthd started as that uid through `setpriv`, the CLI run the same way,
//! and a Drop guard that stops the daemon, kills what the uid still runs and removes the
//! directories as root.

use std::fs;
use std::io::{Read, Seek};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::{bin_dir, rootfs_tar, stderr, stdout, BERTH};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A rootless daemon run by `uid`, with its directories under `dir`.
pub struct Rootless {
    pub uid: u32,
    pub dir: PathBuf,
    pub child: Option<Child>,
    /// A subordinate uid range whose processes Drop also ends.
    pub sub: Option<(u32, u32)>,
}

pub fn chown_tree(p: &Path, uid: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

impl Rootless {
    /// A fresh uid (40000 + pid-derived offset, no passwd entry needed) and its directories.
    pub fn new() -> Rootless {
        let uid = 40_000 + (std::process::id() % 5000) * 4 + SEQ.fetch_add(1, Ordering::SeqCst) % 4;
        let dir = std::env::temp_dir().join(format!("berth-rootless-{uid}"));
        let _ = fs::remove_dir_all(&dir);
        for d in ["home", "run"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        fs::set_permissions(dir.join("run"), fs::Permissions::from_mode(0o700)).unwrap();
        chown_tree(&dir, uid);
        Rootless {
            uid,
            dir,
            child: None,
            sub: None,
        }
    }

    /// The workspace binary `name`, or — when the user cannot reach the build directory
    /// (a checkout under /root) — a copy in the test's directory (berthd finds berth-shim
    /// beside itself).
    pub fn bin(&self, name: &str) -> PathBuf {
        let built = if name == "berth" {
            PathBuf::from(BERTH)
        } else {
            bin_dir().join(name)
        };
        let reachable = Command::new("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.uid))
            .args(["--clear-groups", "--", "test", "-x"])
            .arg(&built)
            .status()
            .is_ok_and(|s| s.success());
        if reachable {
            return built;
        }
        let dir = self.dir.join("bin");
        fs::create_dir_all(&dir).unwrap();
        for b in ["berthd", "berth-shim"] {
            let to = dir.join(b);
            if !to.exists() {
                fs::copy(bin_dir().join(b), &to).unwrap();
            }
        }
        let to = dir.join("berth");
        if !to.exists() {
            fs::copy(BERTH, &to).unwrap();
        }
        dir.join(name)
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.join("run/berth.sock")
    }

    /// `setpriv` as the user with a minimal session environment, running `prog`.
    pub fn as_user(&self, prog: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.uid))
            .arg("--clear-groups")
            .arg("--")
            .arg(prog)
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", self.dir.join("home"))
            .env("XDG_RUNTIME_DIR", self.dir.join("run"));
        c
    }

    pub fn start(&mut self) {
        let log = fs::File::create(self.dir.join("berthd.log")).unwrap();
        let child = self
            .as_user(&self.bin("berthd"))
            .arg("--log-level=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while UnixStream::connect(self.sock()).is_err() {
            assert!(
                Instant::now() < deadline,
                "rootless berthd did not come up: {}",
                self.log()
            );
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("rootless berthd exited ({st}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `kill -9` the daemon and start another on the same directories.
    pub fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.start();
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("berthd.log")).unwrap_or_default()
    }

    /// `berth ARGS…` as the user, with no `-H`: the CLI finds the rootless socket itself.
    pub fn berth_with_stdin(&self, args: &[&str], stdin: Option<&Path>) -> Output {
        let mut out = tempfile::tempfile().unwrap();
        let mut err = tempfile::tempfile().unwrap();
        let mut cmd = self.as_user(&self.bin("berth"));
        cmd.args(args)
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

    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_with_stdin(args, None)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        assert!(
            o.status.success(),
            "berth {args:?} failed: {}\n{}\ndaemon log:\n{}",
            o.status,
            stderr(&o),
            self.log()
        );
        stdout(&o)
    }

    /// Imports the busybox rootfs plus `/owned.txt` owned by uid/gid 1000 as `busybox:latest`.
    pub fn import_busybox(&self) {
        let tar = self.dir.join("rootfs.tar");
        fs::copy(rootfs_tar(), &tar).unwrap();
        fs::write(self.dir.join("owned.txt"), "x").unwrap();
        let st = Command::new("tar")
            .args(["--owner=1000", "--group=1000", "-rf"])
            .arg(&tar)
            .arg("-C")
            .arg(&self.dir)
            .arg("owned.txt")
            .status()
            .unwrap();
        assert!(st.success());
        let o = self.berth_with_stdin(&["import", "-", "busybox:latest"], Some(&tar));
        assert!(o.status.success(), "import: {}\n{}", stderr(&o), self.log());
    }
}

/// Host pids whose real uid is `uid`.
pub fn pids_of(uid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if host_uid(pid) == Some(uid) {
            out.push(pid);
        }
    }
    out
}

/// Host pids whose real uid is in `start..start+count`.
pub fn pids_in(start: u32, count: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if host_uid(pid).is_some_and(|u| u >= start && u - start < count) {
            out.push(pid);
        }
    }
    out
}

/// The real uid of `pid` on the host (`Uid:` of /proc/PID/status).
pub fn host_uid(pid: i32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Drop for Rootless {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Shims and containers of this uid (unique to this test) outlive the daemon: end them.
        for _ in 0..50 {
            let mut left = pids_of(self.uid);
            if let Some((start, count)) = self.sub {
                left.extend(pids_in(start, count));
            }
            if left.is_empty() {
                break;
            }
            for p in left {
                // SAFETY: signalling processes of this test's own uid.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
