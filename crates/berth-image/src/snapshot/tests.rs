//! Snapshotter tests of what only one kind does (the shared behaviour is in `behaviour.rs`);
//! the mount tests really mount overlay in a temp dir (as root) and
//! unmount in a Drop guard.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use super::behaviour::{check_merged, stack, three_layers};
use super::*;
use crate::layer::tests::Tb;

pub(crate) struct MountGuard(pub(crate) PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = unmount(&self.0);
    }
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

/// Overlay keeps each layer alone on disk, with whiteouts in overlayfs' format (a 0:0
/// character device) for the kernel to apply at mount time.
#[test]
fn overlay_layers_hold_only_their_own_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::new(tmp.path(), SnapshotterKind::Overlay).unwrap();
    let chain = stack(&s, &three_layers());
    let mid = s.layer_dir(&chain[1]).unwrap();
    let wh = fs::symlink_metadata(mid.join("etc/a")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert!(
        !mid.join("d").exists(),
        "the base layer's files stay in the base"
    );
    let m = s.prepare("c1", Some(&chain[2])).unwrap();
    assert_eq!(m.fs_type(), "overlay");
    assert_eq!(m.lower_dirs().len(), 3);
}

/// The copy snapshotter keeps every layer as the full merged tree (whiteouts applied), and a
/// container's root is a copy bound in place; the parent's tree is not changed by its child.
#[test]
fn copy_layers_are_full_trees() {
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
