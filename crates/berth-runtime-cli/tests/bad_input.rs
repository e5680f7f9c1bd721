//! Bad input gets a runc-like message, a non-zero exit, and leaves nothing behind.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

/// Asserts `create` fails mentioning `needle`, and that no state, cgroup or process remains.
fn create_fails(w: &World, needle: &str) {
    let id = w.id("bad");
    let out = w.rt(&["create", "--bundle", w.bundle_str(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "create unexpectedly succeeded");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!w.root.path().join(&id).exists(), "state dir left behind");
    assert!(!cgroup_exists(&id), "cgroup left behind");
    let list = ok(&w.rt(&["list", "-q"]));
    assert!(list.trim().is_empty());
}

#[test]
fn missing_config() {
    let w = World::new();
    create_fails(&w, "config.json");
}

#[test]
fn broken_json() {
    let w = World::new();
    std::fs::write(w.bundle.path().join("config.json"), "{ not json").unwrap();
    create_fails(&w, "config.json");
}

#[test]
fn missing_rootfs() {
    let w = World::new();
    w.write_spec(&base_spec(
        std::path::Path::new("/nonexistent/rootfs"),
        &["true"],
    ));
    create_fails(&w, "rootfs");
}

#[test]
fn bad_mount_source() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["true"]);
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt", "type": "bind", "source": "/nonexistent/source", "options": ["bind"]
    }));
    w.write_spec(&spec);
    create_fails(&w, "/nonexistent/source");
}

#[test]
fn missing_binary() {
    let w = World::new();
    w.write_spec(&base_spec(&shared_rootfs(), &["no-such-program"]));
    create_fails(&w, "executable file not found");
}

#[test]
fn unknown_and_duplicate_ids() {
    let w = World::new();
    for verb in [
        &["state"][..],
        &["start"],
        &["kill"],
        &["delete"],
        &["pause"],
        &["ps"],
    ] {
        let mut args = verb.to_vec();
        args.push("berth-no-such-container");
        let out = w.rt(&args);
        assert!(!out.status.success(), "{verb:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does not exist"),
            "{verb:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    w.write_spec(&base_spec(&shared_rootfs(), &["sleep", "100"]));
    let id = w.id("dup");
    ok(&w.rt(&["create", "--bundle", w.bundle_str(), &id]));
    let out = w.rt(&["create", "--bundle", w.bundle_str(), &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    // The first container is untouched by the failed duplicate.
    assert_eq!(w.state(&id)["status"], "created");
    let out = w.rt(&["create", "--bundle", w.bundle_str(), "../escape"]);
    assert!(!out.status.success());
    ok(&w.rt(&["delete", &id]));
}

#[test]
fn unknown_flag_is_refused() {
    let w = World::new();
    let out = w.rt(&["create", "--no-such-flag", "x"]);
    assert!(!out.status.success());
}

#[test]
fn unsupported_oci_version() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["true"]);
    spec["ociVersion"] = json!("invalid");
    w.write_spec(&spec);
    create_fails(&w, "ociVersion");
}
