//! Archive round trips, foreign formats, and interop with podman/skopeo when installed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use crate::digest::Digest;
use crate::manifest::Index;
use crate::snapshot::SnapshotterKind;
use crate::store::tests::{busybox_rootfs_tar, new_store, Mounted};
use crate::store::{CommitOptions, ImageStore};

fn tar_entries(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut a = tar::Archive::new(data);
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        out.insert(e.path().unwrap().to_string_lossy().into_owned(), v);
    }
    out
}

/// A store with `bb` (imported) and `bb:2` (one committed layer on top).
fn two_layer_store() -> (tempfile::TempDir, ImageStore) {
    let (tmp, s) = new_store(SnapshotterKind::Overlay);
    s.import(&busybox_rootfs_tar()[..], Some("bb"), &[], None)
        .unwrap();
    s.prepare_container("c", "bb").unwrap();
    fs::write(
        s.snapshots().upper_dir("c").unwrap().join("added"),
        b"hello",
    )
    .unwrap();
    s.commit(
        "c",
        &CommitOptions {
            message: Some("add".into()),
            ..Default::default()
        },
        Some("bb:2"),
    )
    .unwrap();
    s.remove_container("c").unwrap();
    (tmp, s)
}

#[test]
fn save_has_docker_and_oci_entries() {
    let (_tmp, s) = two_layer_store();
    let mut out = Vec::new();
    s.save(&["bb:2"], &mut out).unwrap();
    let e = tar_entries(&out);
    for f in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(e.contains_key(f), "{f} missing");
    }
    let dm: serde_json::Value = serde_json::from_slice(&e["manifest.json"]).unwrap();
    assert_eq!(dm[0]["RepoTags"][0], "bb:2");
    for l in dm[0]["Layers"].as_array().unwrap() {
        let data = &e[l.as_str().unwrap()];
        let name = l.as_str().unwrap().rsplit('/').next().unwrap();
        assert_eq!(
            Digest::sha256_of(data).hex(),
            name,
            "layer blob matches its name"
        );
    }
    let info = s.resolve("bb:2").unwrap();
    assert!(e.contains_key(&format!("{}.json", info.record.id.hex())));
    let idx: Index = serde_json::from_slice(&e["index.json"]).unwrap();
    assert_eq!(idx.manifests[0].digest, info.record.manifest_digest);
    assert_eq!(
        idx.manifests[0].annotations["io.containerd.image.name"],
        "docker.io/library/bb:2"
    );
}

#[test]
fn save_load_roundtrip_keeps_digests() {
    let (_tmp, s) = two_layer_store();
    let mut out = Vec::new();
    s.save(&["bb", "bb:2"], &mut out).unwrap();
    let (tmp2, s2) = new_store(SnapshotterKind::Overlay);
    let loaded = s2.load(&out[..]).unwrap();
    assert_eq!(loaded.len(), 2);
    for name in ["bb", "bb:2"] {
        let (a, b) = (s.resolve(name).unwrap(), s2.resolve(name).unwrap());
        assert_eq!(a.record.id, b.record.id, "{name} config digest");
        assert_eq!(
            a.record.manifest_digest, b.record.manifest_digest,
            "{name} manifest digest"
        );
        assert_eq!(a.record.top_layer, b.record.top_layer);
    }
    assert_eq!(
        s2.snapshots().doc().layers.len(),
        2,
        "base layer shared after load"
    );
    let m = s2.prepare_container("x", "bb:2").unwrap();
    let target = tmp2.path().join("mnt");
    fs::create_dir(&target).unwrap();
    m.mount(&target).unwrap();
    let g = Mounted(target);
    assert_eq!(fs::read(g.0.join("added")).unwrap(), b"hello");
    assert!(g.0.join("bin/busybox").exists());
    // loading again is idempotent
    assert_eq!(s2.load(&out[..]).unwrap().len(), 2);
}

#[test]
fn loads_oci_layout_directory() {
    let (tmp, s) = two_layer_store();
    let mut out = Vec::new();
    s.save(&["bb:2"], &mut out).unwrap();
    let dir = tmp.path().join("layout");
    fs::create_dir(&dir).unwrap();
    tar::Archive::new(&out[..]).unpack(&dir).unwrap(); // trusted: our own archive, test only
    let (_t2, s2) = new_store(SnapshotterKind::Overlay);
    let loaded = s2.load_oci_layout(&dir).unwrap();
    assert_eq!(
        loaded[0].manifest_digest,
        s.resolve("bb:2").unwrap().record.manifest_digest
    );
    assert_eq!(loaded[0].image.repo_tags, vec!["docker.io/library/bb:2"]);
}

