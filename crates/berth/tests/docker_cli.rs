//! The real docker CLI (28.x) driving berthd: version negotiation, run with attach and exit
//! codes, detached containers, ps, logs, inspect --format, stop, rm.
#![allow(clippy::unwrap_used)]

mod common;

use common::{docker_cli, stderr, stdout, Daemon};

#[test]
fn docker_cli_runs_the_classic_flow() {
    let Some(docker) = docker_cli() else {
        eprintln!("docker CLI not installed; skipping");
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
