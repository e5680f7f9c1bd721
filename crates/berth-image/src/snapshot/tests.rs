//! Snapshotter tests; the mount tests really mount overlay in a temp dir (as root) and
//! unmount in a Drop guard.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::*;
use crate::layer::tests::Tb;

pub(crate) struct MountGuard(pub(crate) PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = unmount(&self.0);
    }
}

/// Unpack `tars` as a chain of layers and return the chain ids.
fn stack(s: &Snapshotter, tars: &[Vec<u8>]) -> Vec<Digest> {
    let diffs: Vec<Digest> = tars.iter().map(|t| Digest::sha256_of(t)).collect();
    let chain = chain_ids(&diffs);
    for (i, t) in tars.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| &chain[p]);
        s.unpack_layer(parent, &chain[i], &diffs[i], &t[..], None)
            .unwrap();
    }
    chain
}

fn three_layers() -> Vec<Vec<u8>> {
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

fn check_merged(root: &Path) {
    assert!(!root.join("etc/a").exists(), "whiteout hides etc/a");
    assert_eq!(fs::read(root.join("etc/b")).unwrap(), b"b2");
    assert!(!root.join("d/old").exists(), "opaque dir hides d/old");
    assert_eq!(fs::read(root.join("d/new")).unwrap(), b"n");
}

#[test]
fn chain_ids_follow_the_spec() {
    let a = Digest::sha256_of(b"a");
    let b = Digest::sha256_of(b"b");
    let c = Digest::sha256_of(b"c");
    let ids = chain_ids(&[a.clone(), b.clone(), c.clone()]);
    assert_eq!(ids[0], a);
    let ab = Digest::sha256_of(format!("{a} {b}").as_bytes());
    assert_eq!(ids[1], ab);
    assert_eq!(ids[2], Digest::sha256_of(format!("{ab} {c}").as_bytes()));
}

#[test]
fn layers_are_shared_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), SnapshotterKind::Overlay).unwrap();
    let tars = three_layers();
    let chain = stack(&s, &tars);
    let diff = Digest::sha256_of(&tars[0]);
    assert!(
        !s.unpack_layer(None, &chain[0], &diff, &b"not read"[..], None)
            .unwrap(),
        "already there"
    );
    assert_eq!(
        fs::read_dir(tmp.path().join("snapshots")).unwrap().count(),
        3
    );
    let wh = fs::symlink_metadata(s.layer_dir(&chain[1]).unwrap().join("etc/a")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    // a tar that does not match its diff id is refused and leaves nothing
    let other = Digest::sha256_of(b"x");
    let err = s
        .unpack_layer(None, &other, &other, &tars[0][..], None)
        .unwrap_err();
    assert!(matches!(err, SnapshotError::DiffIdMismatch { .. }));
    assert_eq!(
        fs::read_dir(tmp.path().join("snapshots")).unwrap().count(),
        3
    );
    assert_eq!(fs::read_dir(tmp.path().join("l")).unwrap().count(), 3);
    // reopening sees the same table
    let again = Snapshotter::new(tmp.path(), SnapshotterKind::Overlay).unwrap();
    assert_eq!(again.chain(&chain[2]).unwrap().len(), 3);
}

#[test]
fn overlay_mount_merges_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path().join("store"), SnapshotterKind::Overlay).unwrap();
    let chain = stack(&s, &three_layers());
    let m = s.prepare("c1", Some(&chain[2])).unwrap();
    assert_eq!(m.fs_type(), "overlay");
    assert_eq!(m.lower_dirs().len(), 3);
    let target = tmp.path().join("mnt");
    fs::create_dir(&target).unwrap();
    m.mount(&target).unwrap();
    let _g = MountGuard(target.clone());
    check_merged(&target);
    fs::write(target.join("etc/c"), b"c").unwrap();
    assert_eq!(
        fs::read(s.upper_dir("c1").unwrap().join("etc/c")).unwrap(),
        b"c"
    );
    assert!(matches!(
        s.prepare("c1", Some(&chain[2])),
        Err(SnapshotError::Exists(_))
    ));
}

