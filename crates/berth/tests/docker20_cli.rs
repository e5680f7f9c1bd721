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

#[test]
fn docker20_runs_the_classic_tutorial() {
    let docker = Path::new(DOCKER20);
    let v = Command::new(docker).arg("--version").output();
    match v {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("version 20.10") => {}
        _ => {
            common::skip("Debian's docker.io (CLI 20.10) not installed");
            return;
        }
    }
    let d = Daemon::start();
    let image = d.import_busybox();
    let ok = |args: &[&str]| {
        let o = d.docker(docker, args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}\n{}\ndaemon log:\n{}",
            o.status,
            stderr(&o),
            d.log()
        );
        stdout(&o)
    };

    let v = ok(&[
        "version",
        "--format",
        "{{.Client.Version}} {{.Server.APIVersion}}",
    ]);
    assert!(
        v.starts_with("20.10") && v.trim_end().ends_with(" 1.45"),
        "{v}"
    );
    let images = ok(&["images"]);
    assert!(
        images.starts_with("REPOSITORY") && images.contains("busybox"),
        "{images}"
    );
    assert!(image.starts_with("sha256:"));

    let id = ok(&[
        "create",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo hello-web; exec sleep 1000",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let ps = ok(&["ps", "-a"]);
    assert!(ps.contains("Created") && ps.contains(" web\n"), "{ps}");
    assert_eq!(ok(&["start", "web"]), "web\n");
    let ps = ok(&["ps"]);
    assert!(ps.contains("Up ") && ps.contains(" web\n"), "{ps}");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = ok(&["logs", "web"]);
        if !logs.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logs, "hello-web\n");
    let top = ok(&["top", "web"]);
    assert!(top.contains("PID") && top.contains("sleep 1000"), "{top}");
    let st = ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.Name}} {{json .Config.Tty}}",
        "web",
    ]);
    assert_eq!(st, "running /web false\n");

    // exec -it on a terminal: a shell, its size, its exit code.
    let mut t = docker_on_pty(&d, &["exec", "-it", "web", "sh"]);
    t.send(b"echo in-$((5*5)); stty size\n");
    t.expect("in-25");
    t.expect("33 101");
    t.send(b"exit 4\n");
    assert_eq!(t.exit_code(), Some(4), "{}", t.text());
    // exec without a terminal, output and exit code.
    let o = d.docker(
        docker,
        &["exec", "web", "sh", "-c", "echo out; echo err >&2; exit 3"],
    );
    assert_eq!(
        (stdout(&o).as_str(), stderr(&o).as_str(), o.status.code()),
        ("out\n", "err\n", Some(3))
    );

    assert_eq!(ok(&["stop", "-t", "1", "web"]), "web\n");
    let st = ok(&["inspect", "--format", "{{.State.Status}}", "web"]);
    assert_eq!(st, "exited\n");
    assert_eq!(ok(&["rm", "web"]), "web\n");
    let o = d.docker(docker, &["inspect", "web"]);
    assert_eq!(o.status.code(), Some(1));

    // run --rm in the foreground, and exit codes.
    assert_eq!(ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
    let o = d.docker(docker, &["run", "--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let o = d.docker(docker, &["run", "--rm", "busybox", "no-such-program"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    // run -it on a terminal.
    let mut t = docker_on_pty(&d, &["run", "-it", "--rm", "busybox", "sh"]);
    t.send(b"echo run-$((4*4)); exit 2\n");
    t.expect("run-16");
    assert_eq!(t.exit_code(), Some(2), "{}", t.text());

    // run -d, then logs -f until it exits.
    let id = ok(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.2; done",
    ]);
    let id = id.trim();
    assert_eq!(ok(&["logs", "-f", id]), "line1\nline2\nline3\n");
    assert_eq!(ok(&["wait", id]), "0\n");
    ok(&["rm", id]);

    let o = d.docker(docker, &["rmi", "busybox"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Untagged: busybox:latest"),
        "{}",
        stdout(&o)
    );
    assert!(!ok(&["images"]).contains("busybox"));
}
