//! End-to-end: what the daemon does for a container over time, driving the real `berth`,
//! `berthd` and `berth-shim` binaries: containers outliving a daemon crash or stop, restart
//! policies, attach and signal forwarding, log options and rotation, the events history, and
//! concurrent starts.
#![allow(clippy::unwrap_used)]

mod common;

use common::{stderr, stdout, Daemon};

#[test]
fn containers_survive_a_daemon_crash() {
    let mut d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "survivor",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 7' TERM; echo up; while true; do sleep 0.1; done",
    ]);
    let done = d.ok(&[
        "run",
        "-d",
        "--name",
        "quick",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 4",
    ]);
    assert_eq!(done.trim().len(), 64);
    d.kill9();
    // While the daemon is down, "quick" exits; its shim records that.
    let exit_file = d
        .dir
        .join("exec/containers")
        .join(done.trim())
        .join("exit.json");
    common::wait_until(
        "quick's exit.json",
        std::time::Duration::from_secs(20),
        || exit_file.exists(),
    );
    d.restart();
    let ps = d.ok(&["ps"]);
    assert!(ps.contains("survivor"), "{ps}");
    assert!(!ps.contains("quick"), "{ps}");
    assert_eq!(d.ok(&["wait", "quick"]), "4\n");
    // exec works against the container the new daemon adopted.
    assert_eq!(
        d.ok(&["exec", "survivor", "echo", "still-here"]),
        "still-here\n"
    );
    assert_eq!(d.ok(&["stop", "survivor"]), "survivor\n");
    assert_eq!(d.ok(&["wait", "survivor"]), "7\n");
    assert_eq!(d.ok(&["logs", "survivor"]), "up\nbye\n");
}

#[test]
fn restart_attach_and_log_options() {
    let d = Daemon::start();
    d.import_busybox();
    let id = d.ok(&[
        "create",
        "--name",
        "again",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 2",
    ]);
    assert_eq!(id.trim().len(), 64);
    let ps = d.ok(&["ps", "-a"]);
    assert!(ps.contains("Created"), "{ps}");
    for _ in 0..2 {
        // Each attach sees only its own run's output.
        let o = d.berth(&["start", "-a", "again"]);
        assert_eq!(
            (stdout(&o).as_str(), o.status.code()),
            ("run\n", Some(2)),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(d.ok(&["logs", "again"]), "run\nrun\n");
    let stamped = d.ok(&["logs", "-t", "again"]);
    for l in stamped.lines() {
        let (ts, rest) = l.split_once(' ').unwrap();
        assert!(
            ts.starts_with("20") && ts.ends_with('Z') && ts.contains('T'),
            "{l}"
        );
        assert_eq!(rest, "run");
    }
    assert_eq!(d.ok(&["logs", "--since", "1h", "again"]), "run\nrun\n");
    assert_eq!(
        d.ok(&["logs", "--until", "2000-01-01T00:00:00Z", "again"]),
        ""
    );
    assert_eq!(d.ok(&["logs", "--since", "4102444800", "again"]), "");
    assert_eq!(d.ok(&["logs", "--tail", "1", "again"]), "run\n");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done",
    ]);
    // Follow ends when the container exits, with every line.
    assert_eq!(d.ok(&["logs", "-f", "counter"]), "1\n2\n3\n");
}

#[test]
fn attached_run_forwards_signals() {
    let d = Daemon::start();
    d.import_busybox();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = std::process::Command::new(common::BERTH)
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(["run", "--rm", "--name", "trapper", "busybox", "sh", "-c"])
        .arg("trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done")
        .stdout(out.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut ready = false;
    for _ in 0..200 {
        if std::fs::read_to_string(out.path())
            .unwrap()
            .contains("ready")
        {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ready, "container did not start: {}", d.log());
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(9));
    assert_eq!(
        std::fs::read_to_string(out.path()).unwrap(),
        "ready\ngot-term\n"
    );
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "");
}

