//! End-to-end: volumes, bind mounts, tmpfs (issue 7), through the real `berth` and `berthd`.
//! Every test has its own daemon (its data root holds the volumes) and unique names; the
//! daemon guard removes containers, volumes and roots; host directories are removed by
//! [`HostDir`].
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{stderr, stdout, Daemon};

/// A host directory for bind mounts, removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> HostDir {
        let p = std::env::temp_dir().join(format!("berth-vol-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        HostDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn s(&self) -> String {
        self.0.display().to_string()
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

fn names(d: &Daemon) -> Vec<String> {
    let mut v: Vec<String> = d
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn volume_data_outlives_containers_and_daemon_restarts() {
    let mut d = Daemon::start();
    d.import_busybox();
    let vol = uniq("keep");
    assert_eq!(
        d.ok(&["volume", "create", "--label", "team=a", &vol]),
        format!("{vol}\n")
    );
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data:ro"),
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "persisted\n");
    let ls = d.ok(&["volume", "ls"]);
    assert!(ls.starts_with("DRIVER"), "{ls}");
    assert!(ls.contains(&format!("local     {vol}")), "{ls}");
    let inspect: serde_json::Value =
        serde_json::from_str(&d.ok(&["volume", "inspect", &vol])).unwrap();
    assert_eq!(inspect[0]["Labels"]["team"], "a");
    assert_eq!(inspect[0]["Driver"], "local");
    let mountpoint = inspect[0]["Mountpoint"].as_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read_to_string(Path::new(&mountpoint).join("f")).unwrap(),
        "persisted\n"
    );

    // In use by a container (even a stopped one): cannot be removed.
    d.ok(&[
        "create",
        "--name",
        &uniq("holder"),
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "true",
    ]);
    let o = d.berth(&["volume", "rm", &vol]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
    let mounts = d.ok(&["inspect", "-f", "{{json .Mounts}}", &uniq("holder")]);
    assert!(mounts.contains(&format!("\"Name\":\"{vol}\"")), "{mounts}");
    assert!(mounts.contains("\"Destination\":\"/data\""), "{mounts}");

    // The volume and the references survive a daemon restart.
    d.restart();
    assert!(names(&d).contains(&vol));
    let o = d.berth(&["volume", "rm", &vol]);
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
    d.ok(&["rm", &uniq("holder")]);
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "persisted\n");
    assert_eq!(d.ok(&["volume", "rm", &vol]), format!("{vol}\n"));
    assert!(!names(&d).contains(&vol));
    assert!(!Path::new(&mountpoint).exists());
    let o = d.berth(&["volume", "inspect", &vol]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn two_live_containers_see_each_others_writes() {
    let d = Daemon::start();
    d.import_busybox();
    let vol = uniq("shared");
    let (a, b) = (uniq("writer-a"), uniq("writer-b"));
    for n in [&a, &b] {
        d.ok(&[
            "run",
            "-d",
            "--name",
            n,
            "-v",
            &format!("{vol}:/shared"),
            "busybox",
            "sleep",
            "600",
        ]);
    }
    d.ok(&["exec", &a, "sh", "-c", "echo from-a > /shared/a"]);
    assert_eq!(d.ok(&["exec", &b, "cat", "/shared/a"]), "from-a\n");
    d.ok(&["exec", &b, "sh", "-c", "echo from-b > /shared/b"]);
    assert_eq!(d.ok(&["exec", &a, "cat", "/shared/b"]), "from-b\n");
    // --volumes-from CONTAINER:ro shares the volume read-only.
    let o = d.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{a}:ro"),
        "busybox",
        "sh",
        "-c",
        "cat /shared/b; echo x > /shared/c",
    ]);
    assert_eq!(stdout(&o), "from-b\n");
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn readonly_binds_fail_writes_with_erofs() {
    let d = Daemon::start();
    d.import_busybox();
    let host = HostDir::new("ro");
    std::fs::write(host.path().join("in"), "host data\n").unwrap();
    let o = d.berth(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/data:ro", host.s()),
        "busybox",
        "sh",
        "-c",
        "cat /data/in; echo x > /data/new",
    ]);
    assert_eq!(stdout(&o), "host data\n");
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={},target=/data,readonly", host.s()),
        "busybox",
        "touch",
        "/data/new2",
    ]);
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
    assert!(!host.path().join("new").exists() && !host.path().join("new2").exists());
    // A writable bind writes through to the host.
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/data", host.s()),
        "busybox",
        "sh",
        "-c",
        "echo rw > /data/rw",
    ]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("rw")).unwrap(),
        "rw\n"
    );
}

