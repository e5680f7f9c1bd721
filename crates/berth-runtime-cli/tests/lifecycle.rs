//! The lifecycle verbs against real containers: run, create/start/state/kill/delete, pause/resume,
//! list, ps, exec.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn wait_status(w: &World, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = w.state(id);
        if st["status"] == want {
            return;
        }
        assert!(Instant::now() < deadline, "status stayed {}", st["status"]);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_prints_output_and_propagates_exit_code() {
    let w = World::new();
    let spec = base_spec(
        &shared_rootfs(),
        &["sh", "-c", "echo hello from $(hostname); exit 3"],
    );
    let (code, out, err) = w.run(&spec, "run");
    assert_eq!(code, 3, "stderr: {err}");
    assert_eq!(out.trim(), "hello from berth");
    // run without --keep deletes the container.
    let list = ok(&w.rt(&["list", "-q"]));
    assert!(list.trim().is_empty(), "left: {list}");
}

#[test]
fn create_start_state_kill_delete() {
    let w = World::new();
    w.write_spec(&base_spec(&shared_rootfs(), &["sleep", "1000"]));
    let id = w.id("life");
    let pidfile = w.bundle.path().join("pid");
    ok(&w.rt(&[
        "create",
        "--bundle",
        w.bundle_str(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]));
    let st = w.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["ociVersion"], "1.2.0");
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // Created: the user's process has not run yet; init is still our binary.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");

    ok(&w.rt(&["start", &id]));
    wait_status(&w, &id, "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    assert!(
        !w.rt(&["start", &id]).status.success(),
        "second start must fail"
    );

    let out = w.rt(&["delete", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not stopped"));

    ok(&w.rt(&["kill", &id, "KILL"]));
    wait_status(&w, &id, "stopped");
    ok(&w.rt(&["delete", &id]));
    assert!(!w.rt(&["state", &id]).status.success());
    assert!(!cgroup_exists(&id), "cgroup left behind");
}

#[test]
fn kill_sends_the_named_signal() {
    let w = World::new();
    // The container reports through a bind-mounted directory: that its trap is set, then which
    // signal it got. SIGUSR1's default action would also stop it: only the marker shows that
    // USR1 itself arrived.
    let out = tempfile::tempdir().unwrap();
    let mut spec = base_spec(
        &shared_rootfs(),
        &[
            "sh",
            "-c",
            "trap 'echo USR1 > /out/got; exit 42' USR1; touch /out/ready; \
             while true; do sleep 0.05; done",
        ],
    );
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/out", "type": "bind",
        "source": out.path().to_str().unwrap(), "options": ["rbind", "rw"]
    }));
    w.write_spec(&spec);
    let id = w.id("sig");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &id]));
    wait_until("the trap is set", Duration::from_secs(10), || {
        out.path().join("ready").exists()
    });
    assert!(!out.path().join("got").exists());
    ok(&w.rt(&["kill", &id, "USR1"]));
    wait_status(&w, &id, "stopped");
    assert_eq!(
        std::fs::read_to_string(out.path().join("got")).unwrap(),
        "USR1\n",
        "the container's USR1 trap did not run"
    );
    ok(&w.rt(&["delete", &id]));
}

#[test]
fn pause_resume_list_ps() {
    let w = World::new();
    w.write_spec(&base_spec(&shared_rootfs(), &["sleep", "1000"]));
    let id = w.id("pause");
    ok(&w.rt(&["run", "--detach", "--bundle", w.bundle_str(), &id]));
    wait_status(&w, &id, "running");
    ok(&w.rt(&["pause", &id]));
    assert_eq!(w.state(&id)["status"], "paused");
    let pid = w.state(&id)["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.contains("State:\tD") || status.contains("State:\tS"),
        "{status}"
    );
    ok(&w.rt(&["resume", &id]));
    assert_eq!(w.state(&id)["status"], "running");
    assert!(!w.rt(&["resume", &id]).status.success());

    let table = ok(&w.rt(&["list"]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&id) && table.contains("running"));
    let json: serde_json::Value =
        serde_json::from_str(&ok(&w.rt(&["list", "--format", "json"]))).unwrap();
    assert_eq!(json[0]["id"], id.as_str());

    let pids: Vec<i64> =
        serde_json::from_str(&ok(&w.rt(&["ps", "--format", "json", &id]))).unwrap();
    assert_eq!(pids, vec![pid]);
    let table = ok(&w.rt(&["ps", &id]));
    assert!(table.contains("PID") && table.contains("sleep"), "{table}");
    ok(&w.rt(&["delete", "--force", &id]));
    assert!(!cgroup_exists(&id));
}

