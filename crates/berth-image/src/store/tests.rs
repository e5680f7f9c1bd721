//! Scenario tests for the image store. Mount tests mount overlay in a temp dir (root) and
//! unmount in a Drop guard.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::snapshot::unmount;

pub(crate) struct Mounted(pub(crate) PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = unmount(&self.0);
    }
}

/// A busybox rootfs tarball built from the host's static busybox.
pub(crate) fn busybox_rootfs_tar() -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    for d in ["bin", "etc", "tmp", "root"] {
        fs::create_dir(r.join(d)).unwrap();
    }
    fs::copy(busybox_path(), r.join("bin/busybox")).unwrap();
    for applet in ["sh", "ls", "cat", "echo"] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(applet)).unwrap();
    }
    fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(r.join("etc/group"), "root:x:0:\n").unwrap();
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", r).unwrap();
    b.into_inner().unwrap()
}

pub(crate) fn busybox_path() -> &'static Path {
    let p = Path::new("/bin/busybox");
    assert!(p.exists(), "install busybox-static");
    p
}

pub(crate) fn new_store(kind: SnapshotterKind) -> (tempfile::TempDir, ImageStore) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        root: tmp.path().join("root"),
        snapshotter: kind,
        platform: crate::platform::Platform::host(),
    };
    (tmp, ImageStore::open(cfg).unwrap())
}

fn mount_container(s: &ImageStore, tmp: &Path, cid: &str, image: &str) -> Mounted {
    let m = s.prepare_container(cid, image).unwrap();
    let target = tmp.join(format!("mnt-{cid}"));
    fs::create_dir_all(&target).unwrap();
    m.mount(&target).unwrap();
    Mounted(target)
}

#[test]
fn import_busybox_mount_and_run() {
    let (tmp, s) = new_store(SnapshotterKind::Overlay);
    let info = s
        .import(
            &busybox_rootfs_tar()[..],
            Some("busybox:imported"),
            &["CMD [\"sh\"]".into()],
            None,
        )
        .unwrap();
    assert_eq!(info.repo_tags, vec!["docker.io/library/busybox:imported"]);
    assert_eq!(
        s.resolve("busybox:imported").unwrap().record.id,
        info.record.id
    );
    assert_eq!(
        s.resolve(&info.record.id.hex()[..12]).unwrap().record.id,
        info.record.id
    );
    let (m, cfg) = s.manifest_and_config(&info.record.id).unwrap();
    assert_eq!(m.layers.len(), 1);
    assert_eq!(cfg.config.unwrap().cmd.unwrap(), vec!["sh"]);
    let mnt = mount_container(&s, tmp.path(), "c1", "busybox:imported");
    assert_eq!(
        fs::read_to_string(mnt.0.join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    assert_eq!(
        fs::read_link(mnt.0.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let out = Command::new("chroot")
        .arg(&mnt.0)
        .args(["/bin/sh", "-c", "cat /etc/passwd; echo ok"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "root:x:0:0:root:/root:/bin/sh\nok\n"
    );
    let h = s.history("busybox:imported").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].comment, "Imported from -");
    assert!(h[0].size > 500_000);
}

fn count_named(root: &Path, name: &str) -> usize {
    let mut n = 0;
    for ent in fs::read_dir(root).unwrap().flatten() {
        let md = fs::symlink_metadata(ent.path()).unwrap();
        if md.is_dir() {
            n += count_named(&ent.path(), name);
        } else if ent.file_name() == name && md.is_file() {
            n += 1;
        }
    }
    n
}

/// The entries of an image's top layer blob, in order.
fn top_layer_entries(s: &ImageStore, id: &crate::digest::Digest) -> Vec<(String, Vec<u8>)> {
    let (m, _) = s.manifest_and_config(id).unwrap();
    let blob = s.content().open(&m.layers.last().unwrap().digest).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), data)
        })
        .collect()
}