#[test]
fn tmpfs_mounts_have_the_asked_size() {
    let d = Daemon::start();
    d.import_busybox();
    let out = d.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=64m,mode=1770",
        "busybox",
        "grep",
        " /scratch ",
        "/proc/mounts",
    ]);
    assert!(out.starts_with("tmpfs /scratch tmpfs "), "{out}");
    assert!(out.contains("size=65536k"), "{out}");
    assert!(out.contains("mode=1770"), "{out}");
    let df = d.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=16m",
        "busybox",
        "df",
        "-k",
        "/t",
    ]);
    let total: u64 = df
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(total, 16 * 1024, "{df}");
    // A volume with driver options is that filesystem, mounted when a container uses it.
    let vol = uniq("tmpvol");
    d.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=8m",
        &vol,
    ]);
    let user = uniq("tmpvol-user");
    let out = d.ok(&[
        "run",
        "--name",
        &user,
        "-v",
        &format!("{vol}:/v"),
        "busybox",
        "grep",
        " /v ",
        "/proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /v tmpfs ") && out.contains("size=8192k"),
        "{out}"
    );
    // Unmounted on the host once no running container uses it (the stopped container still
    // references it); the volume stays.
    let inspect: serde_json::Value =
        serde_json::from_str(&d.ok(&["volume", "inspect", &vol])).unwrap();
    let mp = inspect[0]["Mountpoint"].as_str().unwrap().to_owned();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(&format!(" {mp} ")), "{mp} still mounted");
    assert!(names(&d).contains(&vol));
}

#[test]
fn prune_removes_only_unused_volumes() {
    let d = Daemon::start();
    d.import_busybox();
    let (used, unused) = (uniq("inuse"), uniq("spare"));
    d.ok(&["volume", "create", &unused]);
    d.ok(&[
        "create",
        "--name",
        &uniq("user"),
        "-v",
        &format!("{used}:/u"),
        "busybox",
        "true",
    ]);
    // An anonymous volume left behind by a container removed without -v.
    d.ok(&[
        "run",
        "--name",
        &uniq("anon"),
        "-v",
        "/anon",
        "busybox",
        "true",
    ]);
    d.ok(&["rm", &uniq("anon")]);
    let all = names(&d);
    assert_eq!(all.len(), 3, "{all:?}");
    let anon: Vec<&String> = all
        .iter()
        .filter(|n| **n != used && **n != unused)
        .collect();
    let dangling = d.ok(&["volume", "ls", "-q", "--filter", "dangling=true"]);
    assert!(
        dangling.contains(&unused) && !dangling.contains(&used),
        "{dangling}"
    );
    // Without -a only anonymous volumes go.
    let out = d.ok(&["volume", "prune", "-f"]);
    assert!(out.contains(anon[0].as_str()), "{out}");
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(names(&d), {
        let mut v = vec![used.clone(), unused.clone()];
        v.sort();
        v
    });
    let out = d.ok(&["volume", "prune", "-a", "-f"]);
    assert!(out.contains(&unused) && !out.contains(&used), "{out}");
    assert_eq!(names(&d), vec![used.clone()]);
}

#[test]
fn copy_up_fills_a_new_volume_from_the_image() {
    let d = Daemon::start();
    d.import_busybox();
    let vol = uniq("etc");
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.starts_with("root:x:0:0:"), "{out}");
    let inspect: serde_json::Value =
        serde_json::from_str(&d.ok(&["volume", "inspect", &vol])).unwrap();
    let mp = PathBuf::from(inspect[0]["Mountpoint"].as_str().unwrap());
    assert!(std::fs::read_to_string(mp.join("group"))
        .unwrap()
        .contains("alice"));
    // Not empty any more: what the container wrote stays, nothing is copied over it.
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        "busybox",
        "sh",
        "-c",
        "echo mine > /etc/passwd",
    ]);
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert_eq!(out, "mine\n");
    // volume-nocopy leaves a new volume empty: the image's files are not there.
    let nocopy = uniq("nocopy");
    let o = d.berth(&[
        "run",
        "--rm",
        "--mount",
        &format!("source={nocopy},target=/etc,volume-nocopy"),
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("No such file"), "{}", stderr(&o));
    // Anonymous volumes (-v /path) copy up too, and rm -v removes only them.
    let c = uniq("anon-owner");
    let named = uniq("named");
    d.ok(&[
        "run",
        "--name",
        &c,
        "-v",
        "/etc",
        "-v",
        &format!("{named}:/root"),
        "busybox",
        "cat",
        "/etc/group",
    ]);
    assert_eq!(names(&d).len(), 4);
    d.ok(&["rm", "-v", &c]);
    let left = names(&d);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.contains(&named));
}