#[test]
fn copy_snapshotter_applies_whiteouts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path().join("store"), SnapshotterKind::Copy).unwrap();
    let chain = stack(&s, &three_layers());
    check_merged(&s.layer_dir(&chain[2]).unwrap());
    assert!(
        s.layer_dir(&chain[0]).unwrap().join("etc/a").exists(),
        "parent snapshot unchanged"
    );
    let m = s.prepare("c1", Some(&chain[2])).unwrap();
    assert!(matches!(m, Mount::Bind { .. }));
    check_merged(&s.upper_dir("c1").unwrap());
    let target = tmp.path().join("mnt");
    fs::create_dir(&target).unwrap();
    m.mount(&target).unwrap();
    let _g = MountGuard(target.clone());
    check_merged(&target);
}

#[test]
fn mounts_120_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(
        tmp.path().join("store-with-a-rather-long-directory-name"),
        SnapshotterKind::Overlay,
    )
    .unwrap();
    let tars: Vec<Vec<u8>> = (0..120)
        .map(|i| {
            Tb::default()
                .file(&format!("f{i}"), format!("{i}").as_bytes())
                .bytes()
        })
        .collect();
    let chain = stack(&s, &tars);
    let m = s.prepare("many", chain.last()).unwrap();
    let opts = m.options().join(",");
    assert!(
        opts.len() < 4096,
        "relative options fit in a page: {}",
        opts.len()
    );
    let abs_len: usize = m.lower_dirs().iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(
        abs_len > 4096,
        "absolute paths alone would not fit ({abs_len})"
    );
    let target = tmp.path().join("mnt");
    fs::create_dir(&target).unwrap();
    m.mount(&target).unwrap();
    let _g = MountGuard(target.clone());
    for i in [0, 59, 119] {
        assert_eq!(
            fs::read_to_string(target.join(format!("f{i}"))).unwrap(),
            i.to_string()
        );
    }
    assert_eq!(fs::read_dir(&target).unwrap().count(), 120);
}

#[test]
fn gc_keeps_live_chains_and_containers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), SnapshotterKind::Overlay).unwrap();
    let chain = stack(&s, &three_layers());
    let other = stack(&s, &[Tb::default().file("x", b"x").bytes()]);
    s.prepare("c", Some(&chain[1])).unwrap();
    fs::create_dir_all(tmp.path().join("snapshots/999/fs")).unwrap(); // crash debris
    let (_, removed) = s.gc(&HashSet::new()).unwrap();
    assert_eq!(removed, 2, "chain[2] and the unrelated layer go");
    assert!(s.has_layer(&chain[0]) && s.has_layer(&chain[1]));
    assert!(!s.has_layer(&chain[2]) && !s.has_layer(&other[0]));
    assert!(!tmp.path().join("snapshots/999").exists());
    assert!(matches!(
        s.remove_layer(&chain[1]),
        Err(SnapshotError::InUse(_))
    ));
    s.remove_container("c").unwrap();
    s.gc(&HashSet::new()).unwrap();
    assert_eq!(
        fs::read_dir(tmp.path().join("snapshots")).unwrap().count(),
        0
    );
    assert_eq!(fs::read_dir(tmp.path().join("l")).unwrap().count(), 0);
}

#[test]
fn copy_mode_symlink_from_lower_layer_cannot_redirect_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let canary = tmp.path().join("canary");
    fs::create_dir(&canary).unwrap();
    let s = Snapshotter::new(tmp.path().join("store"), SnapshotterKind::Copy).unwrap();
    let tars = [
        Tb::default()
            .symlink("etc", canary.to_str().unwrap())
            .symlink("up", "../../../..")
            .bytes(),
        Tb::default().file("up/canary/x", b"pwned").bytes(),
    ];
    let diffs: Vec<Digest> = tars.iter().map(|t| Digest::sha256_of(t)).collect();
    let chain = chain_ids(&diffs);
    s.unpack_layer(None, &chain[0], &diffs[0], &tars[0][..], None)
        .unwrap();
    let _ = s.unpack_layer(Some(&chain[0]), &chain[1], &diffs[1], &tars[1][..], None);
    let bad = Tb::default().file("etc/passwd", b"pwned").bytes();
    let d = Digest::sha256_of(&bad);
    let _ = s.unpack_layer(
        Some(&chain[0]),
        &chain_ids(&[diffs[0].clone(), d.clone()])[1],
        &d,
        &bad[..],
        None,
    );
    assert_eq!(
        fs::read_dir(&canary).unwrap().count(),
        0,
        "nothing written through lower-layer symlinks"
    );
}
