//! One behaviour suite for both snapshotters. Every function here takes the
//! [`SnapshotterKind`] and checks what a caller (the image store, the engine) relies on,
//! whichever implementation sits underneath: layers unpacked once and verified, parent chains,
//! whiteouts and opaque directories as a container sees them through its mount, containers
//! isolated from their layers and from each other, removal refused while something sits on a
//! snapshot, sizes, and garbage collection. The macro at the end runs each function once per
//! kind; what only one kind does (overlay's whiteout devices, copy's full trees) stays in
//! `tests.rs`.
//!
//! Cases that mount need root: without it they skip with a note, or fail when
//! `BERTH_REQUIRE_ALL=1` (CI, which runs as root), so they cannot pass by skipping there.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::tests::MountGuard;
use super::*;
use crate::layer::tests::Tb;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let required = std::env::var_os("BERTH_REQUIRE_ALL").is_some_and(|v| v == "1");
    assert!(
        root || !required,
        "needs root, and BERTH_REQUIRE_ALL=1: this test must run here"
    );
    if !root {
        eprintln!("skipped: mounting needs root");
    }
    root
}

/// Unpack `tars` as a chain of layers and return the chain ids.
pub(super) fn stack(s: &Snapshotter, tars: &[Vec<u8>]) -> Vec<Digest> {
    let diffs: Vec<Digest> = tars.iter().map(|t| Digest::sha256_of(t)).collect();
    let chain = chain_ids(&diffs);
    for (i, t) in tars.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| &chain[p]);
        assert!(s
            .unpack_layer(parent, &chain[i], &diffs[i], &t[..], None)
            .unwrap());
    }
    chain
}

/// Base `etc/{a,b}` and `d/old`; then `etc/a` whited out and `etc/b` replaced; then `d`
/// made opaque with `d/new` in it.
pub(super) fn three_layers() -> Vec<Vec<u8>> {
    vec![
        Tb::default()
            .dir("etc/")
            .file("etc/a", b"a")
            .file("etc/b", b"b1")
            .dir("d/")
            .file("d/old", b"o")
            .bytes(),
        Tb::default()
            .dir("etc/")
            .file("etc/.wh.a", b"")
            .file("etc/b", b"b2")
            .bytes(),
        Tb::default()
            .dir("d/")
            .file("d/.wh..wh..opq", b"")
            .file("d/new", b"n")
            .bytes(),
    ]
}

/// What a root on top of all of [`three_layers`] shows.
pub(super) fn check_merged(root: &Path) {
    assert!(!root.join("etc/a").exists(), "whiteout hides etc/a");
    assert_eq!(fs::read(root.join("etc/b")).unwrap(), b"b2");
    assert!(!root.join("d/old").exists(), "opaque dir hides d/old");
    assert_eq!(fs::read(root.join("d/new")).unwrap(), b"n");
    let names = |d: &str| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(root.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // No whiteout markers or devices leak into a listing.
    assert_eq!(names("etc"), ["b"]);
    assert_eq!(names("d"), ["new"]);
}

/// Prepare a container on `top`, mount its root under `tmp`, and return the mount point
/// with the guard that unmounts it.
fn mounted(
    s: &Snapshotter,
    tmp: &Path,
    container: &str,
    top: Option<&Digest>,
) -> (PathBuf, MountGuard) {
    let m = s.prepare(container, top).unwrap();
    let target = tmp.join(format!("mnt-{container}"));
    fs::create_dir(&target).unwrap();
    m.mount(&target).unwrap();
    (target.clone(), MountGuard(target))
}

fn snapshot_dirs(root: &Path) -> usize {
    fs::read_dir(root.join("snapshots")).unwrap().count()
}

fn layers_are_unpacked_once_and_verified(kind: SnapshotterKind) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), kind).unwrap();
    let tars = three_layers();
    let chain = stack(&s, &tars);
    let diff = Digest::sha256_of(&tars[0]);
    assert!(
        !s.unpack_layer(None, &chain[0], &diff, &b"not read"[..], None)
            .unwrap(),
        "already there"
    );
    assert_eq!(snapshot_dirs(tmp.path()), 3);
    // A tar that does not match its diff id is refused and leaves nothing.
    let other = Digest::sha256_of(b"x");
    let err = s
        .unpack_layer(None, &other, &other, &tars[0][..], None)
        .unwrap_err();
    assert!(matches!(err, SnapshotError::DiffIdMismatch { .. }));
    // So does a blob that its caller's own check (the registry's digest) rejects.
    let d = Digest::sha256_of(&tars[0]);
    let id = chain_ids(&[d.clone(), d.clone()])[1].clone();
    let refused = s.unpack_layer_verified(Some(&chain[0]), &id, &d, &tars[0][..], None, |_| {
        Err(SnapshotError::NotFound("bad digest".into()))
    });
    assert!(matches!(refused, Err(SnapshotError::NotFound(_))));
    assert!(!s.has_layer(&id));
    assert_eq!(snapshot_dirs(tmp.path()), 3);
    assert_eq!(fs::read_dir(tmp.path().join("l")).unwrap().count(), 3);
    // Reopening sees the same table.
    let again = Snapshotter::new(tmp.path(), kind).unwrap();
    assert_eq!(again.chain(&chain[2]).unwrap().len(), 3);
    assert!(again.layer_dir(&chain[1]).unwrap().is_dir());
}