#[test]
fn image_volumes_become_anonymous_volumes() {
    let d = Daemon::start();
    let o = d.berth_with_stdin(
        &["import", "-c", "VOLUME /etc", "-", "volimage:latest"],
        Some(&common::rootfs_tar()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let c = uniq("imgvol");
    // The image's VOLUME gets an anonymous volume, filled from the image (copy-up).
    let out = d.ok(&["run", "--name", &c, "volimage", "cat", "/etc/passwd"]);
    assert!(out.starts_with("root:x:0:0:"), "{out}");
    let mounts = d.ok(&["inspect", "-f", "{{json .Mounts}}", &c]);
    assert!(mounts.contains("\"Destination\":\"/etc\""), "{mounts}");
    let cfg = d.ok(&["inspect", "-f", "{{json .Config.Volumes}}", &c]);
    assert!(cfg.contains("/etc"), "{cfg}");
    assert_eq!(names(&d).len(), 1);
    // --rm drops the run's anonymous volumes (the image's /etc and -v /data).
    d.ok(&["run", "--rm", "-v", "/data", "volimage", "true"]);
    assert_eq!(names(&d).len(), 1);
    d.ok(&["rm", "-v", &c]);
    assert!(names(&d).is_empty(), "{:?}", names(&d));
}

#[test]
fn bad_mount_input_is_refused_and_creates_nothing() {
    let d = Daemon::start();
    d.import_busybox();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--mount", "type=bind,source=/tmp,target=/x,foo=bar"],
            "unexpected key 'foo'",
        ),
        (
            &["--mount", "type=bind,source=rel/dir,target=/x"],
            "must be absolute",
        ),
        (
            &[
                "--mount",
                "type=bind,source=/nonexistent-berth-src,target=/x",
            ],
            "bind source path does not exist",
        ),
        (&["-v", "rel/dir:/x"], "includes invalid characters"),
        (&["-v", "vol1:relative"], "must be absolute"),
        (&["-v", "vol1:/x:bogus"], "invalid mode"),
        (&["-v", "vol1:/x", "-v", "vol2:/x"], "Duplicate mount point"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let o = d.berth(&args);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    let o = d.berth(&["run", "--rm", "--tmpfs", "/t:bogus", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("invalid tmpfs option"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["volume", "create", "-o", "foo=bar", &uniq("badopt")]);
    assert!(stderr(&o).contains("invalid option key"), "{}", stderr(&o));
    assert_eq!(d.ok(&["ps", "-a", "-q"]), "");
    assert!(names(&d).is_empty(), "{:?}", names(&d));
}

#[test]
fn docker_cli_manages_volumes_and_copies() {
    let Some(docker) = common::docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    d.import_busybox();
    let vol = uniq("dockervol");
    let c = uniq("dockercp");
    let ok = |args: &[&str]| {
        let o = d.docker(&docker, args);
        assert!(o.status.success(), "docker {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    ok(&["volume", "create", "--label", "k=v", &vol]);
    assert!(ok(&["volume", "ls", "--filter", "label=k=v"]).contains(&vol));
    ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sleep",
        "600",
    ]);
    let host = HostDir::new("docker");
    std::fs::write(host.path().join("h"), "hello\n").unwrap();
    ok(&[
        "cp",
        &host.path().join("h").display().to_string(),
        &format!("{c}:/data/"),
    ]);
    ok(&[
        "cp",
        &format!("{c}:/data/h"),
        &host.path().join("back").display().to_string(),
    ]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("back")).unwrap(),
        "hello\n"
    );
    let mounts = ok(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Name}} {{.Destination}}{{end}}",
        &c,
    ]);
    assert_eq!(mounts.trim(), format!("{vol} /data"));
    // system df counts the volume, with its size and one reference.
    let df = d.raw("GET", "/system/df");
    assert!(df.contains(&format!("\"Name\":\"{vol}\"")), "{df}");
    assert!(df.contains("\"RefCount\":1"), "{df}");
    let o = d.docker(&docker, &["volume", "rm", &vol]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
    ok(&["rm", "-f", "-v", &c]);
    ok(&["volume", "rm", &vol]);
}
