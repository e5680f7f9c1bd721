//! End-to-end: the walk-through of issue 5's first slice, driving the real `berth`, `berthd`
//! and `berth-shim` binaries: run, exit codes, detached containers, errors, exec, formatting
//! and filters. Supervision (restarts, daemon crash and stop, signals, logs, events) is in
//! `supervision.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{stderr, stdout, Daemon};

#[test]
fn import_run_and_exit_codes() {
    let d = Daemon::start();
    let id = d.import_busybox();
    assert!(id.starts_with("sha256:"), "{id}");
    let images = d.ok(&["images"]);
    let mut lines = images.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("REPOSITORY   TAG       IMAGE ID"));
    let row = lines.next().unwrap();
    assert!(row.starts_with("busybox      latest   "), "{images}");
    assert!(row.contains(&id[7..19]), "{images}");

    let o = d.berth(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("hello\n", Some(0)),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");
    // --rm removed both.
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "");
    // A signal exit is 128+N (PID 1 cannot be killed from inside its namespace: use kill).
    d.ok(&["run", "-d", "--name", "victim", "busybox", "sleep", "1000"]);
    assert_eq!(d.ok(&["kill", "victim"]), "victim\n");
    assert_eq!(d.ok(&["wait", "victim"]), "137\n");
    // Detached --rm: the daemon removes it once it exits.
    d.ok(&["run", "-d", "--rm", "--name", "gone", "busybox", "true"]);
    let mut left = String::from("?");
    for _ in 0..200 {
        left = d.ok(&["ps", "-a", "--no-trunc"]);
        if !left.contains("gone") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!left.contains("gone"), "{left}");
}

#[test]
fn detached_container_lifecycle() {
    let d = Daemon::start();
    d.import_busybox();
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ps = d.ok(&["ps"]);
    let row = ps.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with(&id[..12]), "{ps}");
    assert!(row.contains("Up "), "{ps}");
    assert!(row.ends_with("web"), "{ps}");
    assert!(ps.starts_with("CONTAINER ID   IMAGE     COMMAND"), "{ps}");
    // The log is written by the shim; wait for the first line.
    let mut logs = String::new();
    for _ in 0..100 {
        logs = d.ok(&["logs", "web"]);
        if !logs.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logs, "ready\n");
    let inspect: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "web"])).unwrap();
    let c = &inspect[0];
    assert_eq!(c["Id"], id);
    assert_eq!(c["Name"], "/web");
    assert_eq!(c["State"]["Status"], "running");
    assert!(c["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(c["Config"]["Image"], "busybox");
    // The json-file log is docker's format.
    let log_path = c["LogPath"].as_str().unwrap().to_owned();
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (first["log"].as_str(), first["stream"].as_str()),
        (Some("ready\n"), Some("stdout"))
    );

    // sleep as PID 1 ignores SIGTERM: stop must SIGKILL after the timeout.
    let t = std::time::Instant::now();
    assert_eq!(d.ok(&["stop", "-t", "1", "web"]), "web\n");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    let ps = d.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (137)"), "{ps}");
    assert_eq!(d.ok(&["wait", "web"]), "137\n");
    let inspect: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "web"])).unwrap();
    assert_eq!(inspect[0]["State"]["ExitCode"], 137);
    assert_eq!(inspect[0]["State"]["Running"], false);

    // The image is in use until the container is gone.
    let o = d.berth(&["rmi", "busybox"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("being used by container"),
        "{}",
        stderr(&o)
    );

    assert_eq!(d.ok(&["rm", "web"]), "web\n");
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "");
    let rmi = d.ok(&["rmi", "busybox"]);
    assert!(rmi.contains("Untagged: busybox:latest"), "{rmi}");
    assert!(rmi.contains("Deleted: sha256:"), "{rmi}");
    assert_eq!(d.ok(&["images", "-q"]), "");
}