fn chains_link_each_layer_to_its_parent(kind: SnapshotterKind) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), kind).unwrap();
    let chain = stack(&s, &three_layers());
    let walked: Vec<(Digest, Option<Digest>)> = s
        .chain(&chain[2])
        .unwrap()
        .into_iter()
        .map(|(c, r)| (c, r.parent))
        .collect();
    assert_eq!(
        walked,
        [
            (chain[2].clone(), Some(chain[1].clone())),
            (chain[1].clone(), Some(chain[0].clone())),
            (chain[0].clone(), None),
        ]
    );
    let unknown = Digest::sha256_of(b"unknown");
    assert!(matches!(s.chain(&unknown), Err(SnapshotError::NotFound(_))));
    assert!(matches!(
        s.prepare("c", Some(&unknown)),
        Err(SnapshotError::NotFound(_))
    ));
    let tar = Tb::default().file("x", b"x").bytes();
    let d = Digest::sha256_of(&tar);
    let orphan = s.unpack_layer(Some(&unknown), &d, &d, &tar[..], None);
    assert!(matches!(orphan, Err(SnapshotError::NotFound(_))));
    assert_eq!(snapshot_dirs(tmp.path()), 3, "refusals leave nothing");
}

/// Each level of the chain, mounted, shows the layers up to it and nothing above.
fn mounts_show_each_level_of_the_chain(kind: SnapshotterKind) {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path().join("store"), kind).unwrap();
    let chain = stack(&s, &three_layers());
    let (base, _g0) = mounted(&s, tmp.path(), "base", Some(&chain[0]));
    assert_eq!(fs::read(base.join("etc/a")).unwrap(), b"a");
    assert_eq!(fs::read(base.join("etc/b")).unwrap(), b"b1");
    let (mid, _g1) = mounted(&s, tmp.path(), "mid", Some(&chain[1]));
    assert!(!mid.join("etc/a").exists());
    assert_eq!(fs::read(mid.join("etc/b")).unwrap(), b"b2");
    assert_eq!(fs::read(mid.join("d/old")).unwrap(), b"o");
    assert!(!mid.join("d/new").exists());
    let (top, _g2) = mounted(&s, tmp.path(), "top", Some(&chain[2]));
    check_merged(&top);
    let (empty, _g3) = mounted(&s, tmp.path(), "empty", None);
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 0);
    fs::write(empty.join("f"), b"f").unwrap();
}

/// Writes in a container land in its own writable directory: not in the layers, not in a
/// sibling on the same layers; a deletion there is a whiteout for it alone.
fn containers_write_only_to_their_own_snapshot(kind: SnapshotterKind) {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path().join("store"), kind).unwrap();
    let chain = stack(&s, &three_layers());
    let (one, _g1) = mounted(&s, tmp.path(), "one", Some(&chain[2]));
    let (two, g2) = mounted(&s, tmp.path(), "two", Some(&chain[2]));
    fs::write(one.join("etc/c"), b"c").unwrap();
    fs::write(one.join("etc/b"), b"changed").unwrap();
    fs::remove_file(one.join("d/new")).unwrap();
    assert_eq!(
        fs::read(s.upper_dir("one").unwrap().join("etc/c")).unwrap(),
        b"c"
    );
    check_merged(&two);
    assert!(!two.join("etc/c").exists());
    assert!(!one.join("d/new").exists());
    drop(g2);
    let (three, _g3) = mounted(&s, tmp.path(), "three", Some(&chain[2]));
    check_merged(&three);
    assert!(matches!(
        s.prepare("one", Some(&chain[2])),
        Err(SnapshotError::Exists(_))
    ));
}

