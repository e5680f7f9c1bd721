//! Idmapped mounts against the real kernel (as root): image files read as the remapped ids,
//! the layers on disk stay untouched; both the fd and the attached-path overlay paths.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::*;
use crate::snapshot::tests::MountGuard;
use crate::snapshot::{Snapshotter, SnapshotterKind};

const BASE: u32 = 3_100_000;

fn map() -> OwnedFd {
    let m = [IdMapping {
        container: 0,
        host: BASE,
        size: 65536,
    }];
    userns_fd(&m, &m).unwrap()
}

/// A layer with a root-owned file and one owned by 1000, as an overlay snapshotter holds it.
fn store(kind: SnapshotterKind) -> (tempfile::TempDir, Snapshotter, Mount) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path().join("store"), kind).unwrap();
    let tar = crate::layer::tests::Tb::default()
        .dir("etc/")
        .file("etc/a", b"a")
        .bytes();
    let diff = crate::digest::Digest::sha256_of(&tar);
    s.unpack_layer(None, &diff, &diff, &tar[..], None).unwrap();
    let m = s.prepare("c1", Some(&diff)).unwrap();
    (tmp, s, m)
}

fn check(tmp: &tempfile::TempDir, s: &Snapshotter, m: &Mount) {
    let target = tmp.path().join("mnt");
    fs::create_dir(&target).unwrap();
    let ns = map();
    m.mount_idmapped(&target, ns.as_fd()).unwrap();
    let _g = MountGuard(target.clone());
    let a = fs::metadata(target.join("etc/a")).unwrap();
    assert_eq!(
        (a.uid(), a.gid()),
        (BASE, BASE),
        "image file reads as remapped root"
    );
    assert_eq!(fs::read(target.join("etc/a")).unwrap(), b"a");
    for l in m.lower_dirs() {
        let on_disk = fs::metadata(l.join("etc/a")).unwrap();
        assert_eq!(on_disk.uid(), 0, "layer untouched on disk");
    }
    if let Ok(upper) = s.upper_dir("c1") {
        if m.fs_type() == "overlay" {
            fs::write(target.join("etc/new"), b"n").unwrap();
            assert!(upper.join("etc/new").exists());
        }
    }
}

#[test]
fn userns_fd_has_the_maps() {
    let ns = map();
    // The namespace is alive as long as the fd is, though its process is gone.
    let link = fs::read_link(format!("/proc/self/fd/{}", ns.as_raw_fd())).unwrap();
    assert!(link.to_string_lossy().starts_with("user:["), "{link:?}");
}

#[test]
fn overlay_over_idmapped_layers() {
    let (tmp, s, m) = store(SnapshotterKind::Overlay);
    check(&tmp, &s, &m);
}

#[test]
fn copy_snapshot_is_bound_idmapped() {
    let (tmp, s, m) = store(SnapshotterKind::Copy);
    check(&tmp, &s, &m);
}

#[test]
fn attached_fallback_mounts_and_cleans_up() {
    let (tmp, s, m) = store(SnapshotterKind::Overlay);
    let Mount::Overlay {
        base, upper, work, ..
    } = &m
    else {
        panic!("overlay expected")
    };
    let ns = map();
    let trees: Vec<OwnedFd> = m
        .lower_dirs()
        .iter()
        .map(|l| idmapped_tree(l, ns.as_fd()).unwrap())
        .collect();
    let target = tmp.path().join("mnt");
    fs::create_dir(&target).unwrap();
    mount_overlay_attached(&trees, &base.join(upper), &base.join(work), &target).unwrap();
    let _g = MountGuard(target.clone());
    assert_eq!(fs::metadata(target.join("etc/a")).unwrap().uid(), BASE);
    let left: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("idmap"))
        .collect();
    assert!(left.is_empty(), "temporary mount points removed");
    drop(s);
}
