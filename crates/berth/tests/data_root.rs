//! End-to-end (issue 14): nothing under the data root or exec root is readable by other local
//! users — records (with `-e` secrets), logs, the image store — and no setuid binary of an
//! image can be reached from a user's shell (CVE-2021-41091); while a container's non-root
//! user still reads its `/etc` files, its volumes and its image's files.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{rootfs_tar, stdout, wait_until, Daemon};

/// Where the setuid copy of busybox lives in the test image.
const SUID: &str = "usr/local/bin/suid-busybox";

/// Runs `argv` as uid/gid 65534 with no supplementary groups (an ordinary local user).
fn as_nobody(argv: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .args(argv)
        .output()
        .expect("setpriv (util-linux) must be installed")
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o7777
}

/// Imports busybox plus a setuid-root copy of it at [`SUID`] as `suid:latest`.
fn import_suid_image(d: &Daemon) {
    let tar_path = d.dir.join("suid.tar");
    let mut b = tar::Builder::new(fs::File::create(&tar_path).unwrap());
    let mut base = tar::Archive::new(fs::File::open(rootfs_tar()).unwrap());
    for e in base.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let path = e.path().unwrap().into_owned();
        b.append_data(&mut h, path, &mut e).unwrap();
    }
    let busybox = fs::read(
        ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap(),
    )
    .unwrap();
    for dir in ["usr/", "usr/local/", "usr/local/bin/"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, dir, std::io::empty()).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o4755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, SUID, busybox.as_slice()).unwrap();
    b.into_inner().unwrap();
    let o = d.berth_with_stdin(&["import", "-", "suid:latest"], Some(&tar_path));
    assert!(o.status.success(), "{}", common::stderr(&o));
}

/// Every path under `root` (not following links, not entering mounts: `find -xdev` would
/// skip the container's root, which is a mount, so that one is added by the caller).
fn find_all(root: &Path, name: &str) -> Vec<PathBuf> {
    let out = Command::new("find")
        .arg(root)
        .args(["-name", name])
        .output()
        .unwrap();
    stdout(&out).lines().map(PathBuf::from).collect()
}

#[test]
fn other_users_read_nothing_and_reach_no_setuid_binary() {
    let d = Daemon::start();
    import_suid_image(&d);
    let tag = format!(
        "{}-{}",
        std::process::id(),
        d.dir.display().to_string().len()
    );
    let secret = format!("SECRET-{tag}-hunter2");
    let line = format!("LOGLINE-{tag}-visible");
    let env = format!("SECRET={secret}");
    let script = format!("echo {line}; exec sleep 1000");
    let id = d
        .ok(&["run", "-d", "-e", &env, "suid", "sh", "-c", &script])
        .trim()
        .to_owned();
    wait_until("the log line", Duration::from_secs(20), || {
        d.ok(&["logs", &id]).contains(&line)
    });
    let data = d.dir.join("data");
    let exec = d.dir.join("exec");
    let cdir = data.join("containers").join(&id);
    let record = cdir.join("config.v2.json");
    let log = cdir.join(format!("{id}-json.log"));
    // Root sees them: the secret and the line are there to be found.
    assert!(fs::read_to_string(&record).unwrap().contains(&secret));
    assert!(fs::read_to_string(&log).unwrap().contains(&line));
    // The setuid binary is in the store (an unpacked layer) and in the mounted root.
    let mut suid = find_all(&data.join("image"), "suid-busybox");
    suid.push(exec.join("containers").join(&id).join("rootfs").join(SUID));
    assert!(suid.len() >= 2, "setuid copies found: {suid:?}");
    for p in &suid {
        assert_eq!(mode(p), 0o4755, "{}", p.display());
    }
    // An ordinary user: reads no record, no log, finds nothing, executes no setuid binary.
    for p in [&record, &log] {
        let o = as_nobody(&["cat", p.to_str().unwrap()]);
        assert!(!o.status.success(), "nobody read {}", p.display());
    }
    for needle in [&secret, &line] {
        let o = as_nobody(&[
            "grep",
            "-r",
            "-l",
            needle,
            data.to_str().unwrap(),
            exec.to_str().unwrap(),
        ]);
        assert_eq!(stdout(&o), "", "nobody found {needle} under the roots");
        assert_ne!(o.status.code(), Some(0));
    }
    for p in &suid {
        let o = as_nobody(&[p.to_str().unwrap(), "id", "-u"]);
        assert!(
            !o.status.success(),
            "nobody ran {} ({}): {}",
            p.display(),
            o.status,
            stdout(&o)
        );
        let o = as_nobody(&["stat", p.to_str().unwrap()]);
        assert!(!o.status.success(), "nobody reached {}", p.display());
    }
    // dockerd's modes.
    for (p, m) in [
        (&data, 0o710),
        (&exec, 0o710),
        (&data.join("containers"), 0o700),
        (&data.join("image"), 0o700),
        (&data.join("volumes"), 0o701),
        (&exec.join("containers"), 0o700),
        (&cdir, 0o700),
        (&record, 0o600),
        (&log, 0o640),
    ] {
        assert_eq!(mode(p), m, "mode of {}: {:o}", p.display(), mode(p));
    }
    d.ok(&["rm", "-f", &id]);
}