fn legacy_archive(symlinked: bool) -> (Vec<u8>, Digest) {
    let layer = crate::layer::tests::Tb::default()
        .dir("etc/")
        .file("etc/legacy", b"old docker")
        .bytes();
    let diff = Digest::sha256_of(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"],"Healthcheck":{{"Test":["NONE"]}}}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}},"docker_version":"20.10"}}"#
    );
    let cid = Digest::sha256_of(config.as_bytes());
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, data).unwrap();
    };
    let layer_path = "abc123/layer.tar";
    if symlinked {
        add(&format!("blobs/sha256/{}", diff.hex()), &layer);
    } else {
        add(layer_path, &layer);
    }
    add(&format!("{}.json", cid.hex()), config.as_bytes());
    add(
        "manifest.json",
        format!(
            r#"[{{"Config":"{}.json","RepoTags":["legacy:1"],"Layers":["{layer_path}"]}}]"#,
            cid.hex()
        )
        .as_bytes(),
    );
    if symlinked {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(
            &mut h,
            layer_path,
            format!("../blobs/sha256/{}", diff.hex()),
        )
        .unwrap();
    }
    (b.into_inner().unwrap(), cid)
}

#[test]
fn loads_legacy_docker_save() {
    for symlinked in [false, true] {
        let (data, cid) = legacy_archive(symlinked);
        let (_t, s) = new_store(SnapshotterKind::Overlay);
        let loaded = s.load(&data[..]).unwrap();
        assert_eq!(
            loaded[0].image.record.id, cid,
            "image id is the config digest (config kept byte for byte)"
        );
        assert_eq!(
            loaded[0].image.repo_tags,
            vec!["docker.io/library/legacy:1"]
        );
        let (_, cfg) = s.manifest_and_config(&cid).unwrap();
        assert!(cfg.config.unwrap().healthcheck.is_some());
        let top = loaded[0].image.record.top_layer.clone().unwrap();
        assert_eq!(
            fs::read(s.snapshots().layer_dir(&top).unwrap().join("etc/legacy")).unwrap(),
            b"old docker"
        );
    }
}

#[test]
fn load_rejects_tampered_blob() {
    let (_tmp, s) = two_layer_store();
    let mut out = Vec::new();
    s.save(&["bb"], &mut out).unwrap();
    let layer = s
        .manifest_and_config(&s.resolve("bb").unwrap().record.id)
        .unwrap()
        .0
        .layers[0]
        .digest
        .clone();
    // flip one byte inside the layer blob's data
    let mut a = tar::Archive::new(&out[..]);
    let mut offset = None;
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().ends_with(layer.hex()) {
            offset = Some(e.raw_file_position() as usize + 100);
        }
    }
    out[offset.unwrap()] ^= 0xff;
    let (_t2, s2) = new_store(SnapshotterKind::Overlay);
    let err = s2.load(&out[..]).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(s2.images().is_empty());
}