/// A container's snapshot goes with everything in it; its name can then be used again.
fn removing_a_container_frees_its_snapshot(kind: SnapshotterKind) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), kind).unwrap();
    let chain = stack(&s, &three_layers());
    s.prepare("c", Some(&chain[2])).unwrap();
    let upper = s.upper_dir("c").unwrap();
    fs::create_dir_all(&upper).unwrap();
    fs::write(upper.join("scratch"), b"x").unwrap();
    s.remove_container("c").unwrap();
    assert!(!upper.exists());
    assert!(matches!(s.container("c"), Err(SnapshotError::NotFound(_))));
    assert!(matches!(
        s.remove_container("c"),
        Err(SnapshotError::NotFound(_))
    ));
    assert_eq!(snapshot_dirs(tmp.path()), 3);
    s.prepare("c", Some(&chain[2])).unwrap();
    assert!(!s.upper_dir("c").unwrap().join("scratch").exists());
}

/// A layer with a child layer or a container on it cannot be removed; once they are gone it
/// can, top down.
fn removing_a_layer_with_children_is_refused(kind: SnapshotterKind) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), kind).unwrap();
    let chain = stack(&s, &three_layers());
    s.prepare("c", Some(&chain[2])).unwrap();
    for c in &chain {
        assert!(
            matches!(s.remove_layer(c), Err(SnapshotError::InUse(_))),
            "{c} has a child"
        );
    }
    assert_eq!(snapshot_dirs(tmp.path()), 4, "refusals remove nothing");
    s.remove_container("c").unwrap();
    for c in chain.iter().rev() {
        s.remove_layer(c).unwrap();
        assert!(!s.has_layer(c));
    }
    assert!(matches!(
        s.remove_layer(&chain[0]),
        Err(SnapshotError::NotFound(_))
    ));
    assert_eq!(snapshot_dirs(tmp.path()), 0);
    assert_eq!(fs::read_dir(tmp.path().join("l")).unwrap().count(), 0);
}

/// A layer's recorded size counts at least its own files, and gc reports the recorded sizes
/// of what it removed as the bytes freed.
fn usage_is_recorded_and_reported_by_gc(kind: SnapshotterKind) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), kind).unwrap();
    let big = Tb::default().file("big", &[7u8; 10_000]).bytes();
    let small = Tb::default().file("small", &[1u8; 100]).bytes();
    let chain = stack(&s, &[big, small]);
    let doc = s.doc();
    let (base, top) = (&doc.layers[&chain[0]], &doc.layers[&chain[1]]);
    assert!(base.size >= 10_000, "{}", base.size);
    assert!(top.size >= 100, "{}", top.size);
    let (freed, removed) = s.gc(&HashSet::new()).unwrap();
    assert_eq!(removed, 2);
    assert_eq!(freed, base.size + top.size);
}

fn gc_keeps_live_chains_and_containers(kind: SnapshotterKind) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), kind).unwrap();
    let chain = stack(&s, &three_layers());
    let other = stack(&s, &[Tb::default().file("x", b"x").bytes()]);
    let kept = stack(&s, &[Tb::default().file("k", b"k").bytes()]);
    s.prepare("c", Some(&chain[1])).unwrap();
    fs::create_dir_all(tmp.path().join("snapshots/999/fs")).unwrap(); // crash debris
    let keep: HashSet<Digest> = kept.iter().cloned().collect();
    let (_, removed) = s.gc(&keep).unwrap();
    assert_eq!(removed, 2, "chain[2] and the unrelated layer go");
    assert!(s.has_layer(&chain[0]) && s.has_layer(&chain[1]) && s.has_layer(&kept[0]));
    assert!(!s.has_layer(&chain[2]) && !s.has_layer(&other[0]));
    assert!(!tmp.path().join("snapshots/999").exists());
    assert!(s.upper_dir("c").is_ok());
    s.remove_container("c").unwrap();
    s.gc(&HashSet::new()).unwrap();
    assert_eq!(snapshot_dirs(tmp.path()), 0);
    assert_eq!(fs::read_dir(tmp.path().join("l")).unwrap().count(), 0);
}

/// Runs each behaviour once per snapshotter kind, as `behaviour::<kind>::<name>`.
macro_rules! for_each_kind {
    ($($name:ident),* $(,)?) => {
        mod overlay {
            $(#[test] fn $name() { super::$name(super::SnapshotterKind::Overlay) })*
        }
        mod copy {
            $(#[test] fn $name() { super::$name(super::SnapshotterKind::Copy) })*
        }
    };
}

for_each_kind!(
    layers_are_unpacked_once_and_verified,
    chains_link_each_layer_to_its_parent,
    mounts_show_each_level_of_the_chain,
    containers_write_only_to_their_own_snapshot,
    removing_a_container_frees_its_snapshot,
    removing_a_layer_with_children_is_refused,
    usage_is_recorded_and_reported_by_gc,
    gc_keeps_live_chains_and_containers,
);
