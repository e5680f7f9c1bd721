//! End-to-end: resource limits from the CLI (`run` flags, `update` live), OOM detection and
//! `stats`, through the real `berth`, `berthd` and `berth-shim` binaries. Runs on cgroup v1
//! here and on v2 through `run-in-cgroup2-vm.sh`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{stderr, stdout, Daemon};

/// Reads the container's own cgroup file, v2 name first, then v1's (the container's cgroup
/// namespace makes its cgroup the root of /sys/fs/cgroup).
fn cgroup_file(d: &Daemon, name: &str, v2: &str, v1: &str) -> String {
    let script = format!("cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}");
    d.ok(&["exec", name, "sh", "-c", &script]).trim().to_owned()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn memory_hog_is_oom_killed_and_reported() {
    let d = Daemon::start();
    d.import_busybox();
    let since = unix_now().to_string();
    // The string doubles until the 32 MiB limit is hit; no swap (memory+swap = 2x, host has
    // none or the kernel's OOM killer ends it first).
    let o = d.berth(&[
        "run",
        "--name",
        "hog",
        "-m",
        "32m",
        "--memory-swap",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
    ]);
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
            "hog"
        ]),
        "true 137\n"
    );
    let until = (unix_now() + 1).to_string();
    let events = d.ok(&["events", "--since", &since, "--until", &until]);
    assert!(events.contains(" container oom "), "{events}");
    let oom = events.find(" container oom ").unwrap();
    let die = events.find(" container die ").unwrap();
    assert!(oom < die, "oom comes before die: {events}");
    // A container that exits normally under the same limit is not OOM-killed.
    d.ok(&["run", "--name", "calm", "-m", "32m", "busybox", "true"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.OOMKilled}}", "calm"]),
        "false\n"
    );
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "forks",
        "--pids-limit",
        "20",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(cgroup_file(&d, "forks", "pids.max", "pids/pids.max"), "20");
    // The loop's shell gives up at the first fork the pids controller refuses (as docker's
    // would); the container's init lives on.
    let o = d.berth(&[
        "exec",
        "forks",
        "sh",
        "-c",
        "for i in $(seq 1 60); do sleep 300 & done; echo ALL-FORKED",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("can't fork"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("ALL-FORKED"));
    let pids: u64 = d
        .ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", "forks"])
        .trim()
        .parse()
        .unwrap();
    assert!((15..=20).contains(&pids), "pids {pids}");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "forks"]),
        "true\n"
    );
}

#[test]
fn half_a_cpu_holds_a_busy_loop_near_50_percent() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "spin",
        "--cpus",
        "0.5",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let mut seen = Vec::new();
    // Up to three readings: the 2 shared cores may be busy with other work at one moment.
    for _ in 0..3 {
        let out = d.ok(&["stats", "--no-stream", "--format", "{{.CPUPerc}}", "spin"]);
        let pct: f64 = out.trim().trim_end_matches('%').parse().unwrap();
        seen.push(pct);
        if (35.0..=65.0).contains(&pct) {
            break;
        }
    }
    let last = *seen.last().unwrap();
    assert!((35.0..=65.0).contains(&last), "CPU % readings {seen:?}");
    let quota = cgroup_file(&d, "spin", "cpu.max", "cpu/cpu.cfs_quota_us");
    assert!(quota == "50000 100000" || quota == "50000", "{quota}");
}

