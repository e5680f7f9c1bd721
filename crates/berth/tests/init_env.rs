//! `run --init` (docker-init as PID 1: signals reach the program, its exit code comes back)
//! and `--env-file` (docker's format, `-e` after it, a missing file is a 125 error).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{stderr, Daemon};

#[test]
fn init_runs_as_pid_1_and_forwards_signals() {
    if berth_init_missing() {
        common::skip("no docker-init/tini-static on this host");
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let ps = d.ok(&["run", "--rm", "--init", "busybox", "ps", "-o", "pid,args"]);
    assert!(ps.contains("1 /sbin/docker-init -- ps"), "{ps}");
    assert!(ps.contains("2 ps -o pid,args"), "{ps}");
    let o = d.berth(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 9"]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    // Without an init, sleep as PID 1 ignores SIGTERM; under it, SIGTERM ends it at once.
    d.ok(&[
        "run", "-d", "--init", "--name", "ini", "busybox", "sleep", "1000",
    ]);
    let t = Instant::now();
    d.ok(&["stop", "ini"]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let st = d.ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.HostConfig.Init}}",
        "ini",
    ]);
    assert_eq!(st, "143 true\n");
    // exec'd processes are not wrapped.
    d.ok(&["start", "ini"]);
    let ps = d.ok(&["exec", "ini", "ps", "-o", "pid,ppid,args"]);
    assert!(ps.contains(" /sbin/docker-init -- sleep 1000"), "{ps}");
    assert!(!ps.contains("docker-init -- ps"), "{ps}");
}

fn berth_init_missing() -> bool {
    !["/usr/bin/docker-init", "/usr/bin/tini-static"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}

#[test]
fn env_file_entries_come_before_e() {
    let d = Daemon::start();
    d.import_busybox();
    let file = d.dir.join("env.list");
    std::fs::write(&file, "# comment\nA=1\n\nB=from-file\nPATH_LIKE\n").unwrap();
    let f = file.to_str().unwrap();
    let out = d.ok(&[
        "run",
        "--rm",
        "--env-file",
        f,
        "-e",
        "B=from-flag",
        "busybox",
        "sh",
        "-c",
        "echo $A $B ${PATH_LIKE:-unset}",
    ]);
    assert_eq!(out, "1 from-flag unset\n");
    let o = d.berth(&[
        "run",
        "--rm",
        "--env-file",
        "/no/such/file",
        "busybox",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "", "nothing left behind");
}