#[test]
fn export_container_root() {
    let (_tmp, s) = two_layer_store();
    s.prepare_container("e", "bb:2").unwrap();
    fs::remove_file(s.snapshots().upper_dir("e").unwrap().join("added")).ok();
    let mut out = Vec::new();
    s.export_container("e", &mut out).unwrap();
    let e = tar_entries(&out);
    assert!(
        e.contains_key("bin/busybox") && e.contains_key("etc/passwd") && e.contains_key("added")
    );
    // re-import of the export gives an equivalent one-layer image
    let img = s.import(&out[..], Some("reimported"), &[], None).unwrap();
    assert_eq!(
        s.manifest_and_config(&img.record.id)
            .unwrap()
            .0
            .layers
            .len(),
        1
    );
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn podman_loads_our_save() {
    if !have("podman") {
        eprintln!("podman not installed: skipping");
        return;
    }
    let (tmp, s) = two_layer_store();
    let file = tmp.path().join("save.tar");
    s.save(&["bb:2"], fs::File::create(&file).unwrap()).unwrap();
    let root = tmp.path().join("podman-root");
    let podman = |args: &[&str]| {
        let out = Command::new("podman")
            .arg("--root")
            .arg(root.join("storage"))
            .arg("--runroot")
            .arg(root.join("run"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    podman(&["load", "-i", file.to_str().unwrap()]);
    let listed = podman(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    let id = s.resolve("bb:2").unwrap().record.id;
    assert!(
        listed
            .lines()
            .any(|l| l.ends_with(&id.to_string()) || l.ends_with(id.hex())),
        "podman images: {listed}"
    );
    assert!(listed.contains("bb:2"), "podman images: {listed}");
}

fn index_digest(archive: &Path) -> Digest {
    let data = fs::read(archive).unwrap();
    let idx: Index = serde_json::from_slice(&tar_entries(&data)["index.json"]).unwrap();
    idx.manifests[0].digest.clone()
}

#[test]
fn skopeo_oci_archive_loads_with_same_manifest_digest() {
    if !have("skopeo") {
        eprintln!("skopeo not installed: skipping");
        return;
    }
    let (tmp, s) = two_layer_store();
    let ours = tmp.path().join("ours.tar");
    s.save(&["bb:2"], fs::File::create(&ours).unwrap()).unwrap();
    for (i, src) in [
        format!("docker-archive:{}", ours.display()),
        format!("oci-archive:{}", ours.display()),
    ]
    .iter()
    .enumerate()
    {
        let dst = tmp.path().join(format!("skopeo-{i}.tar"));
        let out = Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                src,
                &format!("oci-archive:{}:latest", dst.display()),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy {src}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = index_digest(&dst);
        let (_t2, s2) = new_store(SnapshotterKind::Overlay);
        let loaded = s2.load(fs::File::open(&dst).unwrap()).unwrap();
        assert_eq!(loaded[0].manifest_digest, want, "from {src}");
        // The image id is the digest of the config bytes skopeo wrote (it re-encodes configs
        // when converting from docker-archive; from oci-archive they pass through untouched).
        let theirs = tar_entries(&fs::read(&dst).unwrap());
        let m: crate::manifest::Manifest =
            serde_json::from_slice(&theirs[&format!("blobs/sha256/{}", want.hex())]).unwrap();
        assert_eq!(
            loaded[0].image.record.id, m.config.digest,
            "image id = skopeo's config digest"
        );
        if src.starts_with("oci-archive:") {
            assert_eq!(
                loaded[0].image.record.id,
                s.resolve("bb:2").unwrap().record.id,
                "config unchanged"
            );
        }
    }
}

/// An OCI layout whose index.json points at a nested two-platform index.
fn multi_arch_layout(dir: &Path) -> (Digest, Digest) {
    use crate::manifest::{Descriptor, OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST};
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = Digest::sha256_of(data);
        fs::write(blobs.join(d.hex()), data).unwrap();
        Descriptor::new("", d, data.len() as u64)
    };
    let layer = crate::layer::tests::Tb::default()
        .file("hello", b"multi")
        .bytes();
    let mut ld = put(&layer);
    ld.media_type = OCI_LAYER_TAR.into();
    let mut entries = Vec::new();
    let mut configs = Vec::new();
    for (arch, variant) in [("arm64", Some("v8")), ("amd64", None)] {
        let cfg = format!(
            r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            ld.digest
        );
        let mut cd = put(cfg.as_bytes());
        cd.media_type = OCI_CONFIG.into();
        configs.push(cd.digest.clone());
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cd, "layers": [ld]});
        let mut md = put(&serde_json::to_vec(&m).unwrap());
        md.media_type = OCI_MANIFEST.into();
        md.platform = Some(crate::platform::Platform::new("linux", arch, variant));
        entries.push(md);
    }
    let inner =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let mut id = put(&serde_json::to_vec(&inner).unwrap());
    id.media_type = OCI_INDEX.into();
    id.annotations.insert(
        super::ANNOTATION_IMAGE_NAME.into(),
        "example.com/multi:1".into(),
    );
    let outer = serde_json::json!({"schemaVersion": 2, "manifests": [id]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&outer).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), super::OCI_LAYOUT).unwrap();
    (configs[0].clone(), configs[1].clone())
}

#[test]
fn multi_platform_index_picks_the_configured_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let (arm64, amd64) = multi_arch_layout(tmp.path());
    for (platform, want) in [("linux/amd64", amd64), ("linux/arm64", arm64)] {
        let root = tempfile::tempdir().unwrap();
        let cfg = crate::store::StoreConfig {
            root: root.path().join("r"),
            snapshotter: SnapshotterKind::Overlay,
            platform: platform.parse().unwrap(),
        };
        let s = ImageStore::open(cfg).unwrap();
        let loaded = s.load_oci_layout(tmp.path()).unwrap();
        assert_eq!(loaded[0].image.record.id, want, "{platform}");
        assert_eq!(loaded[0].image.repo_tags, vec!["example.com/multi:1"]);
    }
    let root = tempfile::tempdir().unwrap();
    let cfg = crate::store::StoreConfig {
        root: root.path().join("r"),
        snapshotter: SnapshotterKind::Overlay,
        platform: "linux/s390x".parse().unwrap(),
    };
    let err = ImageStore::open(cfg)
        .unwrap()
        .load_oci_layout(tmp.path())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no manifest for platform linux/s390x"),
        "{err}"
    );
}
