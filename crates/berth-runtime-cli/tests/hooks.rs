//! Every hook stage runs, in order, in the right namespace, with the state on stdin.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

#[test]
fn all_hook_stages_run_with_state() {
    let w = World::new();
    let log = tempfile::tempdir().unwrap();
    let logp = log.path().display().to_string();
    let hook = |stage: &str| {
        json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("read -r s; echo \"{stage} $s\" >> {logp}/hooks; readlink /proc/self/ns/mnt > {logp}/{stage}.mnt")],
        })
    };
    let mut spec = base_spec(&shared_rootfs(), &["true"]);
    // createContainer/startContainer run in the container's mount namespace: give them the host
    // log directory through a bind mount at the same path, and /bin/sh from the rootfs.
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": logp, "type": "bind", "source": logp, "options": ["bind", "rw"]
    }));
    spec["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "startContainer": [hook("startContainer")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
    });
    let (code, _, err) = w.run(&spec, "hooks");
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(log.path().join("hooks")).unwrap();
    let stages: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        stages,
        vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        "{text}"
    );
    // Runtime-namespace stages run in the host's mount namespace, container ones in the container's.
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let mnt =
        |stage: &str| std::fs::read_to_string(log.path().join(format!("{stage}.mnt"))).unwrap();
    for stage in ["prestart", "createRuntime", "poststart", "poststop"] {
        assert_eq!(mnt(stage).trim(), host_mnt.to_str().unwrap(), "{stage}");
    }
    for stage in ["createContainer", "startContainer"] {
        assert_ne!(mnt(stage).trim(), host_mnt.to_str().unwrap(), "{stage}");
    }
    for line in text.lines() {
        let json = line.split_once(' ').unwrap().1;
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("berth-t-hooks"));
        assert!(v["pid"].as_i64().unwrap() > 0 || line.starts_with("poststop"));
        // The container stages get the state the init was handed at create time.
        let want = match line.split(' ').next().unwrap() {
            "createRuntime" | "createContainer" | "startContainer" => "creating",
            "prestart" => "created",
            "poststart" => "running",
            _ => "stopped",
        };
        assert_eq!(v["status"], want, "{line}");
    }
}

#[test]
fn failing_create_hook_fails_create_cleanly() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["true"]);
    spec["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    w.write_spec(&spec);
    let id = w.id("hookfail");
    let out = w.rt(&["create", "--bundle", w.bundle_str(), &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/bin/false"));
    assert!(!w.root.path().join(&id).exists());
    assert!(!cgroup_exists(&id));
}

#[test]
fn failing_poststart_and_poststop_hooks_do_not_stop_the_others() {
    // The spec: a failing poststart/poststop hook is logged, the remaining hooks still run.
    let w = World::new();
    let log = tempfile::tempdir().unwrap();
    let logp = log.path().display().to_string();
    let ok_hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("touch {logp}/{name}")]});
    let fail = json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]});
    let mut spec = base_spec(&shared_rootfs(), &["true"]);
    spec["hooks"] = json!({
        "poststart": [fail.clone(), ok_hook("poststart2")],
        "poststop": [fail, ok_hook("poststop2")],
    });
    let _ = w.run(&spec, "hookfail");
    assert!(
        log.path().join("poststart2").exists(),
        "second poststart hook skipped"
    );
    assert!(
        log.path().join("poststop2").exists(),
        "second poststop hook skipped"
    );
}
