//! End-to-end: rootless berthd. The daemon and the CLI run as an ordinary unprivileged user
//! (a per-test uid with no capabilities, through `setpriv`) that owns fresh `HOME` and
//! `XDG_RUNTIME_DIR` directories; the daemon makes its own user namespace and runs containers
//! whose processes are that user's on the host. A Drop guard stops the daemon, kills whatever
//! the uid still runs (shims, containers: their mounts live in the daemon's private mount
//! namespace and vanish with them) and removes the directories as root.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::{Read, Seek};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{
    append_line, bin_dir, remove_line, rootfs_tar, stderr, stdout, with_subid_lock as locked, BERTH,
};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A rootless daemon run by `uid`, with its directories under `dir`.
struct Rootless {
    uid: u32,
    dir: PathBuf,
    child: Option<Child>,
    /// A subordinate uid range whose processes Drop also ends.
    sub: Option<(u32, u32)>,
}

fn chown_tree(p: &Path, uid: u32) {
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
    fn new() -> Rootless {
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
    fn bin(&self, name: &str) -> PathBuf {
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

    fn sock(&self) -> PathBuf {
        self.dir.join("run/berth.sock")
    }

    /// `setpriv` as the user with a minimal session environment, running `prog`.
    fn as_user(&self, prog: &Path) -> Command {
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

    fn start(&mut self) {
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
    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.start();
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("berthd.log")).unwrap_or_default()
    }

    /// `berth ARGS…` as the user, with no `-H`: the CLI finds the rootless socket itself.
    fn berth_with_stdin(&self, args: &[&str], stdin: Option<&Path>) -> Output {
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

    fn berth(&self, args: &[&str]) -> Output {
        self.berth_with_stdin(args, None)
    }

    fn ok(&self, args: &[&str]) -> String {
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
    fn import_busybox(&self) {
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
fn pids_of(uid: u32) -> Vec<i32> {
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
fn pids_in(start: u32, count: u32) -> Vec<i32> {
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
fn host_uid(pid: i32) -> Option<u32> {
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

#[test]
fn rootless_berthd_runs_a_container_as_an_ordinary_user() {
    let mut r = Rootless::new();
    r.start();
    let log = r.log();
    assert!(log.contains("rootless mode"), "{log}");
    // The daemon's state sits in the user's XDG directories, owned by the user.
    let data = r.dir.join("home/.local/share/berth");
    assert!(data.is_dir(), "no data root under $HOME: {log}");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&fs::metadata(&data).unwrap()),
        r.uid
    );
    r.import_busybox();

    // Root inside, the ordinary user outside.
    assert_eq!(
        r.ok(&["run", "--rm", "busybox:latest", "id", "-u"]).trim(),
        "0"
    );
    // Only the user's own id is mapped: a file of uid 1000 in the image became the user's.
    let ls = r.ok(&[
        "run",
        "--rm",
        "busybox:latest",
        "stat",
        "-c",
        "%u:%g",
        "/owned.txt",
    ]);
    assert_eq!(ls.trim(), "0:0");
    let id = r
        .ok(&[
            "run",
            "-d",
            "--name",
            "rl-web",
            "busybox:latest",
            "sh",
            "-c",
            "echo written > /data.txt && cat /data.txt && exec sleep 300",
        ])
        .trim()
        .to_owned();
    let pid: i32 = r
        .ok(&["inspect", "-f", "{{.State.Pid}}", &id])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(host_uid(pid), Some(r.uid), "container process's host uid");
    assert!(r.ok(&["ps"]).contains("rl-web"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !r.ok(&["logs", "rl-web"]).contains("written") {
        assert!(Instant::now() < deadline, "no log output");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The write went to the container's overlay upper layer; exec sees it.
    assert_eq!(
        r.ok(&["exec", "rl-web", "cat", "/data.txt"]).trim(),
        "written"
    );
    assert!(r.ok(&["top", "rl-web"]).contains("sleep"));
    // Without a cgroup, stats come from the container's processes.
    let stats = r.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.MemUsage}} {{.PIDs}}",
        "rl-web",
    ]);
    assert!(!stats.starts_with("0B"), "{stats}");
    assert!(stats.trim().ends_with(" 1"), "{stats}");
    // A restarted daemon joins the namespaces its predecessor's containers live in.
    r.restart();
    assert!(r
        .log()
        .contains("joined the previous daemon's user namespace"));
    assert_eq!(
        r.ok(&["exec", "rl-web", "cat", "/data.txt"]).trim(),
        "written"
    );

    // What cannot work without cgroup delegation says so.
    let o = r.berth(&["run", "--rm", "-m", "64m", "busybox:latest", "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("resource limits"), "{}", stderr(&o));
    let o = r.berth(&["update", "--cpus", "1", "rl-web"]);
    assert!(
        stderr(&o).contains("cannot update resource limits"),
        "{}",
        stderr(&o)
    );
    let o = r.berth(&["run", "--rm", "--user", "1000", "busybox:latest", "true"]);
    assert!(stderr(&o).contains("as uid 1000"), "{}", stderr(&o));
    let o = r.berth(&["pause", "rl-web"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("without a cgroup"), "{}", stderr(&o));

    r.ok(&["stop", "-t", "1", "rl-web"]);
    assert!(r.ok(&["ps", "-a"]).contains("Exited (137)"));
    r.ok(&["rm", "rl-web"]);
    assert!(!r.ok(&["ps", "-a"]).contains("rl-web"));
    // Host network: the daemon's (= the host's) network namespace, /sys bound read-only.
    let o = r.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox:latest",
        "ls",
        "/sys/class/net",
    ]);
    assert!(o.contains("lo"), "{o}");
}

/// A free port on 127.0.0.1 (bound and released; good enough for one test).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One HTTP/1.0 GET to 127.0.0.1:`port`, retried until `deadline`; returns the response.
fn http_get(port: u16, path: &str) -> String {
    use std::io::Write;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(out) if out.contains("200 OK") => return out,
            other => assert!(Instant::now() < deadline, "GET {path}: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pasta_of(uid: u32) -> Vec<i32> {
    pids_of(uid)
        .into_iter()
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.starts_with("pasta") || c.starts_with("passt"))
        })
        .collect()
}

#[test]
fn rootless_pasta_network_publishes_ports_on_the_host_loopback() {
    let tun = fs::metadata("/dev/net/tun").map(|m| m.permissions().mode() & 0o006);
    assert_eq!(
        tun.ok(),
        Some(0o006),
        "pasta needs /dev/net/tun usable by ordinary users (udev's 0666; .ci/run sets it)"
    );
    let mut r = Rootless::new();
    r.start();
    r.import_busybox();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "rl-httpd",
        "-p",
        &publish,
        "busybox:latest",
        "sh",
        "-c",
        "echo hello-rootless > /index.html && exec httpd -f -p 80 -h /",
    ]);
    // The rootless default network is pasta: its own namespace with an interface and a route.
    assert_eq!(
        r.ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "rl-httpd"])
            .trim(),
        "pasta"
    );
    let routes = r.ok(&["exec", "rl-httpd", "ip", "route"]);
    assert!(routes.contains("default via"), "{routes}");
    assert_eq!(
        r.ok(&["port", "rl-httpd"]).trim(),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    assert!(r.ok(&["ps"]).contains(&format!("127.0.0.1:{port}->80/tcp")));
    let page = http_get(port, "/index.html");
    assert!(page.contains("hello-rootless"), "{page}");
    assert_eq!(pasta_of(r.uid).len(), 1, "one pasta per container");
    r.ok(&["rm", "-f", "rl-httpd"]);
    // Removing the container ends its pasta and frees the port.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pasta_of(r.uid).is_empty() {
        assert!(Instant::now() < deadline, "pasta left running");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    // A build's RUN steps get a pasta network of their own and write through overlay.
    let ctx = r.dir.join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox:latest\nRUN ip route | grep default && echo built > /b.txt\n",
    )
    .unwrap();
    chown_tree(&ctx, r.uid);
    r.ok(&["build", "-t", "rl-built", ctx.to_str().unwrap()]);
    assert_eq!(
        r.ok(&["run", "--rm", "rl-built", "cat", "/b.txt"]).trim(),
        "built"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pasta_of(r.uid).is_empty() {
        assert!(Instant::now() < deadline, "a RUN step's pasta left running");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Ports the user may not bind are refused up front.
    let o = r.berth(&["run", "--rm", "-p", "80:80", "busybox:latest", "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("below"), "{}", stderr(&o));
    // Bridge networks need root.
    let o = r.berth(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "busybox:latest",
        "true",
    ]);
    assert!(!o.status.success());
}

/// A passwd entry (newuidmap needs the caller's name) and subuid/subgid ranges for a test
/// uid; Drop removes exactly these lines.
struct SubIdUser {
    lines: Vec<(&'static str, String)>,
}

impl SubIdUser {
    fn new(uid: u32, start: u32) -> SubIdUser {
        let sub = format!("{uid}:{start}:65536");
        let lines = vec![
            (
                "/etc/passwd",
                format!("berthrl{uid}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin"),
            ),
            ("/etc/subuid", sub.clone()),
            ("/etc/subgid", sub),
        ];
        locked(|| {
            for (f, line) in &lines {
                append_line(f, line);
            }
        });
        SubIdUser { lines }
    }
}

impl Drop for SubIdUser {
    fn drop(&mut self) {
        locked(|| {
            for (f, line) in &self.lines {
                remove_line(f, line);
            }
        });
    }
}

#[test]
fn rootless_berthd_maps_subordinate_ids_with_newuidmap() {
    let mut r = Rootless::new();
    let start = 2_900_000_000 + ((r.uid - 40_000) % 20_000) * 65_536;
    r.sub = Some((start, 65_536));
    let _ids = SubIdUser::new(r.uid, start);
    r.start();
    let log = r.log();
    assert!(
        log.contains(&format!("uid 0→{}, 1-65536→{start}+", r.uid)),
        "{log}"
    );
    r.import_busybox();
    assert_eq!(
        r.ok(&["run", "--rm", "busybox:latest", "id", "-u"]).trim(),
        "0"
    );
    // With subordinate ids the image keeps its owners.
    let ls = r.ok(&[
        "run",
        "--rm",
        "busybox:latest",
        "stat",
        "-c",
        "%u:%g",
        "/owned.txt",
    ]);
    assert_eq!(ls.trim(), "1000:1000");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "rl-sub",
        "--user",
        "1000",
        "busybox:latest",
        "sleep",
        "300",
    ]);
    let pid: i32 = r
        .ok(&["inspect", "-f", "{{.State.Pid}}", "rl-sub"])
        .trim()
        .parse()
        .unwrap();
    // Container uid 1000 is subordinate id 999 past the range's start on the host.
    assert_eq!(host_uid(pid), Some(start + 999));
    r.ok(&["rm", "-f", "rl-sub"]);
}
