//! Docker CLI flags of `run`, `ps` and `inspect` that change what the daemon is asked for:
//! `--entrypoint`, `--pull missing|always|never`, `ps -s`, `inspect --type`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{stderr, stdout, Daemon};

#[test]
fn entrypoint_and_pull_policies() {
    let d = Daemon::start();
    d.import_busybox();
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "hi",
            "there"
        ]),
        "hi there\n"
    );
    // never: a missing image is an error, nothing is fetched.
    let o = d.berth(&["run", "--rm", "--pull", "never", "nosuch-image:1", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("No such image"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("Unable to find image"),
        "{}",
        stderr(&o)
    );
    // Bad values get docker's message.
    let o = d.berth(&["run", "--rm", "--pull", "sometimes", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("invalid pull option: 'sometimes'"),
        "{}",
        stderr(&o)
    );
    // always: pulls even when the image is here. A registry on a closed loopback port makes
    // the attempt visible (and keeps traffic on 127.0.0.1).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let local = format!("127.0.0.1:{closed}/bb:latest");
    d.ok(&["tag", "busybox", &local]);
    assert_eq!(d.ok(&["run", "--rm", &local, "echo", "local"]), "local\n");
    let o = d.berth(&["run", "--rm", "--pull", "always", &local, "echo", "x"]);
    assert_eq!(o.status.code(), Some(125), "{}", stdout(&o));
    assert!(!stdout(&o).contains('x'), "{}", stdout(&o));
    // create has the flag too (and exits 1 on failure, as docker create does).
    let o = d.berth(&["create", "--pull", "never", "nosuch-image:2"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "", "nothing left behind");
}

#[test]
fn ps_size_and_inspect_type() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "--name",
        "sized",
        "busybox",
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /blob",
    ]);
    let table = d.ok(&["ps", "-a", "-s"]);
    let header = table.lines().next().unwrap();
    assert!(header.ends_with("SIZE"), "{table}");
    let size = d.ok(&["ps", "-a", "-s", "--format", "{{.Size}}"]);
    assert!(size.contains("kB (virtual "), "{size}");
    // As docker's CLI, a template that shows .Size asks for sizes without -s.
    let size = d.ok(&["ps", "-a", "--format", "{{.Size}}"]);
    assert!(size.contains("kB (virtual "), "{size}");
    // inspect: --type narrows the lookup; without it containers, images, networks and
    // volumes are all found.
    d.ok(&["volume", "create", "vol-a"]);
    let img = d.ok(&["inspect", "--type", "image", "-f", "{{.Id}}", "busybox"]);
    assert!(img.starts_with("sha256:"), "{img}");
    let o = d.berth(&["inspect", "--type", "container", "busybox"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Error: No such container: busybox"),
        "{}",
        stderr(&o)
    );
    let v = d.ok(&["inspect", "-f", "{{.Name}} {{.Driver}}", "vol-a"]);
    assert_eq!(v.trim(), "vol-a local");
    let c = d.ok(&["inspect", "--type", "container", "-f", "{{.Name}}", "sized"]);
    assert_eq!(c.trim(), "/sized");
    let o = d.berth(&["inspect", "--type", "gadget", "sized"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("\"gadget\" is not a valid value for --type"),
        "{}",
        stderr(&o)
    );
    d.ok(&["rm", "sized"]);
    d.ok(&["volume", "rm", "vol-a"]);
}
