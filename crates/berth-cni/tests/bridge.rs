//! End to end against the real kernel and Debian's CNI plugins (root): a pinned network
//! namespace is attached to a test-only bridge network (bridge + host-local, then tuning, which
//! only works chained on the bridge's result), checked, and detached, leaving no links, IPAM
//! reservations or namespaces. Every name is unique to the test process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_cni::{Attachment, Cni, PluginRunner};

fn ip(args: &[&str]) -> (bool, String) {
    let o = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2) must be installed");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// Removes the namespace and the bridge whatever the test did (the plugins' DEL leaves the
/// bridge itself in place, by design).
struct Cleanup {
    netns: String,
    bridge: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.netns]);
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Debian's plugins, or skipping as the workspace's other root tests do (a failure under
/// BERTH_REQUIRE_ALL=1, which CI sets).
fn plugin_dirs() -> Option<Vec<PathBuf>> {
    let dirs: Vec<PathBuf> = PluginRunner::default().plugin_dirs;
    let have = ["bridge", "host-local", "tuning"]
        .iter()
        .all(|p| dirs.iter().any(|d| d.join(p).is_file()));
    let why = match (is_root(), have) {
        (true, true) => return Some(dirs),
        (false, _) => "needs root",
        (true, false) => "needs containernetworking-plugins",
    };
    let strict = std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1");
    assert!(
        !strict,
        "{why}, and BERTH_REQUIRE_ALL=1: this test must run here"
    );
    eprintln!("{why}: skipping (set BERTH_REQUIRE_ALL=1 to make this a failure)");
    None
}

fn conflist(bridge: &str, subnet: &str, ipam_dir: &Path) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "berth-cni-test",
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "dataDir": ipam_dir}},
            {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}}
        ]
    })
    .to_string()
}

#[test]
fn add_check_del_a_pinned_netns_on_a_test_bridge() {
    let Some(plugin_dirs) = plugin_dirs() else {
        return;
    };
    let pid = std::process::id();
    let tmp = tempfile::tempdir().unwrap();
    let (conf, ipam, cache) = (
        tmp.path().join("net.d"),
        tmp.path().join("ipam"),
        tmp.path().join("cache"),
    );
    fs::create_dir_all(&conf).unwrap();
    let guard = Cleanup {
        netns: format!("berth-cni-{pid}"),
        bridge: format!("bcni{}", pid % 1_000_000),
    };
    // Its own /24 inside 10.213.0.0/16, picked by pid so parallel runs do not share one.
    let third = pid % 250 + 1;
    let subnet = format!("10.213.{third}.0/24");
    fs::write(
        conf.join("10-test.conflist"),
        conflist(&guard.bridge, &subnet, &ipam),
    )
    .unwrap();
    let (ok, out) = ip(&["netns", "add", &guard.netns]);
    assert!(ok, "ip netns add: {out}");
    let cni = Cni {
        conf_dir: conf.clone(),
        runner: PluginRunner {
            plugin_dirs,
            timeout: Duration::from_secs(60),
        },
        cache_dir: cache.clone(),
    };
    let at = Attachment {
        container_id: format!("berthcnitest{pid}"),
        netns: PathBuf::from("/run/netns").join(&guard.netns),
        ifname: "eth0".into(),
        args: vec![
            ("IgnoreUnknown".into(), "1".into()),
            ("K8S_POD_NAME".into(), "p".into()),
        ],
        ..Attachment::default()
    };

    let added = cni.add(&at).unwrap();
    let ips = added.ips();
    assert_eq!(ips.len(), 1, "{:?}", added.result);
    assert!(ips[0].starts_with(&format!("10.213.{third}.")), "{ips:?}");
    let reservation = assert_attached(&guard, &ipam, &ips[0]);
    let (_, ports) = ip(&["-o", "link", "show", "master", &guard.bridge]);
    assert_eq!(ports.lines().count(), 1, "one veth on the bridge: {ports}");
    cni.check(&at).unwrap();

    cni.del(&at).unwrap();
    let (_, inside) = ip(&["-n", &guard.netns, "-o", "link", "show"]);
    assert!(!inside.contains("eth0"), "eth0 is gone: {inside}");
    let (_, ports) = ip(&["-o", "link", "show", "master", &guard.bridge]);
    assert!(
        ports.trim().is_empty(),
        "no veth left on the bridge: {ports}"
    );
    assert!(!reservation.exists(), "the address is released");
    assert!(cni.cached(&at.container_id, "eth0").unwrap().is_none());
    // DEL is idempotent: nothing left is still success.
    cni.del(&at).unwrap();

    drop(guard);
    let (_, netns) = ip(&["netns", "list"]);
    assert!(!netns.contains(&format!("berth-cni-{pid}")), "{netns}");
}

/// The address is on eth0 inside the netns, tuning ran on the chained result, host-local
/// reserved it; returns the reservation file.
fn assert_attached(guard: &Cleanup, ipam: &Path, ip_addr: &str) -> PathBuf {
    let (_, inside) = ip(&[
        "-n",
        &guard.netns,
        "-4",
        "-o",
        "addr",
        "show",
        "dev",
        "eth0",
    ]);
    assert!(
        inside.contains(&format!("{}/24", ip_addr)),
        "eth0 in the netns: {inside}"
    );
    let sysctl = Command::new("ip")
        .args([
            "netns",
            "exec",
            &guard.netns,
            "cat",
            "/proc/sys/net/ipv4/conf/eth0/arp_notify",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sysctl.stdout).trim(),
        "1",
        "tuning ran on the chained result"
    );
    let reservation = ipam.join("berth-cni-test").join(ip_addr);
    assert!(
        reservation.exists(),
        "host-local reserved {}",
        reservation.display()
    );
    reservation
}
