//! End-to-end `berth compose` (and docker-compose 1.29) against a real berthd: a three-service
//! app (busybox httpd web, a worker, a key-value store from busybox nc) whose services find
//! each other by name on `<project>_default`; scaling; recreation of only what changed;
//! `depends_on` conditions; `down -v` removing what compose made and nothing else (checked in
//! the kernel: links, mounts, network namespaces, nft rules). Each test runs its own daemon
//! and its own subnet.
#![allow(clippy::unwrap_used)]

#[path = "compose/app.rs"]
mod app;
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use app::{host, links, mounts_under, App};
use common::{stderr, stdout, Daemon};

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
    up_and_find_each_other(&app, d);
    let after = scale_up_and_down(&app);
    recreate_only_the_changed_service(&app, d, &after);
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

/// `up -d`: the three services find each other by name; labels as docker compose sets them.
fn up_and_find_each_other(app: &App, d: &Daemon) {
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
}

/// `--scale worker=3` and back to 1: the highest numbers go first, nothing else changes.
fn scale_up_and_down(app: &App) -> Vec<(String, String)> {
    // Scale the worker to 3 and back to 1: the highest numbers go first.
    app.ok(&["up", "-d", "--scale", "worker=3"]);
    let workers = |app: &App| -> Vec<String> {
        app.ids()
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n.contains("-worker-"))
            .collect()
    };
    assert_eq!(workers(app).len(), 3, "{:?}", app.ids());
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
    assert_eq!(workers(app), [format!("{}-worker-1", app.name)]);
    // Nothing else changed: up-to-date containers keep their ids.
    let after = app.ids();
    for (n, id) in &after {
        assert!(
            before.contains(&(n.clone(), id.clone())),
            "{n} was recreated"
        );
    }
    after
}

/// One service's configuration changes: `up -d` recreates only it.
fn recreate_only_the_changed_service(app: &App, d: &Daemon, after: &[(String, String)]) {
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

/// The compose file of the healthcheck tests: `app` waits for `db` to be healthy; `db`
/// becomes healthy after about 2 s with the `test` given (never with `["CMD", "false"]`).
/// `start_period`: failures before it ends do not count (dockerd's rule), so a database that
/// takes 2 s to get ready is not declared unhealthy by its first probes.
fn healthcheck_file(app: &App, test: &str, start_period: &str) -> String {
    format!(
        r#"services:
  db:
    image: busybox
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: {test}
      interval: 300ms
      retries: 3
      start_period: {start_period}
  app:
    image: busybox
    command: ["sleep", "3600"]
    depends_on:
      db:
        condition: service_healthy
networks:
  default:
    ipam:
      config:
        - subnet: {subnet}
"#,
        subnet = app.subnet
    )
}

#[test]
fn healthcheck_gates_the_dependent_start() {
    let app = App::new("hc");
    app.write(
        "compose.yaml",
        &healthcheck_file(&app, r#"["CMD", "test", "-f", "/tmp/ready"]"#, "10s"),
    );
    app.ok(&["up", "-d"]);
    let d = app.d();
    let field = |name: &str, f: &str| {
        d.ok(&["inspect", "--format", f, &format!("{}-{name}-1", app.name)])
            .trim()
            .to_owned()
    };
    assert_eq!(field("db", "{{.State.Health.Status}}"), "healthy");
    let started = |name: &str| {
        field(name, "{{.State.StartedAt}}")
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let gap = started("app").duration_since(started("db"));
    assert!(
        gap >= jiff::SignedDuration::from_secs(2),
        "app started {gap:?} after db, before db was healthy"
    );
    app.ok(&["down"]);
    // A dependency that never becomes healthy stops `up` before the dependent is created.
    app.write(
        "compose.yaml",
        &healthcheck_file(&app, r#"["CMD", "false"]"#, "0s"),
    );
    let o = app.compose(&["up", "-d"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("container {}-db-1 is unhealthy", app.name)),
        "{}",
        stderr(&o)
    );
    assert!(
        !app.ids().iter().any(|(n, _)| n.contains("-app-")),
        "{:?}",
        app.ids()
    );
}

#[test]
fn foreground_up_prefixes_logs_and_stops_on_ctrl_c() {
    let app = App::new("fg");
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  talk:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo hello-talk; exec sleep 3600\"]\n  quiet:\n    image: busybox\n    command: [\"sleep\", \"3600\"]\nnetworks:\n  default:\n    ipam:\n      config:\n        - subnet: {}\n",
            app.subnet
        ),
    );
    let out = tempfile::NamedTempFile::new().unwrap();
    let file = app.dir.path().join("compose.yaml");
    let mut child = Command::new(common::BERTH)
        .arg("-H")
        .arg(format!("unix://{}", app.d().sock.display()))
        .args([
            "compose",
            "-p",
            &app.name,
            "-f",
            file.to_str().unwrap(),
            "up",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let text = || std::fs::read_to_string(out.path()).unwrap_or_default();
    common::wait_until("the prefixed log line", Duration::from_secs(30), || {
        text().contains(&format!("{}-talk-1  | hello-talk", app.name))
    });
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("compose up did not end after SIGINT: {}", text());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130), "{}", text());
    assert!(
        text().starts_with(&format!(
            "Attaching to {}-quiet-1, {}-talk-1",
            app.name, app.name
        )),
        "{}",
        text()
    );
    // Stopped, not removed: both are still there, exited.
    let states = app.ok(&["ps", "-a", "--format", "{{.Name}} {{.State}}"]).0;
    assert_eq!(
        states.lines().collect::<Vec<_>>(),
        [
            format!("{}-quiet-1 exited", app.name),
            format!("{}-talk-1 exited", app.name)
        ]
    );
}
