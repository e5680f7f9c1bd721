//! End-to-end: berthd with `userns-remap` (dockerd's user-namespace remapping). Each test adds
//! its own `/etc/subuid`/`/etc/subgid` line for a unique numeric id (under a lock file, removed
//! again on drop) and checks, against the real kernel, that the container's root is the
//! subordinate id on the host while the shared image layers stay owned by real root.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{
    append_line, bin_dir, remove_line, replace_file, stderr, with_subid_lock as locked, Daemon,
};

static SEQ: AtomicU32 = AtomicU32::new(0);
const SUBID_FILES: [&str; 2] = ["/etc/subuid", "/etc/subgid"];
/// A unique numeric id with a 65536-id range in /etc/subuid and /etc/subgid; on drop exactly
/// that line is removed again.
struct SubIds {
    id: u32,
    start: u32,
    line: String,
}

impl SubIds {
    fn new() -> SubIds {
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::SeqCst) % 4;
        let id = 3_000_000_000 + (pid % 250_000) * 4 + seq;
        let start = 1_000_000_000 + ((pid % 8000) * 4 + seq) * 65536;
        let line = format!("{id}:{start}:65536");
        locked(|| {
            for f in SUBID_FILES {
                append_line(f, &line);
            }
        });
        SubIds { id, start, line }
    }

    /// `{"userns-remap": "ID:ID"}` written to a config file in `dir`.
    fn config_file(&self, dir: &Path) -> PathBuf {
        let p = dir.join("daemon.json");
        let mut f = fs::File::create(&p).unwrap();
        write!(f, r#"{{"userns-remap": "{0}:{0}"}}"#, self.id).unwrap();
        p
    }
}

impl Drop for SubIds {
    fn drop(&mut self) {
        locked(|| {
            for f in SUBID_FILES {
                remove_line(f, &self.line);
            }
        });
    }
}

/// A remapping daemon (config file in a temp dir) and its subid line; the daemon goes first.
struct Remapped {
    d: Daemon,
    ids: SubIds,
    _conf: tempfile::TempDir,
}

fn start(extra: &[&str]) -> Remapped {
    let ids = SubIds::new();
    let conf = tempfile::tempdir().unwrap();
    let path = ids.config_file(conf.path());
    let mut args = vec!["--config-file", path.to_str().unwrap()];
    if extra.is_empty() {
        args.extend(["--bridge", "none"]);
    }
    args.extend_from_slice(extra);
    let d = Daemon::start_with(&args);
    d.import_busybox();
    Remapped {
        d,
        ids,
        _conf: conf,
    }
}

/// `Key:\tvalue` of `/proc/<pid>/status`.
fn status_field(pid: &str, key: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}

/// Every `snapshots/*/fs/<rel>` in the daemon's store.
fn in_snapshots(d: &Daemon, rel: &str) -> Vec<PathBuf> {
    let dir = d.dir.join("data/image/overlay/snapshots");
    fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("fs").join(rel))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// Runs `run -d ARGS…` to its end; returns (exit code, log).
fn run_logged(d: &Daemon, args: &[&str]) -> (String, String) {
    let mut full = vec!["run", "-d"];
    full.extend_from_slice(args);
    let id = d.ok(&full).trim().to_owned();
    let code = d.ok(&["wait", &id]).trim().to_owned();
    let log = d.ok(&["logs", &id]);
    d.ok(&["rm", &id]);
    (code, log)
}