#[test]
fn commit_change_and_delete_makes_one_layer() {
    let (tmp, s) = new_store(SnapshotterKind::Overlay);
    let base = s
        .import(&busybox_rootfs_tar()[..], Some("bb"), &[], None)
        .unwrap();
    {
        let mnt = mount_container(&s, tmp.path(), "c1", "bb");
        fs::write(mnt.0.join("etc/passwd"), "changed\n").unwrap();
        fs::remove_file(mnt.0.join("etc/group")).unwrap();
        fs::write(mnt.0.join("root/new"), "n").unwrap();
    }
    let diff: Vec<String> = s
        .diff("c1")
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        diff,
        vec![
            "C /etc",
            "D /etc/group",
            "C /etc/passwd",
            "C /root",
            "A /root/new"
        ]
    );
    let opts = CommitOptions {
        message: Some("msg".into()),
        author: Some("me".into()),
        changes: vec!["ENV A=1".into()],
        ..Default::default()
    };
    let img = s.commit("c1", &opts, Some("bb:v2")).unwrap();
    assert_eq!(img.record.parent.as_ref(), Some(&base.record.id));
    let (m, cfg) = s.manifest_and_config(&img.record.id).unwrap();
    assert_eq!(m.layers.len(), 2, "exactly one new layer");
    assert_eq!(cfg.rootfs.diff_ids.len(), 2);
    assert_eq!(
        cfg.config.as_ref().unwrap().env.as_ref().unwrap(),
        &vec!["A=1".to_owned()]
    );
    let names: Vec<String> = top_layer_entries(&s, &img.record.id)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        vec!["etc/", "etc/.wh.group", "etc/passwd", "root/", "root/new"]
    );
    let hist = s.history("bb:v2").unwrap();
    assert_eq!((hist.len(), hist[0].comment.as_str()), (2, "msg"));
    assert_eq!(hist[0].id.as_ref(), Some(&img.record.id));
    // a fresh container from the new image sees the change and the deletion
    let mnt = mount_container(&s, tmp.path(), "c2", "bb:v2");
    assert_eq!(
        fs::read_to_string(mnt.0.join("etc/passwd")).unwrap(),
        "changed\n"
    );
    assert!(!mnt.0.join("etc/group").exists());
    assert!(mnt.0.join("bin/busybox").exists());
}

#[test]
fn images_sharing_a_base_keep_one_copy() {
    let (tmp, s) = new_store(SnapshotterKind::Overlay);
    s.import(&busybox_rootfs_tar()[..], Some("bb"), &[], None)
        .unwrap();
    for (cid, tag) in [("a", "one"), ("b", "two")] {
        {
            let mnt = mount_container(&s, tmp.path(), cid, "bb");
            fs::write(mnt.0.join(format!("root/{cid}")), cid).unwrap();
        }
        s.commit(cid, &CommitOptions::default(), Some(tag)).unwrap();
        s.remove_container(cid).unwrap();
    }
    let (one, two) = (s.resolve("one").unwrap(), s.resolve("two").unwrap());
    let c1 = s
        .snapshots()
        .chain(one.record.top_layer.as_ref().unwrap())
        .unwrap();
    let c2 = s
        .snapshots()
        .chain(two.record.top_layer.as_ref().unwrap())
        .unwrap();
    assert_eq!(c1[1].0, c2[1].0, "same base chain id");
    assert_eq!(c1[1].1.id, c2[1].1.id, "same base snapshot dir");
    assert_eq!(
        count_named(&s.root().join("overlay/snapshots"), "busybox"),
        1,
        "busybox unpacked once"
    );
    assert_eq!(s.snapshots().doc().layers.len(), 3);
    let du = s.disk_usage().unwrap();
    let shared = du
        .images
        .iter()
        .find(|i| i.id == one.record.id)
        .unwrap()
        .shared_size;
    assert!(shared > 500_000, "base layer counted as shared: {shared}");
}

