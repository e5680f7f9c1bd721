//! Engine-side Docker parity items of issue 15 against the real kernel: the `restarting`
//! state right after an exit under a restart policy, the `none` log driver, json-file
//! `max-file` without `max-size`; each through the CLI and docker-py's own tests.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{stderr, Daemon};
use serde_json::Value;

fn state(d: &Daemon, name: &str) -> Value {
    let v: Value = serde_json::from_str(&d.ok(&["inspect", name])).unwrap();
    v[0]["State"].clone()
}

/// Runs a docker-py script (`api` is an APIClient, `cli` a DockerClient on the daemon); it
/// prints `ok` at its end.
fn run_py(d: &Daemon, name: &str, script: &str) {
    let prelude = "import os, docker\n\
        api = docker.APIClient(base_url=\"unix://\" + os.environ[\"SOCK\"], version=\"auto\")\n\
        cli = docker.DockerClient(base_url=\"unix://\" + os.environ[\"SOCK\"], version=\"auto\")\n";
    let path = d.dir.join(format!("{name}.py"));
    std::fs::write(&path, format!("{prelude}{script}\nprint(\"ok\")\n")).unwrap();
    common::run_python_ok(d, &path, &[]);
}

/// Between an exit and the policy's restart the container is `restarting` (Running and
/// Restarting true, `ps` "Restarting (3) …"), `rm` refuses it, `stop` cancels the restart.
#[test]
fn restarting_state_after_exit() {
    let d = Daemon::start();
    d.import_busybox();
    let name = format!("rs-{}", std::process::id());
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--restart",
        "on-failure",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    // The back-off doubles per restart (100 ms, 200 ms, …): the fifth restart waits
    // 1.6 s, the sixth 3.2 s: windows the checks below fit in.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let v: Value = serde_json::from_str(&d.ok(&["inspect", &name])).unwrap();
        if v[0]["RestartCount"].as_i64().unwrap() >= 6 && v[0]["State"]["Status"] == "restarting" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sixth restart: {}\n{}",
            v[0]["State"],
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = state(&d, &name);
    assert_eq!(
        (s["Running"].as_bool(), s["Restarting"].as_bool()),
        (Some(true), Some(true)),
        "{s}"
    );
    assert_eq!(s["ExitCode"], 3);
    let o = d.berth(&["rm", &name]);
    assert!(
        !o.status.success(),
        "rm of a restarting container succeeded"
    );
    assert!(
        stderr(&o).contains(
            "container is restarting: stop the container before removing or force remove"
        ),
        "{}",
        stderr(&o)
    );
    let ps = d.ok(&[
        "ps",
        "--filter",
        "status=restarting",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(ps.contains(&format!("{name} Restarting (3)")), "{ps}");

    d.ok(&["stop", &name]);
    let s = state(&d, &name);
    assert_eq!(
        (
            s["Status"].as_str(),
            s["Restarting"].as_bool(),
            s["Running"].as_bool()
        ),
        (Some("exited"), Some(false), Some(false)),
        "{s}"
    );
    let count = |d: &Daemon| -> i64 {
        let v: Value = serde_json::from_str(&d.ok(&["inspect", &name])).unwrap();
        v[0]["RestartCount"].as_i64().unwrap()
    };
    let before = count(&d);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count(&d), before, "restarted after stop");
    assert_eq!(state(&d, &name)["Status"], "exited");
    d.ok(&["rm", &name]);
}

/// docker-py's test_create_with_restart_policy: `wait()` then `remove_container` must fail.
#[test]
fn restarting_docker_py() {
    if !common::has_docker_py() {
        common::skip("docker-py (python3-docker) not installed");
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    run_py(
        &d,
        "restart",
        r#"
container = api.create_container("busybox", ["sleep", "2"], host_config=api.create_host_config(
    restart_policy={"Name": "always", "MaximumRetryCount": 0}, network_mode="none"))
id = container["Id"]
api.start(id)
api.wait(id)
try:
    api.remove_container(id)
    raise SystemExit("removed a container that is restarting")
except docker.errors.APIError as e:
    assert "stop the container before" in e.explanation.lower(), e.explanation
api.remove_container(id, force=True)
"#,
    );
}

/// `--log-driver none`: no log file, `logs` answers docker's error (501); json-file takes
/// `max-file` alone; docker-py's log-config tests.
#[test]
fn log_driver_none_and_max_file() {
    let d = Daemon::start();
    d.import_busybox();
    let name = format!("ln-{}", std::process::id());
    let out = d.ok(&[
        "run",
        "--name",
        &name,
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hello",
    ]);
    assert_eq!(out, "hello\n", "attach still streams the output");
    let v: Value = serde_json::from_str(&d.ok(&["inspect", &name])).unwrap();
    assert_eq!(v[0]["HostConfig"]["LogConfig"]["Type"], "none");
    assert_eq!(v[0]["LogPath"], "");
    let dir = d
        .dir
        .join("data/containers")
        .join(v[0]["Id"].as_str().unwrap());
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!files.iter().any(|f| f.contains("json.log")), "{files:?}");
    let o = d.berth(&["logs", &name]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("configured logging driver does not support reading"),
        "{}",
        stderr(&o)
    );
    let raw = d.raw("GET", &format!("/containers/{name}/logs?stdout=1"));
    assert!(raw.starts_with("HTTP/1.1 501"), "{raw}");

    let mf = format!("lm-{}", std::process::id());
    d.ok(&[
        "run",
        "--name",
        &mf,
        "--log-opt",
        "max-file=100",
        "busybox",
        "echo",
        "kept",
    ]);
    assert_eq!(d.ok(&["logs", &mf]), "kept\n");
    d.ok(&["rm", &name, &mf]);

    if !common::has_docker_py() {
        common::skip("docker-py (python3-docker) not installed");
        return;
    }
    run_py(
        &d,
        "logcfg",
        r#"
for typ in ("", "json-file"):
    lc = docker.types.LogConfig(type=typ, config={"max-file": "100"})
    c = api.create_container("busybox", ["true"], host_config=api.create_host_config(log_config=lc))
    api.start(c)
    got = api.inspect_container(c)["HostConfig"]["LogConfig"]
    assert got["Type"] == "json-file", got
    assert got["Config"] == {"max-file": "100"}, got
    api.remove_container(c, force=True)
assert cli.containers.run("busybox", "echo hello", log_config=dict(type="none"), remove=True) is None
assert cli.containers.run("busybox", "echo hello", log_config={"type": "json-file"}, remove=True) == b"hello\n"
"#,
    );
}
