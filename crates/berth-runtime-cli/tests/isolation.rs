//! Namespaces: new ones isolate, joined ones are shared, user namespaces map ids.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

/// Runs `script` in a container from `spec` (args replaced) and returns stdout, asserting success.
fn run_sh(w: &World, mut spec: serde_json::Value, script: &str) -> String {
    spec["process"]["args"] = json!(["sh", "-c", script]);
    let (code, out, err) = w.run(&spec, "iso");
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    out
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn new_namespaces_are_isolated() {
    let w = World::new();
    let spec = base_spec(&shared_rootfs(), &[]);
    let out = run_sh(
        &w,
        spec,
        "echo $$; ls /sys/class/net; for n in net ipc uts mnt cgroup pid; do readlink /proc/self/ns/$n; done",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "init must be pid 1 in its pid namespace");
    assert_eq!(lines[1], "lo", "a new net namespace has only lo");
    for (line, kind) in lines[2..]
        .iter()
        .zip(["net", "ipc", "uts", "mnt", "cgroup", "pid"])
    {
        assert_ne!(*line, host_ns(kind), "{kind} must differ from the host's");
    }
}

#[test]
fn cgroup_namespace_root_is_the_container_cgroup() {
    let w = World::new();
    let out = run_sh(
        &w,
        base_spec(&shared_rootfs(), &[]),
        "cat /proc/self/cgroup",
    );
    for line in out.lines() {
        // Every hierarchy shows "/" as the container's own cgroup root.
        assert!(line.ends_with(":/"), "{out}");
    }
}

#[test]
fn joins_a_namespace_by_path() {
    let w = World::new();
    w.write_spec(&base_spec(&shared_rootfs(), &["sleep", "1000"]));
    let a = w.id("ns-a");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &a]));
    let pid = w.state(&a)["pid"].as_i64().unwrap();
    let a_net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let a_uts = std::fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap();

    let w2 = World::new();
    let mut spec = base_spec(&shared_rootfs(), &[]);
    let nss = spec["linux"]["namespaces"].as_array_mut().unwrap();
    for ns in nss.iter_mut() {
        if ns["type"] == "network" {
            ns["path"] = json!(format!("/proc/{pid}/ns/net"));
        }
        if ns["type"] == "uts" {
            ns["path"] = json!(format!("/proc/{pid}/ns/uts"));
        }
    }
    // Joining an existing uts namespace: the hostname may not be set again.
    spec.as_object_mut().unwrap().remove("hostname");
    let out = run_sh(
        &w2,
        spec,
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; echo $$",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], a_net.to_string_lossy());
    assert_eq!(lines[1], a_uts.to_string_lossy());
    assert_eq!(lines[2], "1", "the pid namespace is still new");
    ok(&w.rt(&["delete", "--force", &a]));
}

#[test]
fn user_namespace_maps_ids() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &[]);
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // A user namespace cannot mount sysfs of the host's net ns or the cgroup fs read-write; keep
    // the default mounts, which work in a user namespace with a new net namespace.
    let out = run_sh(
        &w,
        spec,
        "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, vec!["0", "100000", "65536"]);
    assert_ne!(lines[2], host_ns("user"));
}

#[test]
fn unprivileged_user_runs_a_rootless_container() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let state = tempfile::tempdir().unwrap();
    for d in [w.bundle.path(), state.path()] {
        std::os::unix::fs::chown(d, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                BIN,
                "--root",
            ])
            .arg(state.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    ok(&as_nobody(&[
        "spec",
        "--rootless",
        "--bundle",
        w.bundle_str(),
    ]));
    let path = w.bundle.path().join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    spec["root"]["path"] = json!(shared_rootfs());
    std::fs::write(&path, spec.to_string()).unwrap();
    let id = unique_id("rootless");
    let out = as_nobody(&["run", "--bundle", w.bundle_str(), &id]);
    let stdout = ok(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "0", "root inside the user namespace");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        vec!["0", "65534", "1"]
    );
    assert!(!state.path().join(&id).exists(), "state left behind");
}

#[test]
fn runs_without_a_mount_namespace() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["sh", "-c", "echo chrooted"]);
    let nss = spec["linux"]["namespaces"].as_array_mut().unwrap();
    nss.retain(|n| n["type"] != "mount");
    spec["mounts"] = json!([]);
    spec["linux"]["maskedPaths"] = json!([]);
    spec["linux"]["readonlyPaths"] = json!([]);
    spec["root"]["readonly"] = json!(false);
    let (code, out, err) = w.run(&spec, "nomnt");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "chrooted");
}

#[test]
fn without_mount_namespace_the_container_shares_the_callers() {
    // No new PID namespace either: the runtime then protects its binary in a private mount
    // namespace of its own (seal.rs); the container must still get the caller's, not that one.
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["sleep", "1000"]);
    let nss = spec["linux"]["namespaces"].as_array_mut().unwrap();
    nss.retain(|n| n["type"] != "mount" && n["type"] != "pid");
    spec["mounts"] = json!([]);
    spec["linux"]["maskedPaths"] = json!([]);
    spec["linux"]["readonlyPaths"] = json!([]);
    spec["root"]["readonly"] = json!(false);
    w.write_spec(&spec);
    let id = w.id("hostmnt");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &id]));
    let state: serde_json::Value = serde_json::from_str(&ok(&w.rt(&["state", &id]))).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    ok(&w.rt(&["delete", "--force", &id]));
    assert_eq!(mnt.to_str().unwrap(), host_ns("mnt"));
}