fn restart_count(d: &Daemon, name: &str) -> (i64, String) {
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", name])).unwrap();
    (
        v[0]["RestartCount"].as_i64().unwrap(),
        v[0]["State"]["Status"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn restart_policies() {
    let mut d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.1",
    ]);
    // on-failure:2 gives up after two restarts (back-off 100 ms, 200 ms).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while restart_count(&d, "flaky") != (2, "exited".into()) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            restart_count(&d, "flaky")
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(restart_count(&d, "flaky"), (2, "exited".into()));
    assert!(
        restart_count(&d, "loop").0 >= 2,
        "{:?}",
        restart_count(&d, "loop")
    );
    // A user stop ends an always policy, also across a daemon restart.
    d.ok(&["stop", "loop"]);
    let after_stop = restart_count(&d, "loop").0;
    d.restart();
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(restart_count(&d, "loop"), (after_stop, "exited".into()));
    // A user start brings the policy back.
    d.ok(&["start", "loop"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while restart_count(&d, "loop").0 <= after_stop {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = d.berth(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    let o = d.berth(&["run", "--restart", "sometimes", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn log_rotation() {
    let d = Daemon::start();
    d.import_busybox();
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=1; while [ $i -le 300 ]; do echo line $i; i=$((i+1)); done",
    ]);
    assert_eq!(d.ok(&["wait", "chatty"]), "0\n");
    let logs = d.ok(&["logs", "chatty"]);
    let nums: Vec<u32> = logs
        .lines()
        .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
        .collect();
    // The oldest lines were rotated away; what is left is consecutive up to the last one.
    assert_eq!(nums.last(), Some(&300));
    assert!(nums[0] > 1, "nothing was rotated away");
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1));
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "chatty"])).unwrap();
    let log = std::path::PathBuf::from(v[0]["LogPath"].as_str().unwrap());
    for f in [
        log.clone(),
        log.with_extension("log.1"),
        log.with_extension("log.2"),
    ] {
        let len = std::fs::metadata(&f).unwrap().len();
        assert!(len <= 2048, "{} is {len} bytes", f.display());
    }
    assert!(!log.with_extension("log.3").exists());
    assert_eq!(id.trim().len(), 64);
    // dockerd accepts max-file without max-size (issue 15): nothing rotates.
    let o = d.berth(&["run", "--rm", "--log-opt", "max-file=2", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = d.berth(&["run", "--rm", "--log-driver", "syslog", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn events_history_and_until() {
    let d = Daemon::start();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    d.import_busybox();
    d.ok(&["run", "--rm", "--name", "ev", "busybox", "true"]);
    // Wait for the auto-remove (foreground --rm removes after the exit).
    let until = start + 3;
    let out = d.ok(&[
        "events",
        "--since",
        &start.to_string(),
        "--until",
        &until.to_string(),
        "--format",
        "{{.Type}} {{.Action}} {{index .Actor.Attributes \"name\"}}",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"image import busybox:latest"), "{out}");
    for want in [
        "container create ev",
        "container start ev",
        "container die ev",
        "container destroy ev",
    ] {
        assert!(lines.contains(&want), "{want} missing in {out}");
    }
    let plain = d.ok(&[
        "events",
        "--since",
        &start.to_string(),
        "--until",
        &until.to_string(),
    ]);
    let die = plain
        .lines()
        .find(|l| l.contains(" container die "))
        .unwrap();
    assert!(
        die.contains("exitCode=0") && die.contains("name=ev"),
        "{die}"
    );
}

#[test]
fn graceful_daemon_stop_leaves_containers_running() {
    let mut d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "steady",
        "busybox",
        "sh",
        "-c",
        "echo a; exec sleep 1000",
    ]);
    // A follower keeps a streaming connection open while the daemon stops.
    let mut follower = std::process::Command::new(common::BERTH)
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(["logs", "-f", "steady"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let took = d.terminate();
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    let _ = follower.wait();
    assert!(!d.sock.exists(), "socket left behind");
    d.start_again();
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(ps, "steady running\n");
}

#[test]
fn concurrent_starts_run_one_container() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&["create", "--name", "once", "busybox", "sleep", "1000"]);
    let sock = format!("unix://{}", d.sock.display());
    let children: Vec<_> = (0..5)
        .map(|_| {
            std::process::Command::new(common::BERTH)
                .args(["-H", &sock, "start", "once"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let top = d.ok(&["top", "once"]);
    assert_eq!(
        top.lines().filter(|l| l.ends_with("sleep 1000")).count(),
        1,
        "{top}"
    );
    assert_eq!(
        d.ok(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "once running\n"
    );
}
