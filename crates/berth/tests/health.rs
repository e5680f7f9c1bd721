//! Healthchecks (issue 15) against the real kernel: `--health-*` flags and the image's
//! `HEALTHCHECK`, probes run as execs, `State.Health` in inspect, `health_status` events, `ps`
//! status and the `health` filter, probes stopping and restarting with the container and
//! surviving a berthd restart; docker-py's own healthcheck tests.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{stderr, wait_until, Daemon};
use serde_json::Value;

fn inspect(d: &Daemon, name: &str) -> Value {
    let out = d.ok(&["inspect", name]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn health(d: &Daemon, name: &str) -> Value {
    inspect(d, name)["State"]["Health"].clone()
}

fn wait_status(d: &Daemon, name: &str, status: &str) {
    wait_until(
        &format!("{name} becomes {status}"),
        Duration::from_secs(30),
        || health(d, name)["Status"] == status,
    );
}

/// Probes as execs: unhealthy, healthy, ps, filters, events, stop, start, berthd restart.
#[test]
fn health_cli_lifecycle() {
    let mut d = Daemon::start();
    d.import_busybox();
    let name = format!("hc-{}", std::process::id());
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "echo probing; test -e /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    let cfg = inspect(&d, &name)["Config"]["Healthcheck"].clone();
    assert_eq!(
        cfg["Test"],
        serde_json::json!(["CMD-SHELL", "echo probing; test -e /tmp/ok"])
    );
    assert_eq!(cfg["Interval"], 200_000_000);
    assert_eq!(cfg["Retries"], 2);
    wait_status(&d, &name, "unhealthy");
    let h = health(&d, &name);
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 1, "{h}");
    assert_eq!(last["Output"], "probing\n", "{h}");
    assert!(last["Start"].as_str().unwrap().starts_with("20"), "{h}");
    let ps = d.ok(&[
        "ps",
        "--filter",
        "health=unhealthy",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(ps.contains(&name) && ps.contains("(unhealthy)"), "{ps}");

    d.ok(&["exec", &name, "touch", "/tmp/ok"]);
    wait_status(&d, &name, "healthy");
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.contains(&format!("{name} Up")) && ps.contains("(healthy)"),
        "{ps}"
    );
    assert!(!d
        .ok(&["ps", "-q", "--filter", "health=unhealthy"])
        .contains(&inspect(&d, &name)["Id"].as_str().unwrap()[..12]));
    let log_len = || health(&d, &name)["Log"].as_array().unwrap().len();
    wait_until("five results", Duration::from_secs(10), || log_len() == 5);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(log_len(), 5, "more than docker's five results kept");
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let events = d.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "event=health_status",
    ]);
    assert!(events.contains("health_status: unhealthy"), "{events}");
    assert!(events.contains("health_status: healthy"), "{events}");

    // Probes go on under a restarted daemon, from the state it kept.
    d.restart();
    assert_eq!(health(&d, &name)["Status"], "healthy");
    d.ok(&["exec", &name, "rm", "/tmp/ok"]);
    wait_status(&d, &name, "unhealthy");

    // Stopped: no more probes, the last state stays.
    d.ok(&["stop", "-t", "0", &name]);
    let before = health(&d, &name);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(health(&d, &name), before, "probes ran while stopped");
    // Started again: starting, then probed again.
    d.ok(&["start", &name]);
    assert_eq!(health(&d, &name)["Status"], "starting");
    let ps = d.ok(&["ps", "--format", "{{.Status}}"]);
    assert!(ps.contains("(health: starting)"), "{ps}");
    wait_status(&d, &name, "unhealthy");
    d.ok(&["rm", "-f", &name]);
}