#[test]
fn stats_show_memory_and_docker_columns() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "st",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "sleep 300",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let table = d.ok(&["stats", "--no-stream"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.contains(" st "), "{table}");
    assert!(row.contains("/ 64MiB"), "{table}");
    let mem = d.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "st"]);
    assert!(!mem.starts_with("0B"), "{mem}");
    // The API document: memory usage from the cgroup, pids, a limit.
    let raw = d.raw("GET", "/containers/st/stats?stream=false&one-shot=true");
    let body = raw.split("\r\n\r\n").nth(1).unwrap();
    let json_start = body.find('{').unwrap();
    let json_end = body.rfind('}').unwrap();
    let doc: serde_json::Value = serde_json::from_str(&body[json_start..=json_end]).unwrap();
    assert!(doc["memory_stats"]["usage"].as_u64().unwrap() > 0, "{doc}");
    assert_eq!(doc["memory_stats"]["limit"], 64 << 20);
    assert!(doc["pids_stats"]["current"].as_u64().unwrap() >= 1);
    assert!(
        doc["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(doc["name"], "/st");
}

#[test]
fn update_applies_limits_live() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run", "-d", "--name", "up", "-m", "32m", "busybox", "sleep", "300",
    ]);
    let before = cgroup_file(&d, "up", "memory.max", "memory/memory.limit_in_bytes");
    assert_eq!(before, (32u64 << 20).to_string());
    assert_eq!(
        d.ok(&["update", "--memory", "48m", "--pids-limit", "30", "up"]),
        "up\n"
    );
    assert_eq!(
        cgroup_file(&d, "up", "memory.max", "memory/memory.limit_in_bytes"),
        (48u64 << 20).to_string()
    );
    assert_eq!(cgroup_file(&d, "up", "pids.max", "pids/pids.max"), "30");
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}",
            "up"
        ]),
        format!("{} 30\n", 48u64 << 20)
    );
    // Docker's conflict: memory above the current memory+swap without a new swap limit.
    let o = d.berth(&["update", "--memory", "512m", "up"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Memory limit should be smaller than already set memoryswap limit"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["update", "up"]);
    assert!(stderr(&o).contains("You must provide one or more flags"));
}

#[test]
fn bad_values_get_docker_messages_and_leave_nothing() {
    let d = Daemon::start();
    d.import_busybox();
    let cases: [(&[&str], &str); 7] = [
        (&["-m", "1m"], "Minimum memory limit allowed is 6MB"),
        (
            &["-m", "lots"],
            "invalid argument \"lots\" for \"-m, --memory\" flag",
        ),
        (&["--cpus", "64"], "Range of CPUs is from 0.01 to"),
        (
            &["--blkio-weight", "5"],
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            &["--cpu-period", "10"],
            "CPU cfs period can not be less than 1ms",
        ),
        (
            &["-m", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit",
        ),
        (
            &["--ulimit", "nofile=9:8"],
            "ulimit soft limit must be less than or equal to hard limit",
        ),
    ];
    for (flags, msg) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let o = d.berth(&args);
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn ulimits_shm_size_and_devices() {
    let d = Daemon::start();
    d.import_busybox();
    let out = d.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=1024:2048",
        "--shm-size",
        "16m",
        "--device",
        "/dev/null:/dev/mynull:rw",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; echo hi > /dev/mynull && echo wrote",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1024", "{out}");
    assert_eq!(lines[1], "2048", "{out}");
    assert!(lines[2].split_whitespace().nth(1) == Some("16384"), "{out}");
    assert_eq!(lines[3], "wrote", "{out}");
}

/// The freezer state of container `id` as the host sees it (v1 freezer or v2 cgroup.freeze).
fn host_freezer(id: &str) -> String {
    let v1 = format!("/sys/fs/cgroup/freezer/berth/{id}/freezer.state");
    let v2 = format!("/sys/fs/cgroup/berth/{id}/cgroup.freeze");
    std::fs::read_to_string(&v1)
        .or_else(|_| std::fs::read_to_string(&v2))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn pause_and_unpause_use_the_freezer() {
    let d = Daemon::start();
    d.import_busybox();
    let id = d
        .ok(&["run", "-d", "--name", "frozen", "busybox", "sleep", "300"])
        .trim()
        .to_owned();
    assert_eq!(d.ok(&["pause", "frozen"]), "frozen\n");
    assert!(matches!(host_freezer(&id).as_str(), "FROZEN" | "1"));
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "frozen"
        ]),
        "paused true\n"
    );
    let o = d.berth(&["pause", "frozen"]);
    assert!(stderr(&o).contains("is already paused"), "{}", stderr(&o));
    assert_eq!(d.ok(&["unpause", "frozen"]), "frozen\n");
    assert!(matches!(host_freezer(&id).as_str(), "THAWED" | "0"));
    d.ok(&["exec", "frozen", "true"]);
    // Stopping a paused container thaws it so the signal lands.
    d.ok(&["pause", "frozen"]);
    d.ok(&["stop", "-t", "1", "frozen"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "frozen"
        ]),
        "exited false\n"
    );
}
