//! The real Debian docker CLI (docker.io, client 20.10, API 1.41) pointed at berthd with
//! `-H unix://SOCK` runs the classic tutorial: version, images, create, ps -a (Created),
//! start, ps (Up), logs, top, inspect --format, exec -it on a terminal, stop, rm,
//! run --rm, run -d + logs -f, exit codes, rmi.
#![allow(clippy::unwrap_used)]

mod common;
mod pty;

use std::path::Path;
use std::process::Command;

use common::{stderr, stdout, Daemon};
use pty::OnPty;

const DOCKER20: &str = "/usr/bin/docker";

/// `docker ARGS` on a pty (for `-it`), with the test's config dir.
fn docker_on_pty(d: &Daemon, args: &[&str]) -> OnPty {
    let cfg = d.dir.join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    let mut cmd = Command::new(DOCKER20);
    cmd.env("DOCKER_CONFIG", &cfg)
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(args);
    OnPty::spawn(cmd)
}

/// `docker ARGS`, which must succeed; its stdout.
fn ok(d: &Daemon, args: &[&str]) -> String {
    let o = d.docker(Path::new(DOCKER20), args);
    assert!(
        o.status.success(),
        "docker {args:?}: {}\n{}\ndaemon log:\n{}",
        o.status,
        stderr(&o),
        d.log()
    );
    stdout(&o)
}

/// The tutorial's steps in order, on one daemon: each step starts from what the previous
/// one left (the `web` container, the busybox image).
#[test]
fn docker20_runs_the_classic_tutorial() {
    let v = Command::new(DOCKER20).arg("--version").output();
    match v {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("version 20.10") => {}
        _ => {
            common::skip("Debian's docker.io (CLI 20.10) not installed");
            return;
        }
    }
    let d = Daemon::start();
    let image = d.import_busybox();
    assert!(image.starts_with("sha256:"));
    version_and_images(&d);
    create_start_and_inspect(&d);
    exec_on_and_off_a_terminal(&d);
    stop_and_remove(&d);
    run_in_the_foreground(&d);
    run_detached_and_follow_logs(&d);

    let o = d.docker(Path::new(DOCKER20), &["rmi", "busybox"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Untagged: busybox:latest"),
        "{}",
        stdout(&o)
    );
    assert!(!ok(&d, &["images"]).contains("busybox"));
}

fn version_and_images(d: &Daemon) {
    let v = ok(
        d,
        &[
            "version",
            "--format",
            "{{.Client.Version}} {{.Server.APIVersion}}",
        ],
    );
    assert!(
        v.starts_with("20.10") && v.trim_end().ends_with(" 1.45"),
        "{v}"
    );
    let images = ok(d, &["images"]);
    assert!(
        images.starts_with("REPOSITORY") && images.contains("busybox"),
        "{images}"
    );
}

/// create, ps -a (Created), start, ps (Up), logs, top, inspect --format: leaves `web`
/// running.
fn create_start_and_inspect(d: &Daemon) {
    let id = ok(
        d,
        &[
            "create",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo hello-web; exec sleep 1000",
        ],
    );
    assert_eq!(id.trim().len(), 64, "{id}");
    let ps = ok(d, &["ps", "-a"]);
    assert!(ps.contains("Created") && ps.contains(" web\n"), "{ps}");
    assert_eq!(ok(d, &["start", "web"]), "web\n");
    let ps = ok(d, &["ps"]);
    assert!(ps.contains("Up ") && ps.contains(" web\n"), "{ps}");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = ok(d, &["logs", "web"]);
        if !logs.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logs, "hello-web\n");
    let top = ok(d, &["top", "web"]);
    assert!(top.contains("PID") && top.contains("sleep 1000"), "{top}");
    let st = ok(
        d,
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.Name}} {{json .Config.Tty}}",
            "web",
        ],
    );
    assert_eq!(st, "running /web false\n");
}

fn exec_on_and_off_a_terminal(d: &Daemon) {
    // exec -it on a terminal: a shell, its size, its exit code.
    let mut t = docker_on_pty(d, &["exec", "-it", "web", "sh"]);
    t.send(b"echo in-$((5*5)); stty size\n");
    t.expect("in-25");
    t.expect("33 101");
    t.send(b"exit 4\n");
    assert_eq!(t.exit_code(), Some(4), "{}", t.text());
    // exec without a terminal, output and exit code.
    let o = d.docker(
        Path::new(DOCKER20),
        &["exec", "web", "sh", "-c", "echo out; echo err >&2; exit 3"],
    );
    assert_eq!(
        (stdout(&o).as_str(), stderr(&o).as_str(), o.status.code()),
        ("out\n", "err\n", Some(3))
    );
}

fn stop_and_remove(d: &Daemon) {
    assert_eq!(ok(d, &["stop", "-t", "1", "web"]), "web\n");
    let st = ok(d, &["inspect", "--format", "{{.State.Status}}", "web"]);
    assert_eq!(st, "exited\n");
    assert_eq!(ok(d, &["rm", "web"]), "web\n");
    let o = d.docker(Path::new(DOCKER20), &["inspect", "web"]);
    assert_eq!(o.status.code(), Some(1));
}

/// run --rm in the foreground: output, exit codes (127 for a missing program), and -it on a
/// terminal.
fn run_in_the_foreground(d: &Daemon) {
    let docker = Path::new(DOCKER20);
    assert_eq!(ok(d, &["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
    let o = d.docker(docker, &["run", "--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let o = d.docker(docker, &["run", "--rm", "busybox", "no-such-program"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    let mut t = docker_on_pty(d, &["run", "-it", "--rm", "busybox", "sh"]);
    t.send(b"echo run-$((4*4)); exit 2\n");
    t.expect("run-16");
    assert_eq!(t.exit_code(), Some(2), "{}", t.text());
}

/// run -d, then logs -f until it exits.
fn run_detached_and_follow_logs(d: &Daemon) {
    let id = ok(
        d,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.2; done",
        ],
    );
    let id = id.trim();
    assert_eq!(ok(d, &["logs", "-f", id]), "line1\nline2\nline3\n");
    assert_eq!(ok(d, &["wait", id]), "0\n");
    ok(d, &["rm", id]);
}
