//! End-to-end tests of images through the real `berth`/`berthd`: import, shared layers,
//! commit/diff/export, tag/history/inspect, save/load (with podman and skopeo as peers),
//! prune/df, and hostile archives (in `images/hostile.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "images/hostile.rs"]
mod hostile;
#[path = "images/peers.rs"]
mod peers;
#[path = "images/util.rs"]
mod util;

use common::{stderr, stdout, Daemon};
use util::{api, blob_count, inspect, layer_reader, snapshot_dirs, tar_entries, tar_files};

#[test]
fn import_then_run_reads_it_and_inspect_has_dockers_shape() {
    let d = Daemon::start();
    let tar = common::rootfs_tar();
    let id = d
        .ok(&[
            "import",
            "-c",
            "ENV A=1",
            "-c",
            "EXPOSE 8080",
            "-c",
            "LABEL team=infra",
            "-c",
            "STOPSIGNAL SIGINT",
            "-c",
            "WORKDIR /tmp",
            "-m",
            "from e2e",
            tar.to_str().unwrap(),
            "bb:imp",
        ])
        .trim()
        .to_owned();
    assert!(id.starts_with("sha256:"), "{id}");
    let o = d.berth(&[
        "run",
        "--rm",
        "bb:imp",
        "sh",
        "-c",
        "cat /etc/group; pwd; echo $A",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("root:x:0:\n"), "{out}");
    assert!(out.ends_with("/tmp\n1\n"), "{out}");

    let v = inspect(&d, "bb:imp");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["RepoTags"], serde_json::json!(["bb:imp"]));
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Comment"], "from e2e");
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(v["Size"].as_u64().unwrap() > 500_000, "{v}");
    let c = &v["Config"];
    assert_eq!(c["Env"], serde_json::json!(["A=1"]));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Labels"], serde_json::json!({"team": "infra"}));
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["WorkingDir"], "/tmp");
    for k in ["Cmd", "Entrypoint", "User", "Volumes"] {
        assert!(c.get(k).is_some(), "Config.{k} missing: {c}");
    }
    // `inspect` falls back to images; templates work; misses exit 1.
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.Os}} {{.Id}}", "bb:imp"]),
        format!("linux {id}\n")
    );
    let o = d.berth(&["image", "inspect", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such image: nosuch"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["inspect", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    // The API answers the same document.
    let (st, doc) = api(&d, "GET", "/v1.45/images/bb:imp/json");
    assert_eq!((st, doc["Id"].as_str()), (200, Some(id.as_str())));
    let (st, _) = api(&d, "GET", "/images/nosuch/json");
    assert_eq!(st, 404);
}

#[test]
fn images_sharing_a_base_layer_keep_one_copy() {
    let d = Daemon::start();
    d.import_busybox();
    assert_eq!(snapshot_dirs(&d), 1);
    for (n, file) in [("one", "/a"), ("two", "/b")] {
        d.ok(&[
            "run",
            "--name",
            n,
            "busybox",
            "sh",
            "-c",
            &format!("echo {n} > {file}"),
        ]);
        d.ok(&["commit", n, &format!("derived:{n}")]);
        d.ok(&["rm", n]);
    }
    // Same base under another name, and once more through save → load.
    d.ok(&["tag", "busybox", "alias:x"]);
    let archive = d.dir.join("both.tar");
    d.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "derived:one",
        "derived:two",
    ]);
    d.ok(&["rmi", "derived:one", "derived:two"]);
    let out = d.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.contains("Loaded image: derived:one"), "{out}");
    // base + one layer per derived image, nothing duplicated.
    assert_eq!(snapshot_dirs(&d), 3);
    let df = api(&d, "GET", "/system/df").1;
    let base = inspect(&d, "busybox")["Size"].as_u64().unwrap();
    let images = df["Images"].as_array().unwrap();
    assert_eq!(images.len(), 3, "{df}");
    for i in images {
        assert!(i["SharedSize"].as_u64().unwrap() >= base, "{df}");
    }
    // Disk: the busybox binary exists once in the snapshots.
    let copies = std::fs::read_dir(util::image_root(&d).join("overlay/snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("fs/bin/busybox").exists())
        .count();
    assert_eq!(copies, 1);
    assert_eq!(d.ok(&["run", "--rm", "derived:two", "cat", "/b"]), "two\n");
}

#[test]
fn commit_makes_exactly_one_layer_holding_the_change() {
    let d = Daemon::start();
    let base = d.import_busybox();
    d.ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo changed > /etc/group && rm /etc/passwd",
    ]);
    let id = d
        .ok(&[
            "commit",
            "-m",
            "edit group",
            "-a",
            "tester",
            "-c",
            "CMD [\"cat\", \"/etc/group\"]",
            "c1",
            "committed:v1",
        ])
        .trim()
        .to_owned();
    let v = inspect(&d, "committed:v1");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Parent"], base.as_str());
    assert_eq!(v["Author"], "tester");
    assert_eq!(v["Comment"], "edit group");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["cat", "/etc/group"]));
    let base_layers = inspect(&d, "busybox")["RootFS"]["Layers"].clone();
    let layers = v["RootFS"]["Layers"].as_array().unwrap().clone();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0], base_layers[0]);
    assert_eq!(d.ok(&["run", "--rm", "committed:v1"]), "changed\n");
    let o = d.berth(&["run", "--rm", "committed:v1", "cat", "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(1));

    // The new layer, as saved: exactly the changed file and a whiteout for the deleted one.
    let archive = d.dir.join("c.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "committed:v1"]);
    let files = tar_files(std::fs::File::open(&archive).unwrap());
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let top = manifest[0]["Layers"][1].as_str().unwrap();
    let blob = files[top].clone();
    let entries = tar_entries(layer_reader(blob.clone()));
    let mut non_dirs: Vec<&str> = entries
        .iter()
        .filter(|(_, t)| *t != b'5')
        .map(|(p, _)| p.as_str())
        .collect();
    let dirs: Vec<&str> = entries
        .iter()
        .filter(|(_, t)| *t == b'5')
        .map(|(p, _)| p.trim_end_matches('/'))
        .collect();
    non_dirs.sort_unstable();
    assert_eq!(non_dirs, vec!["etc/.wh.passwd", "etc/group"], "{entries:?}");
    assert_eq!(dirs, vec!["etc"], "{entries:?}");
    assert_eq!(tar_files(layer_reader(blob))["etc/group"], b"changed\n");
    // Its diff id is what the config says.
    let hist = d.ok(&[
        "history",
        "--format",
        "{{.Comment}}|{{.CreatedBy}}",
        "committed:v1",
    ]);
    let first = hist.lines().next().unwrap();
    assert!(first.starts_with("edit group|sh -c echo changed"), "{hist}");
}

#[test]
fn commit_of_a_running_container_and_diff() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&["run", "-d", "--name", "live", "busybox", "sh", "-c",
        "mkdir /newdir && echo x > /newdir/f && echo y >> /etc/group && rm /etc/passwd && sleep 1000"]);
    let mut diff = String::new();
    for _ in 0..200 {
        diff = d.ok(&["diff", "live"]);
        if diff.contains("D /etc/passwd") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines: Vec<&str> = diff.lines().collect();
    for want in [
        "C /etc",
        "C /etc/group",
        "D /etc/passwd",
        "A /newdir",
        "A /newdir/f",
    ] {
        assert!(lines.contains(&want), "{want} missing in:\n{diff}");
    }
    // Running: no pause needed; the image has the file.
    d.ok(&["commit", "live", "snap:1"]);
    assert_eq!(d.ok(&["run", "--rm", "snap:1", "cat", "/newdir/f"]), "x\n");
    // The API's shape.
    let (st, v) = api(&d, "GET", "/containers/live/changes");
    assert_eq!(st, 200);
    assert!(
        v.as_array()
            .unwrap()
            .contains(&serde_json::json!({"Path": "/etc/passwd", "Kind": 2})),
        "{v}"
    );
    let o = d.berth(&["diff", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such container: nosuch"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["commit", "-c", "BOGUS x", "live"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("BOGUS"), "{}", stderr(&o));
}

#[test]
fn export_writes_the_merged_root() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "--name",
        "ex",
        "busybox",
        "sh",
        "-c",
        "echo hi > /hello && rm /etc/passwd",
    ]);
    let out = d.dir.join("ex.tar");
    d.ok(&["export", "-o", out.to_str().unwrap(), "ex"]);
    let files = tar_files(std::fs::File::open(&out).unwrap());
    assert_eq!(files["hello"], b"hi\n");
    assert!(files.contains_key("bin/busybox"));
    assert!(files.contains_key("etc/group"));
    assert!(!files.contains_key("etc/passwd"));
    assert!(
        !files.keys().any(|k| k.contains(".wh.")),
        "{:?}",
        files.keys()
    );
    // A running container's root is exported in place, to stdout.
    d.ok(&["run", "-d", "--name", "run1", "busybox", "sleep", "1000"]);
    let o = d.berth(&["export", "run1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files = tar_files(&o.stdout[..]);
    assert!(files.contains_key("etc/passwd"));
    let o = d.berth(&[
        "export",
        "-o",
        d.dir.join("no.tar").to_str().unwrap(),
        "nosuch",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.dir.join("no.tar").exists());
}

#[test]
fn tag_history_and_images_columns() {
    let d = Daemon::start();
    let id = d.import_busybox();
    let short = &id[7..19];
    assert_eq!(d.ok(&["tag", "busybox", "localhost:5000/team/app:v2"]), "");
    d.ok(&["image", "tag", short, "other"]);
    let images = d.ok(&["images"]);
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("localhost:5000/team/app   v2 ")),
        "{images}"
    );
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("other ") && l.contains(" latest ")),
        "{images}"
    );
    let size_col = images
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    assert!(
        size_col.ends_with("MB") || size_col.ends_with("kB"),
        "{images}"
    );
    assert_eq!(d.ok(&["images", "-q"]), format!("{short}\n"));
    assert_eq!(
        d.ok(&["image", "ls", "-q", "--no-trunc"]),
        format!("{id}\n")
    );
    let filtered = d.ok(&["images", "--format", "{{.Repository}}", "other"]);
    assert_eq!(filtered, "other\n");
    let dig = d.ok(&["images", "--digests"]);
    assert!(dig.starts_with("REPOSITORY"), "{dig}");
    assert!(dig.lines().next().unwrap().contains("DIGEST"), "{dig}");
    let v = inspect(&d, "other");
    assert_eq!(v["RepoTags"].as_array().unwrap().len(), 3, "{v}");

    let o = d.berth(&["tag", "nosuch", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such image: nosuch"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["tag", "busybox", "UPPER:case"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid reference format"),
        "{}",
        stderr(&o)
    );

    let h = d.ok(&["history", "busybox"]);
    let mut lines = h.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("IMAGE          CREATED "), "{h}");
    assert!(head.contains("CREATED BY") && head.contains("SIZE") && head.contains("COMMENT"));
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(short) && row.contains("Imported from -"),
        "{h}"
    );
    assert_eq!(d.ok(&["history", "-q", "busybox"]), format!("{short}\n"));
    assert_eq!(
        d.ok(&["image", "history", "--no-trunc", "-q", "busybox"]),
        format!("{id}\n")
    );
    let (st, v) = api(&d, "GET", "/images/localhost:5000/team/app:v2/history");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v[0]["Id"], id.as_str());
    assert!(v[0]["Size"].as_u64().unwrap() > 0);
    assert_eq!(v[0]["Tags"].as_array().unwrap().len(), 3);
}