#[test]
fn container_root_is_the_subordinate_id_and_layers_stay_root_owned() {
    let r = start(&[]);
    let (d, start) = (&r.d, r.ids.start);
    let id = d
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /etc/passwd; \
             echo data > /written; echo 1.2.3.4 x >> /etc/hosts; echo ok; sleep 300",
        ])
        .trim()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut log = String::new();
    while !log.contains("ok\n") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        log = d.ok(&["logs", &id]);
    }
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[..2], ["0", "0"], "root inside: {log}");
    let map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(map, ["0", &start.to_string(), "65536"], "uid_map: {log}");
    let gmap: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(gmap, ["0", &start.to_string(), "65536"], "gid_map: {log}");
    // Image files read as root's inside (idmapped), and the container could write /etc/hosts.
    assert!(lines[4].contains(" 0        0 "), "image file owner: {log}");
    assert!(log.contains("ok\n"), "{log}");
    // On the host the init runs as the subordinate ids.
    let pid = d
        .ok(&["inspect", "-f", "{{.State.Pid}}", &id])
        .trim()
        .to_owned();
    let s = start.to_string();
    assert_eq!(status_field(&pid, "Uid"), [s.as_str(); 4].join("\t"));
    assert_eq!(status_field(&pid, "Gid"), [s.as_str(); 4].join("\t"));
    // What it wrote is in its upper dir, owned by the subordinate root.
    let written = in_snapshots(d, "written");
    assert_eq!(written.len(), 1, "{written:?}");
    let m = fs::metadata(&written[0]).unwrap();
    assert_eq!((m.uid(), m.gid()), (start, start));
    // The shared image layer is untouched: still owned by real root on disk.
    let passwd = in_snapshots(d, "etc/passwd");
    assert!(!passwd.is_empty());
    for p in &passwd {
        let m = fs::metadata(p).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 0), "{} rechowned", p.display());
    }
    // exec joins the same user namespace.
    assert_eq!(d.ok(&["exec", &id, "id", "-u"]), "0\n");
    assert_eq!(
        d.ok(&["exec", &id, "cat", "/proc/self/uid_map"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", &s, "65536"]
    );
    d.ok(&["rm", "-f", &id]);
    // The same image runs unmapped next to it: layers were never changed.
    let (code, out) = run_logged(d, &["--userns=host", "busybox", "ls", "-ln", "/etc/passwd"]);
    assert_eq!(code, "0");
    assert!(out.contains(" 0        0 "), "{out}");
}

#[test]
fn commit_writes_the_container_ids_not_the_host_ones() {
    let r = start(&[]);
    let d = &r.d;
    let id = d
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "echo x > /w && mkdir /d && chown 1000:1000 /d",
        ])
        .trim()
        .to_owned();
    assert_eq!(d.ok(&["wait", &id]).trim(), "0");
    d.ok(&["commit", &id, "remapped-commit:1"]);
    d.ok(&["rm", &id]);
    let (code, out) = run_logged(
        d,
        &[
            "--userns=host",
            "remapped-commit:1",
            "ls",
            "-lnd",
            "/w",
            "/d",
        ],
    );
    assert_eq!(code, "0", "{out}");
    let owners: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[2].to_owned(), f[3].to_owned())
        })
        .collect();
    assert_eq!(
        owners,
        [("1000".into(), "1000".into()), ("0".into(), "0".into())],
        "{out}"
    );
}