/// A probe that outlives its timeout is killed and fails with docker's message; output is cut
/// at 4 KiB with `...`; `--no-healthcheck` and the create checks.
#[test]
fn health_timeout_output_and_checks() {
    let d = Daemon::start();
    d.import_busybox();
    let slow = format!("hcslow-{}", std::process::id());
    d.ok(&[
        "run",
        "-d",
        "--name",
        &slow,
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_status(&d, &slow, "unhealthy");
    let log = health(&d, &slow)["Log"][0].clone();
    assert_eq!(log["ExitCode"], -1, "{log}");
    assert_eq!(
        log["Output"], "Health check exceeded timeout (300ms)",
        "{log}"
    );
    // The killed probes do not pile up in the container.
    let top = d.ok(&["top", &slow]);
    assert!(top.matches("sleep 30").count() <= 1, "{top}");

    let big = format!("hcbig-{}", std::process::id());
    d.ok(&[
        "run",
        "-d",
        "--name",
        &big,
        "--health-cmd",
        "head -c 5000 /dev/zero | tr '\\0' a; exit 3",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_status(&d, &big, "unhealthy");
    let log = health(&d, &big)["Log"][0].clone();
    assert_eq!(log["ExitCode"], 3);
    let out = log["Output"].as_str().unwrap();
    assert_eq!(out.len(), 4096 + 3);
    assert!(out.ends_with("a..."), "{out}");

    let none = format!("hcnone-{}", std::process::id());
    d.ok(&[
        "create",
        "--name",
        &none,
        "--no-healthcheck",
        "busybox",
        "true",
    ]);
    let i = inspect(&d, &none);
    assert_eq!(
        i["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
    d.ok(&["start", &none]);
    assert!(inspect(&d, &none)["State"].get("Health").is_none());

    let o = d.berth(&[
        "create",
        "--no-healthcheck",
        "--health-retries",
        "2",
        "busybox",
    ]);
    assert!(
        stderr(&o).contains("--no-healthcheck conflicts with --health-* options"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["create", "--health-interval", "-1s", "busybox"]);
    assert!(
        stderr(&o).contains("--health-interval cannot be negative"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["create", "--health-interval", "1x", "busybox"]);
    assert!(
        !o.status.success() && stderr(&o).contains("invalid duration"),
        "{}",
        stderr(&o)
    );
    create_refuses_bad_healthchecks(&d);
    d.ok(&["rm", "-f", &slow, &big, &none]);
}

/// The API's own checks of a healthcheck (docker's wording); nothing is created.
fn create_refuses_bad_healthchecks(d: &Daemon) {
    let before = d.ok(&["ps", "-aq"]);
    let o = d.berth(&[
        "create",
        "--health-cmd",
        "true",
        "--health-interval",
        "10us",
        "busybox",
    ]);
    assert!(
        stderr(&o).contains("Interval in Healthcheck cannot be less than 1ms"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.ok(&["ps", "-aq"]), before);
}

/// The image's HEALTHCHECK (recorded by `build`) runs, and create overrides it field by field.
#[test]
fn health_from_image() {
    let d = Daemon::start();
    d.import_busybox();
    let ctx = d.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nHEALTHCHECK --interval=150ms --retries=4 CMD [\"sh\", \"-c\", \"echo from-image\"]\n",
    )
    .unwrap();
    let tag = format!("hcimg-{}", std::process::id());
    d.ok(&["build", "-q", "-t", &tag, ctx.to_str().unwrap()]);
    let img: Value = serde_json::from_str(&d.ok(&["image", "inspect", &tag])).unwrap();
    assert_eq!(img[0]["Config"]["Healthcheck"]["Test"][0], "CMD");
    let a = format!("hca-{}", std::process::id());
    d.ok(&["run", "-d", "--name", &a, &tag, "sleep", "300"]);
    wait_status(&d, &a, "healthy");
    assert_eq!(health(&d, &a)["Log"][0]["Output"], "from-image\n");
    let b = format!("hcb-{}", std::process::id());
    d.ok(&[
        "create",
        "--name",
        &b,
        "--health-retries",
        "7",
        &tag,
        "sleep",
        "300",
    ]);
    let hc = inspect(&d, &b)["Config"]["Healthcheck"].clone();
    assert_eq!(
        (hc["Retries"].as_i64(), hc["Interval"].as_i64()),
        (Some(7), Some(150_000_000)),
        "{hc}"
    );
    assert_eq!(hc["Test"][0], "CMD", "{hc}");
    d.ok(&["rm", "-f", &a, &b]);
}

/// docker-py's tests/integration/healthcheck_test.py, as written there.
#[test]
fn health_docker_py() {
    if !common::has_docker_py() {
        common::skip("docker-py (python3-docker) not installed");
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let script = r#"
import os, time, docker
api = docker.APIClient(base_url="unix://" + os.environ["SOCK"], version="auto")
SECOND = 1000000000
def wait_on_health_status(c, status):
    deadline = time.time() + 30
    while time.time() < deadline:
        if api.inspect_container(c)["State"]["Health"]["Status"] == status:
            return
        time.sleep(0.1)
    raise SystemExit("timed out waiting for %s: %s" % (status, api.inspect_container(c)["State"]))
c = api.create_container("busybox", "top", healthcheck=dict(test='echo "hello world"'))
assert api.inspect_container(c)["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", 'echo "hello world"']
api.remove_container(c, force=True)
for test, want in (("true", "healthy"), ("false", "unhealthy")):
    c = api.create_container("busybox", "top", healthcheck=dict(
        test=test, interval=1 * SECOND, timeout=1 * SECOND, retries=1))
    api.start(c)
    wait_on_health_status(c, want)
    api.remove_container(c, force=True)
c = api.create_container("busybox", "top", healthcheck=dict(
    test="echo 'x' >> /counter.txt && test `cat /counter.txt | wc -l` -ge 3",
    interval=1 * SECOND, timeout=1 * SECOND, retries=1, start_period=3 * SECOND))
api.start(c)
wait_on_health_status(c, "healthy")
api.remove_container(c, force=True)
print("ok")
"#;
    let path = d.dir.join("health.py");
    std::fs::write(&path, script).unwrap();
    common::run_python_ok(&d, &path, &[]);
}