#[test]
fn prune_and_df_free_and_report_unreferenced_layers() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&[
        "run",
        "--name",
        "p1",
        "busybox",
        "sh",
        "-c",
        "head -c 300000 /bin/busybox > /big",
    ]);
    let dangling = d.ok(&["commit", "p1"]).trim().to_owned();
    d.ok(&["rm", "p1"]);
    assert_eq!(snapshot_dirs(&d), 2);
    let listed = d.ok(&["images", "-q", "--no-trunc", "--filter", "dangling=true"]);
    assert_eq!(listed, format!("{dangling}\n"));
    let blobs = blob_count(&d);
    let df = d.ok(&["system", "df"]);
    let rows: Vec<Vec<&str>> = df.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows[0],
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{df}"
    );
    assert_eq!(rows[1][..3], ["Images", "2", "0"], "{df}");
    assert!(rows[1][4].ends_with("B") && rows[1][5] == "(100%)", "{df}");
    assert_eq!(rows[2][..3], ["Containers", "0", "0"], "{df}");
    assert_eq!(rows[3][..2], ["Local", "Volumes"], "{df}");
    assert_eq!(rows[4][..2], ["Build", "Cache"], "{df}");

    let out = d.ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {dangling}")), "{out}");
    let space = out.lines().last().unwrap();
    assert!(
        space.starts_with("Total reclaimed space: ") && !space.ends_with(" 0B"),
        "{out}"
    );
    assert_eq!(snapshot_dirs(&d), 1);
    assert!(blob_count(&d) < blobs);
    assert_eq!(d.ok(&["images", "-q"]).lines().count(), 1);

    // An image a container uses survives `prune -a`; df counts it active.
    d.ok(&["run", "-d", "--name", "keep", "busybox", "sleep", "1000"]);
    d.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(d.ok(&["images", "-q"]).lines().count(), 1);
    let v = d.ok(&["system", "df", "-v"]);
    assert!(
        v.contains("Images space usage:") && v.contains("Containers space usage:"),
        "{v}"
    );
    assert!(
        v.lines()
            .any(|l| l.starts_with("busybox ") && l.trim_end().ends_with(" 1")),
        "{v}"
    );
    let (_, api_df) = api(&d, "GET", "/system/df");
    assert_eq!(api_df["Images"][0]["Containers"], 1, "{api_df}");
    assert_eq!(api_df["Volumes"], serde_json::json!([]));
    assert!(api_df["LayersSize"].as_u64().unwrap() > 0);

    // Everything unused goes with `system prune -a`.
    d.ok(&["rm", "-f", "keep"]);
    let out = d.ok(&["system", "prune", "-a", "-f"]);
    assert!(
        out.contains("Deleted Images:") && out.contains("untagged: busybox:latest"),
        "{out}"
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(snapshot_dirs(&d), 0);
    assert_eq!(blob_count(&d), 0);
    let (_, api_df) = api(&d, "GET", "/system/df");
    assert_eq!(api_df["LayersSize"], 0, "{api_df}");
}

