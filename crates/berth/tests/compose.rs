//! End-to-end `berth compose` (and docker-compose 1.29) against a real berthd: a three-service
//! app (busybox httpd web, a worker, a key-value store from busybox nc) whose services find
//! each other by name on `<project>_default`; scaling; recreation of only what changed;
//! `depends_on` conditions; `down -v` removing what compose made and nothing else (checked in
//! the kernel: links, mounts, network namespaces, nft rules). Each test runs its own daemon
//! and its own subnet.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{stderr, stdout, Daemon};

static SEQ: AtomicU32 = AtomicU32::new(0);

fn host(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn links() -> BTreeSet<String> {
    host("ip", &["-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .collect()
}

/// A loopback port nobody listens on.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A project directory, its daemon and a subnet of its own.
struct App {
    d: Option<Daemon>,
    dir: tempfile::TempDir,
    name: String,
    subnet: String,
    port: u16,
}

const KV: &str = "#!/bin/sh\nread cmd key value\ncase \"$cmd\" in\n  SET) echo \"$value\" > \"/data/$key\"; echo OK ;;\n  GET) cat \"/data/$key\" 2>/dev/null || echo MISSING ;;\nesac\n";
const CGI: &str =
    "#!/bin/sh\necho 'Content-Type: text/plain'\necho ''\necho 'GET greeting' | nc kv 7000\n";

impl App {
    fn new(tag: &str) -> App {
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        // 10.A.B.C/26, unique per test process and test (as tests/network.rs picks its own).
        let subnet = format!(
            "10.{}.{}.{}/26",
            ((pid >> 8) & 0x7f) + 128 * (seq & 1),
            pid & 0xff,
            64 * ((seq >> 1) % 4)
        );
        let d = Daemon::start();
        d.import_busybox();
        let dir = tempfile::tempdir().unwrap();
        let app = App {
            d: Some(d),
            dir,
            name: format!("c{tag}{pid:x}{seq}"),
            subnet,
            port: free_port(),
        };
        for (f, text) in [("kv.sh", KV), ("cgi-bin/value", CGI)] {
            let p = app.dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            Command::new("chmod").arg("755").arg(&p).status().unwrap();
        }
        app.write("compose.yaml", &app.three_services("worker-v1"));
        app
    }

    fn d(&self) -> &Daemon {
        self.d.as_ref().unwrap()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// The issue's application; `tag` goes into the worker's environment (a change there
    /// must recreate the worker only).
    fn three_services(&self, tag: &str) -> String {
        format!(
            r#"services:
  kv:
    image: busybox
    command: ["nc", "-ll", "-p", "7000", "-e", "/kv.sh"]
    volumes:
      - data:/data
      - ./kv.sh:/kv.sh:ro
  seed:
    image: busybox
    command: ["sh", "-c", "echo 'SET seeded yes' | nc kv 7000 | grep -q OK"]
    depends_on: [kv]
  worker:
    image: busybox
    command: ["sh", "-c", "while true; do echo \"SET greeting hello-from-$$(hostname)\" | nc kv 7000 >/dev/null; sleep 0.5; done"]
    environment:
      TAG: {tag}
    depends_on:
      kv:
        condition: service_started
      seed:
        condition: service_completed_successfully
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
      - "127.0.0.1:{port}:80"
    volumes:
      - ./cgi-bin:/www/cgi-bin:ro
    depends_on: [kv]
volumes:
  data:
networks:
  default:
    ipam:
      config:
        - subnet: {subnet}
"#,
            port = self.port,
            subnet = self.subnet
        )
    }

    fn compose(&self, args: &[&str]) -> Output {
        let mut a = vec!["compose", "-p", &self.name, "-f"];
        let file = self.dir.path().join("compose.yaml");
        let file = file.to_str().unwrap();
        a.push(file);
        a.extend_from_slice(args);
        self.d().berth(&a)
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.compose(args);
        assert!(
            o.status.success(),
            "compose {args:?}: {}\n{}\n{}",
            stdout(&o),
            stderr(&o),
            self.d().log()
        );
        (stdout(&o), stderr(&o))
    }

    /// `name -> id` of the project's containers.
    fn ids(&self) -> Vec<(String, String)> {
        let out = self.d().ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            "{{.Names}} {{.ID}}",
        ]);
        let mut v: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        v.sort();
        v
    }

    fn curl(&self, path: &str) -> String {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let o = Command::new("curl")
            .args(["-s", "--max-time", "3", &url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    fn network_bridge(&self) -> String {
        let id = self.d().ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{}_default", self.name),
        ]);
        format!("br-{}", &id.trim()[..12])
    }
}

impl Drop for App {
    /// Even on failure: down -v through the daemon, a graceful stop (it removes its bridges
    /// and table), then the harness's guard.
    fn drop(&mut self) {
        if let Some(mut d) = self.d.take() {
            let f = self.dir.path().join("compose.yaml");
            let _ = d.berth(&[
                "compose",
                "-p",
                &self.name,
                "-f",
                f.to_str().unwrap(),
                "down",
                "-v",
                "--remove-orphans",
                "-t",
                "1",
            ]);
            let nets = stdout(&d.berth(&["network", "ls", "-q", "--no-trunc"]));
            for n in nets.lines() {
                let _ = d.berth(&["network", "rm", n]);
                let _ = Command::new("ip")
                    .args(["link", "del", &format!("br-{}", &n[..12.min(n.len())])])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            d.terminate();
        }
    }
}

fn mounts_under(dir: &Path) -> usize {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.display().to_string();
    text.lines().filter(|l| l.contains(&d)).count()
}

#[test]
fn three_services_find_each_other_scale_recreate_and_down() {
    let app = App::new("app");
    let d = app.d();
    // Objects that are not the project's: `down -v` must leave them.
    d.ok(&["volume", "create", &format!("{}-keep", app.name)]);
    let keep = d.ok(&[
        "create",
        "--name",
        &format!("{}-keep", app.name),
        "busybox",
        "true",
    ]);
    let (_, err) = app.ok(&["up", "-d"]);
    assert!(
        err.contains(&format!("Network {}_default  Created", app.name)),
        "{err}"
    );
    assert!(
        err.contains(&format!("Container {}-web-1  Started", app.name)),
        "{err}"
    );
    // web → kv by name (CGI through nc), worker → kv by name (it wrote the greeting).
    common::wait_until(
        "web answers with the worker's greeting",
        Duration::from_secs(20),
        || app.curl("/cgi-bin/value").starts_with("hello-from-"),
    );
    // seed ran to completion (exit 0) before the worker started, and wrote through kv.
    let seeded = app.ok(&["exec", "-T", "kv", "cat", "/data/seeded"]).0;
    assert_eq!(seeded.trim(), "yes");
    let ps = app.ok(&["ps"]).0;
    assert!(ps.starts_with("NAME"), "{ps}");
    assert!(ps.contains(&format!("{}-worker-1", app.name)), "{ps}");
    assert!(
        ps.contains(&format!("127.0.0.1:{}->80/tcp", app.port)),
        "{ps}"
    );
    let labels = d.ok(&[
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &format!("{}-web-1", app.name),
    ]);
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["com.docker.compose.project"], app.name.as_str());
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert_eq!(
        labels["com.docker.compose.config-hash"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(
        labels["com.docker.compose.project.working_dir"],
        app.dir.path().to_str().unwrap()
    );

    // Scale the worker to 3 and back to 1: the highest numbers go first.
    app.ok(&["up", "-d", "--scale", "worker=3"]);
    let workers = |app: &App| -> Vec<String> {
        app.ids()
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n.contains("-worker-"))
            .collect()
    };
    assert_eq!(workers(&app).len(), 3, "{:?}", app.ids());
    let logs = app.ok(&["logs", "kv"]).0;
    assert!(
        logs.is_empty()
            || logs
                .lines()
                .all(|l| l.starts_with(&format!("{}-kv-1", app.name))),
        "{logs}"
    );
    let before = app.ids();
    let (_, err) = app.ok(&["up", "-d", "--scale", "worker=1"]);
    assert!(
        err.contains(&format!("{}-worker-3  Removed", app.name)),
        "{err}"
    );
    assert_eq!(workers(&app), [format!("{}-worker-1", app.name)]);
    // Nothing else changed: up-to-date containers keep their ids.
    let after = app.ids();
    for (n, id) in &after {
        assert!(
            before.contains(&(n.clone(), id.clone())),
            "{n} was recreated"
        );
    }

    // One service's configuration changes: only it is recreated.
    app.write("compose.yaml", &app.three_services("worker-v2"));
    let (_, err) = app.ok(&["up", "-d"]);
    assert!(
        err.contains(&format!("{}-web-1  Running", app.name)),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}-worker-1  Recreated", app.name)),
        "{err}"
    );
    let changed: Vec<String> = app
        .ids()
        .into_iter()
        .filter(|p| !after.contains(p))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(changed, [format!("{}-worker-1", app.name)]);
    let env = d.ok(&[
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        &format!("{}-worker-1", app.name),
    ]);
    assert!(env.contains("TAG=worker-v2"), "{env}");

    // down -v: everything compose made goes, and nothing else.
    let bridge = app.network_bridge();
    // The bridge and the containers' host-side veths: what must be gone after down.
    let mut ours: Vec<String> = host("ip", &["-o", "link", "show", "master", &bridge])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        ours.len(),
        3,
        "kv, web and worker have a veth on {bridge}: {ours:?}"
    );
    ours.push(bridge.clone());
    let table = common::nft_table(&d.dir.join("data"));
    let (_, err) = app.ok(&["down", "-v"]);
    assert!(
        err.contains(&format!("Network {}_default  Removed", app.name)),
        "{err}"
    );
    assert!(app.ids().is_empty(), "{:?}", app.ids());
    let nets = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains(&app.name), "{nets}");
    let vols = d.ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert_eq!(vols.trim(), format!("{}-keep", app.name), "{vols}");
    assert!(d
        .ok(&["ps", "-a", "-q", "--no-trunc"])
        .contains(keep.trim()));
    common::wait_until(
        "the project's veths and bridge are gone",
        Duration::from_secs(5),
        || {
            let now = links();
            ours.iter().all(|l| !now.contains(l))
        },
    );
    let exec_netns = d.dir.join("exec/netns");
    let left = std::fs::read_dir(&exec_netns)
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(
        left,
        0,
        "network namespaces left in {}",
        exec_netns.display()
    );
    assert_eq!(
        mounts_under(&d.dir),
        0,
        "mounts left under {}",
        d.dir.display()
    );
    let rules = host("nft", &["list", "table", "ip", &table]);
    assert!(
        !rules.contains(&bridge),
        "nft rules still name {bridge}:\n{rules}"
    );
    assert!(
        !rules.contains(&app.port.to_string()),
        "nft rules still publish {}:\n{rules}",
        app.port
    );
}

#[test]
fn failed_dependency_stops_up_and_bad_files_create_nothing() {
    let app = App::new("bad");
    let d = app.d();
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  init:\n    image: busybox\n    command: [\"sh\", \"-c\", \"exit 3\"]\n  app:\n    image: busybox\n    command: [\"sleep\", \"60\"]\n    depends_on:\n      init:\n        condition: service_completed_successfully\nnetworks:\n  default:\n    ipam:\n      config:\n        - subnet: {}\n",
            app.subnet
        ),
    );
    let o = app.compose(&["up", "-d"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("service \"init\" didn't complete successfully: exit 3"),
        "{}",
        stderr(&o)
    );
    assert!(
        !app.ids().iter().any(|(n, _)| n.contains("-app-")),
        "{:?}",
        app.ids()
    );
    app.ok(&["down"]);

    // Schema, reference and cycle errors name the place and create nothing.
    let cases = [
        ("services:\n  a:\n    image: busybox\n    portz: [80]\n", "compose.yaml:4: services.a: additional property portz is not allowed"),
        ("services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n", "dependency cycle detected"),
        ("services:\n  a:\n    image: busybox\n    networks: [nope]\n", "refers to undefined network nope"),
        ("services:\n  a:\n    image: busybox\n    ports: [\"9999:80\"]\n  b:\n    image: busybox\n    ports: [\"9999:80\"]\n", "both publish host port 9999/tcp"),
    ];
    for (text, want) in cases {
        app.write("compose.yaml", text);
        let o = app.compose(&["up", "-d"]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(stderr(&o).contains(want), "{text}: {}", stderr(&o));
        assert!(app.ids().is_empty());
        let nets = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
        assert!(!nets.contains(&app.name), "{nets}");
    }
}

#[test]
fn exec_run_and_lifecycle_commands() {
    let app = App::new("ops");
    app.ok(&["up", "-d", "kv"]);
    let (out, _) = app.ok(&[
        "run",
        "--rm",
        "-T",
        "seed",
        "sh",
        "-c",
        "echo 'GET seeded' | nc kv 7000",
    ]);
    assert_eq!(out.trim(), "MISSING");
    // The one-off container is gone (--rm), kv is still the only container.
    let names: Vec<String> = app.ids().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, [format!("{}-kv-1", app.name)]);
    app.ok(&["stop", "kv"]);
    assert!(app.ok(&["ps"]).0.lines().count() == 1);
    assert!(app.ok(&["ps", "-a"]).0.contains("Exited"));
    app.ok(&["start", "kv"]);
    app.ok(&["pause", "kv"]);
    let state = app.ok(&["ps", "--format", "{{.Name}} {{.State}}"]).0;
    assert_eq!(state.trim(), format!("{}-kv-1 paused", app.name));
    app.ok(&["unpause", "kv"]);
    let top = app.ok(&["top", "kv"]).0;
    assert!(top.contains("nc -ll -p 7000"), "{top}");
    let images = app.ok(&["images"]).0;
    assert!(images.contains("busybox"), "{images}");
    app.ok(&["kill", "kv"]);
    app.ok(&["rm", "-f"]);
    assert!(app.ids().is_empty());
}

fn docker_compose() -> Option<PathBuf> {
    ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[test]
fn docker_compose_1_29_runs_the_same_app() {
    let Some(dc) = docker_compose() else {
        common::skip("docker-compose not installed");
        return;
    };
    let app = App::new("dc");
    let d = app.d();
    let run = |args: &[&str]| {
        let o = Command::new(&dc)
            .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
            .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
            .current_dir(app.dir.path())
            .arg("-p")
            .arg(&app.name)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "docker-compose {args:?}: {}\n{}\n{}",
            stdout(&o),
            stderr(&o),
            d.log()
        );
        o
    };
    run(&["up", "-d"]);
    common::wait_until(
        "web answers with the worker's greeting",
        Duration::from_secs(20),
        || app.curl("/cgi-bin/value").starts_with("hello-from-"),
    );
    // berth compose sees docker-compose's project through the same labels.
    let ps = app.ok(&["ps", "--services"]).0;
    assert_eq!(
        ps.lines().collect::<Vec<_>>(),
        ["kv", "web", "worker"],
        "{ps}"
    );
    let out = stdout(&run(&["exec", "-T", "kv", "cat", "/data/seeded"]));
    assert_eq!(out.trim(), "yes");
    run(&["down", "-v"]);
    assert!(app.ids().is_empty(), "{:?}", app.ids());
    let vols = d.ok(&["volume", "ls", "-q"]);
    assert!(vols.trim().is_empty(), "{vols}");
}
