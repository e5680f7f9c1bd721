//! End-to-end: rootless berthd. The daemon and the CLI run as an ordinary unprivileged user
//! (a per-test uid with no capabilities, through `setpriv`) that owns fresh `HOME` and
//! `XDG_RUNTIME_DIR` directories; the daemon makes its own user namespace and runs containers
//! whose processes are that user's on the host. A Drop guard stops the daemon, kills whatever
//! the uid still runs (shims, containers: their mounts live in the daemon's private mount
//! namespace and vanish with them) and removes the directories as root.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "rootless/harness.rs"]
mod harness;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{append_line, remove_line, stderr, with_subid_lock as locked};
use harness::{chown_tree, host_uid, pids_of, Rootless};

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
    running_container(&mut r);
    refusals_without_cgroups(&r);
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

/// A detached container `rl-web` runs as the user on the host, writes to its upper layer,
/// answers exec/top/stats without a cgroup, and survives a daemon restart.
fn running_container(r: &mut Rootless) {
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
}

/// What cannot work without cgroup delegation (limits, pause) or without more than one
/// mapped id says so.
fn refusals_without_cgroups(r: &Rootless) {
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