#[test]
fn bad_input_gets_docker_errors() {
    let d = Daemon::start();
    d.import_busybox();
    let o = d.berth(&["run", "--rm", "nosuch"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("Unable to find image 'nosuch:latest' locally"),
        "{}",
        stderr(&o)
    );

    let o = d.berth(&["rm", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such container: nosuch"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["stop", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));

    d.ok(&["create", "--name", "dup", "busybox", "true"]);
    let o = d.berth(&["run", "--name", "dup", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("The container name \"/dup\" is already in use"),
        "{}",
        stderr(&o)
    );
    let ps = d.ok(&["ps", "-a", "-q"]);
    assert_eq!(
        ps.lines().count(),
        1,
        "a failed create must leave nothing: {ps}"
    );

    let o = d.berth(&["run", "--rm", "busybox", "nonexistent-program"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    // A program that exists but cannot be executed: 126 (cli_gaps.rs compares with docker).
    let o = d.berth(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    let o = d.berth(&["run", "--name", "a b", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("Invalid container name"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["run", "--bogus-flag", "busybox"]);
    assert_eq!(o.status.code(), Some(125));
    let o = d.berth(&["kill", "dup"]);
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
}

#[test]
fn user_env_workdir_hostname_and_confinement() {
    let d = Daemon::start();
    d.import_busybox();
    let out = d.ok(&[
        "run",
        "--rm",
        "-u",
        "alice",
        "-e",
        "GREETING=hi",
        "-w",
        "/tmp",
        "-h",
        "box",
        "busybox",
        "sh",
        "-c",
        "id -u; id -g; id -G; echo $GREETING; pwd; hostname; echo $HOME",
    ]);
    assert_eq!(out, "1000\n1000\n1000 50\nhi\n/tmp\nbox\n/home/alice\n");
    let out = d.ok(&[
        "run",
        "--rm",
        "-u",
        "123:456",
        "busybox",
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    assert_eq!(out, "123\n456\n");
    // Docker's 14 default capabilities, seccomp in filter mode, a pid namespace, only lo.
    let out = d.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep -E '^(CapBnd|Seccomp):' /proc/self/status; echo pid=$$; ls /sys/class/net",
    ]);
    assert!(out.contains("CapBnd:\t00000000a80425fb"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("pid=1\n"), "{out}");
    assert!(out.ends_with("lo\n"), "{out}");
    let o = d.berth(&["run", "--rm", "-u", "nobody-here", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("unable to find user nobody-here"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn api_paths_versions_and_errors() {
    let d = Daemon::start();
    let ping = d.raw("GET", "/_ping");
    assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
    assert!(
        ping.to_ascii_lowercase().contains("api-version: 1.45"),
        "{ping}"
    );
    let v = d.raw("GET", "/v1.41/version");
    assert!(v.contains("\"ApiVersion\":\"1.45\""), "{v}");
    assert!(v.contains("\"MinAPIVersion\":\"1.24\""), "{v}");
    let nf = d.raw("GET", "/v1.45/containers/nosuch/json");
    assert!(nf.starts_with("HTTP/1.1 404"), "{nf}");
    assert!(
        nf.contains("{\"message\":\"No such container: nosuch\"}"),
        "{nf}"
    );
    let list = d.raw("GET", "/containers/json?all=1");
    assert!(
        list.starts_with("HTTP/1.1 200") && list.trim_end().ends_with("[]"),
        "{list}"
    );
    let info = d.ok(&["info"]);
    assert!(info.contains(" Containers: 0"), "{info}");
    let version = d.ok(&["version"]);
    assert!(version.contains("API version:      1.45"), "{version}");
}

#[test]
fn top_restart_and_stop_settings() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "--stop-timeout",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    let top = d.ok(&["top", "svc"]);
    let mut lines = top.lines();
    // docker top's tabwriter: columns at least 20 wide.
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("UID                 PID "),
        "{top}"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("root ") && row.ends_with("sleep 1000"),
        "{top}"
    );
    let pid_before = |d: &Daemon| -> i64 {
        let v: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "svc"])).unwrap();
        v[0]["State"]["Pid"].as_i64().unwrap()
    };
    let first = pid_before(&d);
    let t = std::time::Instant::now();
    assert_eq!(d.ok(&["restart", "svc"]), "svc\n");
    // StopTimeout=1 from create applies when stop/restart give no -t.
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    let second = pid_before(&d);
    assert!(second > 0 && second != first, "{first} {second}");
    assert!(d.ok(&["ps"]).contains("svc"));
    // A custom stop signal.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "usr",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 3' USR1; while true; do sleep 0.1; done",
    ]);
    let t = std::time::Instant::now();
    d.ok(&["stop", "usr"]);
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    // Only USR1 (trapped) ends it with 3; SIGTERM is ignored by PID 1 and SIGKILL gives 137.
    assert_eq!(d.ok(&["wait", "usr"]), "3\n");
    let o = d.berth(&["top", "usr"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
}

#[test]
fn format_templates() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "fmt",
        "-e",
        "A=1",
        "-l",
        "team=core",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}} {{.Name}}", "fmt"]),
        "running /fmt\n"
    );
    assert_eq!(
        d.ok(&["inspect", "--format", "{{json .Config.Labels}}", "fmt"]),
        "{\"team\":\"core\"}\n"
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{range .Config.Env}}{{.}};{{end}}", "fmt"]),
        "A=1;\n"
    );
    assert_eq!(
        d.ok(&["ps", "--format", "{{.Names}}:{{.State}}"]),
        "fmt:running\n"
    );
    let table = d.ok(&["ps", "--format", "table {{.Names}}\\t{{.Image}}"]);
    assert_eq!(table, "NAMES     IMAGE\nfmt       busybox\n");
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest\n"
    );
    // docker's inspect exits 64 on a template that does not parse.
    let o = d.berth(&["inspect", "-f", "{{.Bad", "fmt"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(
        stderr(&o).contains("template parsing error"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ps_filters_and_limits() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run", "-d", "--name", "up1", "-l", "tier=web", "busybox", "sleep", "1000",
    ]);
    d.ok(&["run", "--name", "done1", "-l", "tier=db", "busybox", "true"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    d.ok(&["create", "--name", "new1", "busybox", "true"]);
    let names = |args: &[&str]| {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        d.ok(&a).lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(names(&[]), ["up1"]);
    assert_eq!(names(&["--filter", "status=exited"]), ["done1"]);
    assert_eq!(names(&["-a", "--filter", "label=tier=db"]), ["done1"]);
    assert_eq!(names(&["-a", "--filter", "label=tier"]).len(), 2);
    assert_eq!(names(&["-a", "--filter", "name=new"]), ["new1"]);
    assert_eq!(
        names(&["-a", "-f", "status=running", "-f", "status=created"]).len(),
        2
    );
    assert_eq!(names(&["-l"]), ["new1"]);
    assert_eq!(names(&["-n", "2"]).len(), 2);
    // docker ps exits 1 on a filter the daemon refuses.
    let o = d.berth(&["ps", "--filter", "colour=red"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid filter 'colour'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn rename_and_prune() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&["run", "-d", "--name", "keepme", "busybox", "sleep", "1000"]);
    d.ok(&["run", "--name", "old", "busybox", "true"]);
    d.ok(&["create", "--name", "other", "busybox", "true"]);
    d.ok(&["rename", "old", "renamed"]);
    assert!(d.ok(&["inspect", "-f", "{{.Name}}", "renamed"]) == "/renamed\n");
    let o = d.berth(&["rename", "renamed", "other"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));
    let out = d.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");
    assert_eq!(d.ok(&["ps", "-a", "--format", "{{.Names}}"]), "keepme\n");
}

#[test]
fn exec_in_running_container() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run", "-d", "--name", "box", "-e", "BASE=1", "busybox", "sleep", "1000",
    ]);
    let o = d.berth(&[
        "exec",
        "box",
        "sh",
        "-c",
        "echo out; echo err >&2; echo $BASE; exit 6",
    ]);
    assert_eq!(o.status.code(), Some(6));
    assert_eq!(
        (stdout(&o).as_str(), stderr(&o).as_str()),
        ("out\n1\n", "err\n")
    );
    let out = d.ok(&[
        "exec",
        "-u",
        "alice",
        "-w",
        "/tmp",
        "-e",
        "X=y",
        "box",
        "sh",
        "-c",
        "id -u; pwd; echo $X; echo $$",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["1000", "/tmp", "y"]);
    // In the container's pid namespace: not pid 1, a small number.
    assert!(lines[3].parse::<u32>().unwrap() > 1);
    let o = d.berth(&["exec", "box", "no-such-program"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("executable file not found"),
        "{}",
        stderr(&o)
    );
    d.ok(&["exec", "-d", "box", "sh", "-c", "echo bg > /tmp/bg"]);
    let mut bg = String::new();
    for _ in 0..100 {
        bg = stdout(&d.berth(&["exec", "box", "cat", "/tmp/bg"]));
        if !bg.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(bg, "bg\n");
    d.ok(&["stop", "-t", "0", "box"]);
    let o = d.berth(&["exec", "box", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
}
