//! End-to-end: `berth cp` (issue 7) — both directions, running and stopped containers,
//! docker's directory semantics, volumes seen by cp, tar streams, and the symlink-swap race
//! (CVE-2018-15664 class) that must never reach host files.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{stderr, stdout, Daemon};

/// A host directory, removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> HostDir {
        let p = std::env::temp_dir().join(format!("berth-cp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        HostDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn join(&self, p: &str) -> String {
        self.0.join(p).display().to_string()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uniq(tag: &str) -> String {
    format!("{tag}-{}", std::process::id())
}

#[test]
fn cp_both_ways_with_docker_directory_semantics() {
    let d = Daemon::start();
    d.import_busybox();
    let host = HostDir::new("dirs");
    std::fs::create_dir_all(host.path().join("tree/sub")).unwrap();
    std::fs::write(host.path().join("tree/sub/f"), "deep\n").unwrap();
    std::fs::write(host.path().join("one"), "one\n").unwrap();
    std::os::unix::fs::symlink("sub/f", host.path().join("tree/link")).unwrap();
    let c = uniq("cp-run");
    d.ok(&["run", "-d", "--name", &c, "busybox", "sleep", "600"]);

    // Into an existing directory: lands as DIR/basename, owned by root without -a.
    d.ok(&["cp", &host.join("tree"), &format!("{c}:/tmp")]);
    assert_eq!(d.ok(&["exec", &c, "cat", "/tmp/tree/sub/f"]), "deep\n");
    assert_eq!(d.ok(&["exec", &c, "readlink", "/tmp/tree/link"]), "sub/f\n");
    // To a new name: renamed; a file over an existing file: replaced.
    d.ok(&["cp", &host.join("one"), &format!("{c}:/tmp/renamed")]);
    d.ok(&["exec", &c, "sh", "-c", "echo old > /tmp/existing"]);
    d.ok(&["cp", &host.join("one"), &format!("{c}:/tmp/existing")]);
    assert_eq!(
        d.ok(&["exec", &c, "cat", "/tmp/renamed", "/tmp/existing"]),
        "one\none\n"
    );
    // A directory's content with `dir/.`.
    d.ok(&["exec", &c, "mkdir", "/tmp/content"]);
    d.ok(&[
        "cp",
        &format!("{}/.", host.join("tree")),
        &format!("{c}:/tmp/content"),
    ]);
    assert_eq!(d.ok(&["exec", &c, "cat", "/tmp/content/sub/f"]), "deep\n");
    // Missing parent and directory onto a file are errors.
    let o = d.berth(&["cp", &host.join("one"), &format!("{c}:/nonexistent/dir/x")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = d.berth(&["cp", &host.join("tree"), &format!("{c}:/etc/passwd")]);
    assert_eq!(o.status.code(), Some(1));

    // Out of the container: a file to a new name, a directory into an existing one.
    d.ok(&[
        "exec",
        &c,
        "sh",
        "-c",
        "mkdir -p /out/a && echo out > /out/a/x && chown 1000:1000 /out/a/x",
    ]);
    d.ok(&["cp", &format!("{c}:/out/a/x"), &host.join("got")]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("got")).unwrap(),
        "out\n"
    );
    d.ok(&["cp", &format!("{c}:/out"), &host.join("")]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("out/a/x")).unwrap(),
        "out\n"
    );
    d.ok(&["cp", &format!("{c}:/out/."), &host.join("copy")]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("copy/a/x")).unwrap(),
        "out\n"
    );
    // -a keeps the container's owner.
    d.ok(&["cp", "-a", &format!("{c}:/out/a/x"), &host.join("owned")]);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(host.path().join("owned")).unwrap().uid(),
        1000
    );
    let o = d.berth(&["cp", &format!("{c}:/no/such"), &host.join("x")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Could not find the file /no/such"),
        "{}",
        stderr(&o)
    );

    // Tar streams: `-` on both sides.
    let o = d.berth(&["cp", &format!("{c}:/out/a/x"), "-"]);
    let mut ar = tar::Archive::new(&o.stdout[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["x"]);
    let tarfile = host.path().join("in.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarfile).unwrap());
    b.append_path_with_name(host.path().join("one"), "from-tar")
        .unwrap();
    b.finish().unwrap();
    drop(b);
    let o = d.berth_with_stdin(&["cp", "-", &format!("{c}:/tmp")], Some(&tarfile));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(d.ok(&["exec", &c, "cat", "/tmp/from-tar"]), "one\n");
}

#[test]
fn cp_sees_volumes_of_running_and_stopped_containers() {
    let d = Daemon::start();
    d.import_busybox();
    let host = HostDir::new("vols");
    std::fs::write(host.path().join("f"), "via cp\n").unwrap();
    let vol = uniq("cpvol");
    let c = uniq("cp-vol");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-v",
        &format!("{vol}:/data"),
        "--tmpfs",
        "/scratch",
        "busybox",
        "sleep",
        "600",
    ]);
    d.ok(&["cp", &host.join("f"), &format!("{c}:/data/running")]);
    d.ok(&["cp", &host.join("f"), &format!("{c}:/scratch/t")]);
    assert_eq!(d.ok(&["exec", &c, "cat", "/scratch/t"]), "via cp\n");
    d.ok(&["stop", "-t", "0", &c]);
    // Stopped: the root is mounted for the copy, the volume reached through its directory.
    d.ok(&["cp", &host.join("f"), &format!("{c}:/data/stopped")]);
    d.ok(&["cp", &host.join("f"), &format!("{c}:/root/in-root")]);
    d.ok(&["cp", &format!("{c}:/root/in-root"), &host.join("back")]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("back")).unwrap(),
        "via cp\n"
    );
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "cat",
        "/data/running",
        "/data/stopped",
    ]);
    assert_eq!(out, "via cp\nvia cp\n");
    d.ok(&["start", &c]);
    assert_eq!(d.ok(&["exec", &c, "cat", "/root/in-root"]), "via cp\n");
}