#[test]
fn cp_into_a_remapped_container_is_owned_by_its_root() {
    let r = start(&[]);
    let (d, start) = (&r.d, r.ids.start);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("copied");
    fs::write(&file, "c").unwrap();
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_owned();
    d.ok(&["cp", file.to_str().unwrap(), &format!("{id}:/")]);
    let out = d.ok(&["exec", &id, "ls", "-ln", "/copied"]);
    assert!(
        out.contains(" 0        0 "),
        "owned by the container's root: {out}"
    );
    let on_disk = in_snapshots(d, "copied");
    assert_eq!(on_disk.len(), 1);
    assert_eq!(fs::metadata(&on_disk[0]).unwrap().uid(), start);
    let o = d.berth(&["cp", "-a", file.to_str().unwrap(), &format!("{id}:/")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not supported"), "{}", stderr(&o));
    d.ok(&["rm", "-f", &id]);
}

/// (path, uid, gid) of each entry of a tar file.
fn tar_owners(path: &Path) -> Vec<(String, u64, u64)> {
    let mut a = tar::Archive::new(fs::File::open(path).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let p = e.path().unwrap().display().to_string();
            (p, h.uid().unwrap(), h.gid().unwrap())
        })
        .collect()
}

#[test]
fn export_and_cp_out_carry_the_container_ids() {
    let r = start(&[]);
    let d = &r.d;
    let id = d
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "echo x > /w && mkdir /d && chown 1000:1000 /d && echo ready && sleep 60",
        ])
        .trim()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !d.ok(&["logs", &id]).contains("ready") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = tempfile::tempdir().unwrap();
    let check = |tar: &Path| {
        let owners = tar_owners(tar);
        let of = |name: &str| {
            owners
                .iter()
                .find(|(p, _, _)| p.trim_start_matches("./").trim_end_matches('/') == name)
                .map(|(_, u, g)| (*u, *g))
        };
        assert_eq!(of("w"), Some((0, 0)), "{owners:?}");
        assert_eq!(of("d"), Some((1000, 1000)), "{owners:?}");
        assert_eq!(of("etc/passwd"), Some((0, 0)), "{owners:?}");
    };
    // export of the running container (its idmapped root), then stopped (mounted plainly).
    for (n, state) in ["running", "stopped"].iter().enumerate() {
        if *state == "stopped" {
            d.ok(&["kill", &id]);
            d.ok(&["wait", &id]);
        }
        let tar = out.path().join(format!("export{n}.tar"));
        d.ok(&["export", "-o", tar.to_str().unwrap(), &id]);
        check(&tar);
    }
    // cp out (docker's `cp CONTAINER:/ -` writes a tar to stdout).
    let o = d.berth(&["cp", &format!("{id}:/."), "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tar = out.path().join("cp.tar");
    fs::write(&tar, &o.stdout).unwrap();
    check(&tar);
}

#[test]
fn userns_host_opts_out_and_privileged_needs_it() {
    let r = start(&[]);
    let d = &r.d;
    let (code, out) = run_logged(
        d,
        &["--userns=host", "busybox", "cat", "/proc/self/uid_map"],
    );
    assert_eq!(code, "0");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    let o = d.berth(&["run", "--rm", "--privileged", "busybox", "true"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("privileged mode is incompatible with user namespaces"),
        "{}",
        stderr(&o)
    );
    d.ok(&[
        "run",
        "--rm",
        "--privileged",
        "--userns=host",
        "busybox",
        "true",
    ]);
    let id = d.ok(&["create", "--userns=host", "busybox", "true"]);
    let mode = d.ok(&["inspect", "-f", "{{.HostConfig.UsernsMode}}", id.trim()]);
    assert_eq!(mode.trim(), "host");
    assert!(d.raw("GET", "/info").contains("name=userns"));
    let o = d.berth(&["run", "--rm", "--userns=bogus", "busybox", "true"]);
    assert!(stderr(&o).contains("invalid USER mode"), "{}", stderr(&o));
}

#[test]
fn volumes_and_etc_files_belong_to_the_remapped_root_host_binds_do_not() {
    let r = start(&[]);
    let (d, start) = (&r.d, r.ids.start);
    let host_dir = tempfile::tempdir().unwrap();
    let bind = format!("{}:/hostdir", host_dir.path().display());
    let (code, out) = run_logged(
        d,
        &[
            "-v",
            "vol1:/data",
            "-v",
            &bind,
            "busybox",
            "sh",
            "-c",
            "echo v > /data/f && echo h >> /etc/hostname && ls -lnd /hostdir && echo done",
        ],
    );
    assert_eq!(code, "0", "{out}");
    assert!(out.contains("done"), "{out}");
    // The host path keeps real root, seen as the overflow id inside.
    assert!(out.contains("65534"), "{out}");
    assert_eq!(fs::metadata(host_dir.path()).unwrap().uid(), 0);
    let data = d.dir.join("data/volumes/vol1/_data");
    for p in [data.clone(), data.join("f")] {
        let m = fs::metadata(&p).unwrap();
        assert_eq!((m.uid(), m.gid()), (start, start), "{}", p.display());
    }
}

#[test]
fn bridge_network_works_in_a_user_namespace() {
    let pid = std::process::id();
    let bridge = format!("bu{:x}", pid & 0xfffff);
    let bip = format!("10.{}.{}.1/26", 200 + (pid >> 8) % 50, pid & 0xff);
    let r = start(&["--bridge", &bridge, "--bip", &bip]);
    let gw = bip.trim_end_matches("/26").to_owned();
    let guard = BridgeGuard(bridge.clone());
    let script =
        "ip -4 addr show eth0; cat /proc/self/uid_map; ls /sys/class/net >/dev/null && echo sys";
    let (code, out) = run_logged(&r.d, &["busybox", "sh", "-c", script]);
    assert_eq!(code, "0", "{out}\n{}", r.d.log());
    assert!(
        out.contains(&gw[..gw.len() - 1]),
        "address on the bridge: {out}"
    );
    assert!(out.contains(&r.ids.start.to_string()), "{out}");
    assert!(out.contains("sys"), "{out}");
    // Docker's ping_group_range, set by the engine in the namespace it made (the remapped
    // root cannot), read from the host.
    let id =
        r.d.ok(&["run", "-d", "busybox", "sleep", "60"])
            .trim()
            .to_owned();
    let pid =
        r.d.ok(&["inspect", "-f", "{{.State.Pid}}", &id])
            .trim()
            .to_owned();
    let o = Command::new("nsenter")
        .args([
            "-t",
            &pid,
            "-n",
            "cat",
            "/proc/sys/net/ipv4/ping_group_range",
        ])
        .output()
        .unwrap();
    let range = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        range.split_whitespace().collect::<Vec<_>>(),
        ["0", "2147483647"]
    );
    r.d.ok(&["rm", "-f", &id]);
    let Remapped { mut d, ids, _conf } = r;
    d.terminate();
    drop(d);
    drop(ids);
    drop(guard);
}

/// Deletes the test's bridge if the daemon left it (e.g. after a failed assertion).
struct BridgeGuard(String);

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn missing_subuid_range_is_a_clear_start_error() {
    let dir = tempfile::tempdir().unwrap();
    // A numeric id nobody has a range for (the ids this file adds start at 3_000_000_000).
    let id = 2_999_000_000 + std::process::id() % 100_000;
    let mut child = Command::new(bin_dir().join("berthd"))
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}/s.sock", dir.path().display()))
        .args(["--bridge", "none", "--userns-remap", &format!("{id}:{id}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("berthd started without a subuid range");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(
        err.contains(&format!(
            "no subuid ranges found for user {id} in /etc/subuid"
        )),
        "{err}"
    );
    assert!(!dir.path().join("s.sock").exists());
}

/// Removes `berthremap` and its subordinate ranges if the test created them.
struct DefaultUser {
    created: bool,
}

impl Drop for DefaultUser {
    fn drop(&mut self) {
        if !self.created {
            return;
        }
        locked(|| {
            let _ = Command::new("userdel")
                .arg("berthremap")
                .stderr(Stdio::null())
                .status();
            for f in SUBID_FILES {
                if let Ok(text) = fs::read_to_string(f) {
                    let kept: String = text
                        .lines()
                        .filter(|l| !l.starts_with("berthremap:"))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    replace_file(f, &kept);
                }
            }
        });
    }
}

#[test]
fn default_creates_berthremap_and_a_free_range() {
    let has_user = || {
        fs::read_to_string("/etc/passwd")
            .unwrap()
            .lines()
            .any(|l| l.starts_with("berthremap:"))
    };
    // The daemon's useradd/usermod run under the lock the other tests edit the files with.
    let (d, _user) = locked(|| {
        let user = DefaultUser {
            created: !has_user(),
        };
        (
            Daemon::start_with(&["--bridge", "none", "--userns-remap", "default"]),
            user,
        )
    });
    assert!(has_user(), "{}", d.log());
    let line = fs::read_to_string("/etc/subuid")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("berthremap:"))
        .map(str::to_owned)
        .unwrap();
    let f: Vec<&str> = line.split(':').collect();
    d.import_busybox();
    let (code, out) = run_logged(&d, &["busybox", "cat", "/proc/self/uid_map"]);
    assert_eq!(code, "0", "{out}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", f[1], f[2]]
    );
    drop(d);
}
