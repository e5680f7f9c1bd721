//! The real docker CLI (28.x) driving berthd: version negotiation, run with attach and exit
//! codes, detached containers, ps, logs, inspect --format, stop, rm.
#![allow(clippy::unwrap_used)]

mod common;

use common::{docker_cli, stderr, stdout, Daemon};

#[test]
fn docker_cli_runs_the_classic_flow() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    let v = d.docker(&docker, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(stdout(&v).trim(), "1.45", "{}", stderr(&v));

    let o = d.docker(
        &docker,
        &["run", "--rm", "busybox", "sh", "-c", "echo hi; exit 5"],
    );
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("hi\n", Some(5)),
        "{}",
        stderr(&o)
    );

    let o = d.docker(
        &docker,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo x; exec sleep 1000",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ps = stdout(&d.docker(&docker, &["ps"]));
    assert!(ps.contains(" web\n") && ps.contains("Up "), "{ps}");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = stdout(&d.docker(&docker, &["logs", "web"]));
        if !logs.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logs, "x\n");
    let st = d.docker(
        &docker,
        &["inspect", "--format", "{{.State.Status}} {{.Name}}", "web"],
    );
    assert_eq!(stdout(&st), "running /web\n", "{}", stderr(&st));
    let o = d.docker(&docker, &["stop", "-t", "1", "web"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let st = d.docker(
        &docker,
        &["inspect", "--format", "{{.State.ExitCode}}", "web"],
    );
    assert_eq!(stdout(&st), "137\n");
    let o = d.docker(&docker, &["rm", "web"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.docker(&docker, &["rm", "web"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such container: web"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn docker_cli_tutorial_commands() {
    let Some(docker) = docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    let ok = |args: &[&str]| {
        let o = d.docker(&docker, args);
        assert!(o.status.success(), "docker {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    assert!(ok(&["images"]).contains("busybox "));
    ok(&[
        "create",
        "--name",
        "tut",
        "busybox",
        "sh",
        "-c",
        "echo one; exec sleep 1000",
    ]);
    assert!(ok(&["ps", "-a"]).contains("Created"));
    ok(&["start", "tut"]);
    assert!(ok(&["ps"]).contains("Up "));
    let o = d.docker(
        &docker,
        &["exec", "tut", "sh", "-c", "echo in-exec; exit 4"],
    );
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("in-exec\n", Some(4)),
        "{}",
        stderr(&o)
    );
    let top = ok(&["top", "tut"]);
    assert!(top.contains("sleep 1000"), "{top}");
    let v = ok(&[
        "inspect",
        "--format",
        "{{json .State.Running}} {{len .Config.Cmd}}",
        "tut",
    ]);
    assert_eq!(v, "true 3\n");
    ok(&["stop", "-t", "1", "tut"]);
    ok(&["rm", "tut"]);
    // run -d + logs -f: follow ends when the container exits.
    ok(&[
        "run",
        "-d",
        "--name",
        "follow",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.1; done",
    ]);
    assert_eq!(ok(&["logs", "-f", "follow"]), "1\n2\n3\n");
    let o = d.docker(&docker, &["run", "--rm", "busybox", "sh", "-c", "exit 42"]);
    assert_eq!(o.status.code(), Some(42));
    let o = d.docker(&docker, &["run", "--rm", "busybox", "no-such-program"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    // Without --rm the CLI waits for next-exit: a failed start must end that wait too.
    let o = d.docker(
        &docker,
        &["run", "--name", "broken", "busybox", "no-such-program"],
    );
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    ok(&["rm", "follow", "broken"]);
    let rmi = ok(&["rmi", "busybox"]);
    assert!(rmi.contains("Untagged: busybox:latest"), "{rmi}");
}