#[test]
fn tag_rmi_prune() {
    let (tmp, s) = new_store(SnapshotterKind::Overlay);
    let img = s
        .import(&busybox_rootfs_tar()[..], Some("bb"), &[], None)
        .unwrap();
    s.tag("bb", "other:1").unwrap();
    assert_eq!(
        s.rmi("other:1", false).unwrap(),
        vec![RmiEvent::Untagged("docker.io/library/other:1".into())]
    );
    s.tag("bb", "other:1").unwrap();
    assert!(matches!(
        s.rmi(&img.record.id.to_string(), false),
        Err(StoreError::Conflict(_))
    ));
    drop(mount_container(&s, tmp.path(), "user", "bb"));
    assert!(
        matches!(s.rmi("other:1", false), Ok(ref e) if e.len() == 1),
        "untag is fine while in use"
    );
    assert!(
        matches!(s.rmi("bb", false), Err(StoreError::Conflict(_))),
        "last tag of an image in use"
    );
    assert!(s.prune(true).unwrap().images_deleted.is_empty(), "in use");
    s.remove_container("user").unwrap();
    let dangling = s
        .import(&busybox_rootfs_tar()[..], None, &["CMD x".into()], None)
        .unwrap();
    let r = s.prune(false).unwrap();
    assert_eq!(r.images_deleted, vec![dangling.record.id]);
    let r = s.prune(true).unwrap();
    assert_eq!(r.images_deleted, vec![img.record.id]);
    assert!(r.snapshots_deleted >= 1 && r.space_reclaimed > 0);
    assert!(s.content().walk().unwrap().is_empty());
    assert!(s.images().is_empty());
}

#[test]
fn copy_snapshotter_commit_and_diff() {
    let (_tmp, s) = new_store(SnapshotterKind::Copy);
    s.import(&busybox_rootfs_tar()[..], Some("bb"), &[], None)
        .unwrap();
    s.prepare_container("c", "bb").unwrap();
    let root = s.snapshots().upper_dir("c").unwrap();
    fs::write(root.join("root/new"), "n").unwrap();
    fs::remove_file(root.join("etc/group")).unwrap();
    let diff: Vec<String> = s
        .diff("c")
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        diff,
        vec!["C /etc", "D /etc/group", "C /root", "A /root/new"]
    );
    let img = s
        .commit("c", &CommitOptions::default(), Some("bb:2"))
        .unwrap();
    let names: Vec<String> = top_layer_entries(&s, &img.record.id)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, vec!["etc/", "etc/.wh.group", "root/", "root/new"]);
    s.prepare_container("c2", "bb:2").unwrap();
    let r2 = s.snapshots().upper_dir("c2").unwrap();
    assert!(r2.join("root/new").exists() && !r2.join("etc/group").exists());
}

#[test]
fn filters() {
    let (_tmp, s) = new_store(SnapshotterKind::Overlay);
    s.import(
        &busybox_rootfs_tar()[..],
        Some("localhost/app/web:1"),
        &[],
        None,
    )
    .unwrap();
    s.import(&busybox_rootfs_tar()[..], None, &["CMD y".into()], None)
        .unwrap();
    let imgs = s.images();
    let tagged = imgs.iter().find(|i| !i.is_dangling()).unwrap();
    assert_eq!(imgs.iter().filter(|i| i.is_dangling()).count(), 1);
    for p in [
        "localhost/app/web",
        "localhost/app/web:1",
        "localhost/app/*",
        "localhost/*/web:*",
    ] {
        assert!(tagged.matches_reference(p), "{p}");
    }
    for p in ["web", "localhost/*", "other/*"] {
        assert!(!tagged.matches_reference(p), "{p}");
    }
}

#[test]
fn reopen_keeps_metadata() {
    let (tmp, s) = new_store(SnapshotterKind::Overlay);
    let img = s
        .import(&busybox_rootfs_tar()[..], Some("bb"), &[], None)
        .unwrap();
    let cfg2 = StoreConfig {
        root: tmp.path().join("root"),
        snapshotter: SnapshotterKind::Overlay,
        platform: crate::platform::Platform::host(),
    };
    assert!(
        matches!(ImageStore::open(cfg2), Err(StoreError::Conflict(_))),
        "second instance refused"
    );
    let mut w = s.content().writer(None, None).unwrap();
    std::io::Write::write_all(&mut w, b"half a blob").unwrap();
    std::mem::forget(w); // simulate a crash mid-ingest: the temp file stays
    assert_eq!(
        fs::read_dir(tmp.path().join("root/content/ingest"))
            .unwrap()
            .count(),
        1
    );
    drop(s);
    let cfg = StoreConfig {
        root: tmp.path().join("root"),
        snapshotter: SnapshotterKind::Overlay,
        platform: crate::platform::Platform::host(),
    };
    let s = ImageStore::open(cfg).unwrap();
    assert_eq!(s.resolve("bb").unwrap().record, img.record);
    assert_eq!(
        fs::read_dir(tmp.path().join("root/content/ingest"))
            .unwrap()
            .count(),
        0,
        "stale ingest removed"
    );
}