#[test]
fn symlink_swap_race_never_reaches_host_files() {
    let d = Daemon::start();
    d.import_busybox();
    // The host has a secret at a path the container mirrors with harmless content.
    let host = HostDir::new("race");
    let hp = host.path().display().to_string();
    std::fs::write(host.path().join("secret"), "HOST-SECRET\n").unwrap();
    let payload = HostDir::new("race-payload");
    std::fs::write(payload.path().join("planted"), "PLANTED\n").unwrap();
    let c = uniq("racer");
    let script = format!(
        "mkdir -p {hp} /w && echo CONTAINER > {hp}/secret && \
         while true; do rm -rf /w/x; mkdir /w/x; usleep 1000; rm -rf /w/x; ln -s / /w/x; \
         usleep 3000; done"
    );
    d.ok(&["run", "-d", "--name", &c, "busybox", "sh", "-c", &script]);
    let through_link = format!("{c}:/w/x{hp}/secret");
    let (mut seen_container, mut seen_host) = (0, 0);
    // At least 100 rounds; more (up to 600) until the race has let one copy through, so the
    // liveness check below does not depend on one scheduler's luck.
    for i in 0..600 {
        if i >= 100 && seen_container > 0 && i % 10 == 1 {
            break;
        }
        let o = d.berth(&["cp", &through_link, "-"]);
        let out = stdout(&o);
        if out.contains("HOST-SECRET") {
            seen_host += 1;
        }
        if out.contains("CONTAINER") {
            seen_container += 1;
        }
        // Writes through the swapped path: may land in the container, never on the host.
        let _ = d.berth(&["cp", &payload.join("planted"), &format!("{c}:/w/x{hp}/")]);
        if i % 10 == 0 {
            let _ = d.berth(&[
                "cp",
                &payload.join("planted"),
                &format!("{c}:/w/x{hp}/p{i}"),
            ]);
        }
    }
    assert_eq!(
        seen_host, 0,
        "cp read a host file through a container symlink"
    );
    let mut host_files: Vec<String> = std::fs::read_dir(host.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    host_files.sort();
    assert_eq!(host_files, ["secret"], "cp wrote into a host directory");
    assert_eq!(
        std::fs::read_to_string(host.path().join("secret")).unwrap(),
        "HOST-SECRET\n"
    );
    // The race was real: some copies went through the symlink into the container's root.
    assert!(seen_container > 0, "the swap loop never let a copy through");
    let listing = d.ok(&["exec", &c, "ls", &hp]);
    assert!(
        listing.contains("planted") || listing.contains("p0"),
        "{listing}"
    );
}
