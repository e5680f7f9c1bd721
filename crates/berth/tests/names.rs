//! Names and values that reach the kernel, sysfs, the nftables script or a container's
//! /etc files are checked when the object is created: a bad one is a clear error and leaves
//! nothing behind (no network record, no container, no host interface touched).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{stderr, stdout, Daemon};

fn addresses_of(link: &str) -> String {
    let o = Command::new("ip")
        .args(["-o", "addr", "show", "dev", link])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `network create` with a bridge name the kernel or the nftables script would choke on, or
/// that names an interface of the host, is refused and no network is recorded.
#[test]
fn bad_bridge_names_are_refused_at_network_create() {
    let d = Daemon::start();
    let lo_before = addresses_of("lo");
    let cases = [
        ("x\"; flush ruleset; \"", "invalid interface name"),
        ("../../../etc", "invalid interface name"),
        ("a-very-long-bridge-name", "invalid interface name"),
        ("br 0", "invalid interface name"),
        ("lo", "is not a bridge"),
    ];
    for (i, (bridge, want)) in cases.iter().enumerate() {
        let net = format!("badbr{i}-{}", std::process::id());
        let opt = format!("com.docker.network.bridge.name={bridge}");
        let o = d.berth(&["network", "create", "-o", &opt, &net]);
        assert!(!o.status.success(), "{bridge:?} was accepted");
        assert!(stderr(&o).contains(want), "{bridge:?}: {}", stderr(&o));
        let ls = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
        assert!(!ls.lines().any(|l| l == net), "{net} recorded: {ls}");
    }
    assert_eq!(addresses_of("lo"), lo_before, "lo was changed");
    // A valid name still works, and a second network cannot take the same bridge.
    let pid = std::process::id();
    let bridge = format!("bn{:x}", pid & 0xffffff);
    let opt = format!("com.docker.network.bridge.name={bridge}");
    d.ok(&["network", "create", "-o", &opt, &format!("good-{pid}")]);
    let o = d.berth(&["network", "create", "-o", &opt, &format!("dup-{pid}")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already used"), "{}", stderr(&o));
    d.ok(&["network", "rm", &format!("good-{pid}")]);
}

/// Hostnames, `--add-host`, `--dns`, `--dns-search` and `--dns-option` values that would add
/// lines to the container's /etc/hosts or resolv.conf are refused before a container exists.
#[test]
fn hosts_and_resolver_values_cannot_inject_lines() {
    let d = Daemon::start();
    d.import_busybox();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--add-host", "a:1.2.3.4\n5.6.7.8 evil"],
            "invalid IP address in add-host",
        ),
        (&["--add-host", "db:not-an-ip"], "invalid IP address"),
        (
            &["--dns", "1.1.1.1\nnameserver 6.6.6.6"],
            "is not an ip address",
        ),
        (
            &["--dns-search", "a.com\nnameserver 6.6.6.6"],
            "is not a valid domain",
        ),
        (
            &["--hostname", "h\n6.6.6.6 evil"],
            "invalid hostname format",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "cat", "/etc/hosts", "/etc/resolv.conf"]);
        let o = d.berth(&args);
        assert_eq!(o.status.code(), Some(125), "{flags:?}: {}", stdout(&o));
        assert!(stderr(&o).contains(want), "{flags:?}: {}", stderr(&o));
    }
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "", "a container was left");
    // Good values still work and land as one line each.
    let out = d.ok(&[
        "run",
        "--rm",
        "--add-host",
        "db:10.1.2.3",
        "--dns-option",
        "ndots:3",
        "busybox",
        "cat",
        "/etc/hosts",
        "/etc/resolv.conf",
    ]);
    assert!(out.contains("10.1.2.3\tdb"), "{out}");
    assert!(out.contains("options ndots:3"), "{out}");
}

/// A volume name longer than a file name can be gets docker-style wording, not an OS error
/// with the daemon's host path.
#[test]
fn overlong_volume_names_get_a_clear_error() {
    let d = Daemon::start();
    let name = "v".repeat(300);
    let o = d.berth(&["volume", "create", &name]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("volume name is too long"), "{err}");
    assert!(!err.contains(&d.dir.display().to_string()), "{err}");
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "");
}

/// The daemon's `--dns` names the servers of containers that give none themselves (dockerd's
/// flag); a container's own `--dns` still wins.
#[test]
fn daemon_dns_servers_reach_containers_without_their_own() {
    let d = Daemon::start_with(&["--bridge", "none", "--dns", "192.0.2.53"]);
    d.import_busybox();
    let out = d.ok(&["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    let own = [
        "run",
        "--rm",
        "--dns",
        "192.0.2.54",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ];
    let out = d.ok(&own);
    assert!(
        out.contains("nameserver 192.0.2.54") && !out.contains("192.0.2.53"),
        "{out}"
    );
}