#[test]
fn a_non_root_container_user_reads_its_files() {
    let d = Daemon::start();
    d.import_busybox();
    let vol = format!("perm-vol-{}", std::process::id());
    let at_vol = format!("{vol}:/data");
    // Root fills the volume (0644 file); uid 1000 reads it, its /etc files and the image's.
    let id = d
        .ok(&[
            "run",
            "-d",
            "-v",
            &at_vol,
            "busybox",
            "sh",
            "-c",
            "echo in-volume > /data/f",
        ])
        .trim()
        .to_owned();
    assert_eq!(d.ok(&["wait", &id]), "0\n");
    d.ok(&["rm", &id]);
    let deep = format!("{vol}:/a/b/c");
    let id = d
        .ok(&[
            "run",
            "-d",
            "--user",
            "1000",
            "--hostname",
            "permhost",
            "-v",
            &at_vol,
            "-v",
            &deep,
            "busybox",
            "sh",
            "-c",
            "set -e; id -u; cat /etc/hosts >/dev/null; echo hosts-read; cat /etc/hostname; \
             cat /etc/resolv.conf >/dev/null; echo resolv-read; cat /data/f; cat /a/b/c/f; \
             grep -c alice /etc/passwd; umask",
        ])
        .trim()
        .to_owned();
    let code = d.ok(&["wait", &id]);
    let logs = d.berth(&["logs", &id]);
    let out = stdout(&logs);
    assert_eq!(code, "0\n", "{out}{}", common::stderr(&logs));
    assert_eq!(
        out,
        "1000\nhosts-read\npermhost\nresolv-read\nin-volume\nin-volume\n1\n0022\n"
    );
    d.ok(&["rm", &id]);
    d.ok(&["volume", "rm", &vol]);
}

#[test]
fn an_old_data_root_is_made_private_at_start() {
    let mut d = Daemon::start();
    d.import_busybox();
    let id = d
        .ok(&[
            "run",
            "-d",
            "-e",
            "SECRET=old-layout",
            "busybox",
            "echo",
            "hello",
        ])
        .trim()
        .to_owned();
    assert_eq!(d.ok(&["wait", &id]), "0\n");
    d.terminate();
    // What an older berthd left: everything readable by all.
    let data = d.dir.join("data");
    let cdir = data.join("containers").join(&id);
    let record = cdir.join("config.v2.json");
    let log = cdir.join(format!("{id}-json.log"));
    let open = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    for dir in [&data, &data.join("containers"), &data.join("image"), &cdir] {
        open(dir, 0o755);
    }
    open(&record, 0o644);
    open(&log, 0o644);
    d.start_again();
    for (p, m) in [
        (&data, 0o710),
        (&data.join("containers"), 0o700),
        (&data.join("image"), 0o700),
        (&cdir, 0o700),
        (&record, 0o600),
        (&log, 0o640),
    ] {
        assert_eq!(mode(p), m, "mode of {}: {:o}", p.display(), mode(p));
    }
    assert_eq!(d.ok(&["logs", &id]), "hello\n");
}