#[test]
fn save_then_load_into_another_daemon_round_trips() {
    let d = Daemon::start();
    let id = d.import_busybox();
    let archive = d.dir.join("s.tar");
    let o = d.berth(&["save", "-o", archive.to_str().unwrap(), "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such image: nosuch"),
        "{}",
        stderr(&o)
    );
    assert!(!archive.exists());
    d.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let files = tar_files(std::fs::File::open(&archive).unwrap());
    for k in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(files.contains_key(k), "{k} missing: {:?}", files.keys());
    }
    let manifest_digest = inspect(&d, "busybox")["ManifestDigest"]
        .as_str()
        .unwrap()
        .to_owned();
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest_digest.as_str());

    let d2 = Daemon::start();
    let o = d2.berth_with_stdin(&["load"], Some(&archive));
    assert_eq!(
        stdout(&o),
        "Loaded image: busybox:latest\n",
        "{}",
        stderr(&o)
    );
    let v = inspect(&d2, "busybox");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["ManifestDigest"], manifest_digest.as_str());
    assert_eq!(d2.ok(&["run", "--rm", "busybox", "echo", "ok"]), "ok\n");
    // Garbage is refused with a clear message and leaves nothing behind.
    let junk = d2.dir.join("junk.tar");
    std::fs::write(&junk, b"not a tar archive at all").unwrap();
    let o = d2.berth(&["load", "-i", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid archive"), "{}", stderr(&o));
    assert_eq!(d2.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn docker_cli_drives_the_image_commands() {
    let Some(docker) = common::docker_cli() else {
        common::skip("docker CLI not installed");
        return;
    };
    let d = Daemon::start();
    let id = d.import_busybox();
    let ok = |args: &[&str]| {
        let o = d.docker(&docker, args);
        assert!(o.status.success(), "docker {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    ok(&["tag", "busybox", "foo/bar:1"]);
    assert_eq!(
        ok(&["image", "inspect", "-f", "{{.Id}} {{.Os}}", "foo/bar:1"]),
        format!("{id} linux\n")
    );
    assert!(ok(&["history", "busybox"]).contains("Imported from -"));
    ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo x > /x; rm /etc/passwd",
    ]);
    assert_eq!(ok(&["diff", "c1"]), "C /etc\nD /etc/passwd\nA /x\n");
    let new = ok(&["commit", "-m", "hi", "-c", "ENV Z=1", "c1", "com:1"]);
    assert!(ok(&["history", "com:1"]).contains(" hi\n"));
    let archive = d.dir.join("com.tar");
    ok(&["save", "-o", archive.to_str().unwrap(), "com:1"]);
    ok(&["rm", "c1"]);
    ok(&["rmi", "com:1"]);
    assert_eq!(
        ok(&["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: com:1\n"
    );
    assert_eq!(ok(&["image", "inspect", "-f", "{{.Id}}", "com:1"]), new);
    assert!(ok(&["system", "df"]).starts_with("TYPE "));
    let pruned = ok(&["image", "prune", "-a", "-f"]);
    assert!(
        pruned.contains(&format!("deleted: {}", new.trim())),
        "{pruned}"
    );
    assert_eq!(ok(&["images", "-q"]), "");
}
