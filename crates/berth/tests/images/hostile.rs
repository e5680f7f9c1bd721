//! Hostile layers through `berth load` and `berth import`: `../` names, absolute paths,
//! symlinks out followed by writes through them, hardlinks to outside files, device nodes.
//! Each is refused with a clear error or contained in the layer; nothing outside the data
//! root changes and a refused archive leaves no image or layer behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::common::{stderr, Daemon};
use crate::util::{devices_under, docker_archive, raw_tar, snapshot_dirs, Ent};

/// A directory outside the data root holding one file the hostile layers aim at.
struct Outside(PathBuf);

impl Outside {
    fn new(case: &str) -> Outside {
        let p = std::env::temp_dir().join(format!("berth-hostile-{}-{case}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("victim"), b"secret").unwrap();
        Outside(p)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// Up from any layer directory to `/` (they are under 12 levels deep), then into this
    /// directory.
    fn dotdot(&self) -> String {
        format!(
            "{}{}",
            "../".repeat(12),
            self.path().trim_start_matches('/')
        )
    }

    fn assert_untouched(&self, what: &str) {
        let names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["victim"], "{what}: something was written outside");
        let md = fs::metadata(self.0.join("victim")).unwrap();
        assert_eq!(md.nlink(), 1, "{what}: the outside file was hard-linked");
        assert_eq!(
            fs::read(self.0.join("victim")).unwrap(),
            b"secret",
            "{what}"
        );
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Loads `layer` both as a docker archive and as an import; checks containment. Returns
/// the stderr of each refused attempt.
fn try_both(d: &Daemon, out: &Outside, case: &str, layer: &[u8]) -> Vec<String> {
    let mut refused = Vec::new();
    let archive = d.dir.join(format!("{case}.tar"));
    let layer_file = d.dir.join(format!("{case}-layer.tar"));
    fs::write(
        &archive,
        docker_archive(&[layer.to_vec()], &format!("hostile:{case}")),
    )
    .unwrap();
    fs::write(&layer_file, layer).unwrap();
    for args in [
        vec!["load", "-i", archive.to_str().unwrap()],
        vec![
            "import",
            layer_file.to_str().unwrap(),
            &format!("imported:{case}"),
        ],
    ] {
        let images = d.ok(&["images", "-q", "-a"]);
        let snaps = snapshot_dirs(d);
        let o = d.berth(&args);
        out.assert_untouched(&format!("{case} via {}", args[0]));
        assert!(
            devices_under(&d.dir).is_empty(),
            "{case}: a device node was created"
        );
        if o.status.success() {
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{case}");
        assert_eq!(
            d.ok(&["images", "-q", "-a"]),
            images,
            "{case}: partial image left"
        );
        assert_eq!(snapshot_dirs(d), snaps, "{case}: partial layer left");
        refused.push(stderr(&o));
    }
    refused
}

#[test]
fn hostile_layers_are_refused_or_contained() {
    let d = Daemon::start();

    let out = Outside::new("dotdot");
    let r = try_both(
        &d,
        &out,
        "dotdot",
        &raw_tar(&[Ent::File(&format!("{}/new", out.dotdot()), b"x")]),
    );
    assert_eq!(r.len(), 2, "`../` names must be refused");
    for e in &r {
        assert!(e.contains("escapes the layer directory"), "{e}");
    }

    let out = Outside::new("abs");
    try_both(
        &d,
        &out,
        "abs",
        &raw_tar(&[Ent::File(&format!("{}/new", out.path()), b"x")]),
    );

    let out = Outside::new("symlink");
    let r = try_both(
        &d,
        &out,
        "symlink",
        &raw_tar(&[
            Ent::Symlink("evil", out.path()),
            Ent::File("evil/new", b"x"),
            Ent::Symlink("evil2", &out.dotdot()),
            Ent::File("evil2/new2", b"x"),
        ]),
    );
    for e in &r {
        assert!(e.contains("escapes") || e.contains("evil"), "{e}");
    }

    let out = Outside::new("hardlink");
    let victim = format!("{}/victim", out.path());
    let victim_rel = format!("{}/victim", out.dotdot());
    let r = try_both(
        &d,
        &out,
        "hardlink",
        &raw_tar(&[
            Ent::Hardlink("hl", &victim),
            Ent::Hardlink("hl2", &victim_rel),
        ]),
    );
    for e in &r {
        assert!(e.contains("escapes") || e.contains("hl"), "{e}");
    }

    let out = Outside::new("device");
    let r = try_both(
        &d,
        &out,
        "device",
        &raw_tar(&[Ent::Dir("dev"), Ent::CharDev("dev/mem2", 1, 1)]),
    );
    assert_eq!(r.len(), 2, "device nodes must be refused");
    for e in &r {
        assert!(e.contains("device node"), "{e}");
    }

    // The daemon is still healthy and the good path still works.
    d.import_busybox();
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "ok"]), "ok\n");
}