#[test]
fn exec_runs_in_the_container() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["sleep", "1000"]);
    spec["hostname"] = json!("exec-host");
    w.write_spec(&spec);
    let id = w.id("exec");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &id]));
    wait_status(&w, &id, "running");
    let out = ok(&w.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; echo $$; cat /proc/1/comm",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "exec-host");
    assert_ne!(lines[1], "1", "exec'd process must not be pid 1");
    assert_eq!(lines[2], "sleep");
    // exit codes propagate
    let out = w.rt(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    // --env, --cwd, --user
    let out = ok(&w.rt(&[
        "exec",
        "--env",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "--user",
        "65534:65534",
        &id,
        "sh",
        "-c",
        "echo $FOO $(pwd) $(id -u) $(id -g)",
    ]));
    assert_eq!(out.trim(), "bar /tmp 65534 65534");
    // --env overrides a variable the spec sets
    let out = ok(&w.rt(&[
        "exec",
        "--env",
        "PATH=/bin:/override",
        &id,
        "sh",
        "-c",
        "echo $PATH",
    ]));
    assert_eq!(out.trim(), "/bin:/override");
    // --process file
    let proc_json = json!({
        "args": ["sh", "-c", "echo from-process-file"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
    });
    let pf = w.bundle.path().join("process.json");
    std::fs::write(&pf, proc_json.to_string()).unwrap();
    let out = ok(&w.rt(&["exec", "--process", pf.to_str().unwrap(), &id]));
    assert_eq!(out.trim(), "from-process-file");
    // detached exec with a pid file
    let pidf = w.bundle.path().join("exec.pid");
    ok(&w.rt(&[
        "exec",
        "-d",
        "--pid-file",
        pidf.to_str().unwrap(),
        &id,
        "sleep",
        "1000",
    ]));
    let epid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{epid}")).exists());
    let pids: Vec<i64> =
        serde_json::from_str(&ok(&w.rt(&["ps", "--format", "json", &id]))).unwrap();
    assert!(pids.contains(&(epid as i64)));
    // a missing binary fails clearly
    let out = w.rt(&["exec", &id, "no-such-binary"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    ok(&w.rt(&["delete", "--force", &id]));
}

#[test]
fn exec_ignore_paused_runs_once_resumed() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["sleep", "1000"]);
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
    }));
    w.write_spec(&spec);
    let id = w.id("igpause");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &id]));
    wait_status(&w, &id, "running");
    ok(&w.rt(&["pause", &id]));
    let refused = w.rt(&["exec", &id, "true"]);
    assert!(
        !refused.status.success(),
        "exec into a paused container must be refused"
    );
    // With --ignore-paused the process is created (frozen) and runs after resume.
    ok(&w.rt(&[
        "exec",
        "-d",
        "--ignore-paused",
        &id,
        "sh",
        "-c",
        "echo ran > /tmp/ig",
    ]));
    ok(&w.rt(&["resume", &id]));
    let mut seen = String::new();
    for _ in 0..100 {
        let out = w.rt(&["exec", &id, "cat", "/tmp/ig"]);
        seen = String::from_utf8_lossy(&out.stdout).into_owned();
        if seen.trim() == "ran" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(seen.trim(), "ran");
}
