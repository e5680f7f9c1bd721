//! A new user namespace together with a joined one (what an engine's pinned bridge netns plus
//! `--userns-remap` asks for): the two-stage create joins first, then unshares the user
//! namespace with the other new ones.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

#[test]
fn new_user_namespace_with_a_joined_network_namespace() {
    let w = World::new();
    w.write_spec(&base_spec(&shared_rootfs(), &["sleep", "1000"]));
    let a = w.id("netns-holder");
    ok(&w.rt(&["run", "-d", "--bundle", w.bundle_str(), &a]));
    let pid = w.state(&a)["pid"].as_i64().unwrap();
    let a_net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();

    let w2 = World::new();
    let mut spec = base_spec(&shared_rootfs(), &[]);
    let nss = spec["linux"]["namespaces"].as_array_mut().unwrap();
    for ns in nss.iter_mut() {
        if ns["type"] == "network" {
            ns["path"] = json!(format!("/proc/{pid}/ns/net"));
        }
    }
    nss.push(json!({"type": "user"}));
    spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    spec["process"]["args"] = json!([
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/net; echo $$; ls /sys/class/net"
    ]);
    let (code, out, err) = w2.run(&spec, "joined");
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        lines[2],
        a_net.to_string_lossy(),
        "joined the holder's netns"
    );
    assert_eq!(lines[3], "1", "the pid namespace is new");
    // sysfs of a netns owned by the host's user namespace cannot be mounted: /sys is bound.
    assert!(lines[4..].contains(&"lo"), "{out}");
    ok(&w.rt(&["delete", "--force", &a]));
}
