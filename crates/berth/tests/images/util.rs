//! Helpers for the image tests: inspecting the store on disk, reading archives, crafting
//! (hostile) docker archives.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::Digest as _;

use crate::common::Daemon;

/// The image store under a test daemon's data root.
pub fn image_root(d: &Daemon) -> PathBuf {
    d.dir.join("data/image")
}

/// Number of snapshot directories (layers plus container roots).
pub fn snapshot_dirs(d: &Daemon) -> usize {
    fs::read_dir(image_root(d).join("overlay/snapshots"))
        .map(|r| r.count())
        .unwrap_or(0)
}

/// Number of blobs in the content store.
pub fn blob_count(d: &Daemon) -> usize {
    let mut n = 0;
    for alg in ["sha256", "sha512"] {
        if let Ok(r) = fs::read_dir(image_root(d).join("content/blobs").join(alg)) {
            n += r.count();
        }
    }
    n
}

/// `berth image inspect NAME` → the document.
pub fn inspect(d: &Daemon, name: &str) -> Value {
    let v: Value = serde_json::from_str(&d.ok(&["image", "inspect", name])).unwrap();
    v[0].clone()
}

/// GET an API path; returns (status, JSON body).
pub fn api(d: &Daemon, method: &str, path: &str) -> (u16, Value) {
    let raw = d.raw(method, path);
    let status: u16 = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Every regular file of a tar (by normalized path), following nothing.
pub fn tar_files(data: impl Read) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(data);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let p = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned();
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            out.insert(p, v);
        }
    }
    out
}

/// Every entry of a tar as (path, type byte).
pub fn tar_entries(data: impl Read) -> Vec<(String, u8)> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned();
            (p, e.header().entry_type().as_byte())
        })
        .collect()
}

/// A layer blob, decompressed if gzipped.
pub fn layer_reader(blob: Vec<u8>) -> Box<dyn Read> {
    if blob.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(blob)))
    } else {
        Box::new(std::io::Cursor::new(blob))
    }
}

/// `sha256:<hex>` of bytes.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// One tar entry, written with raw header fields (no path sanitising: hostile on purpose).
pub enum Ent<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    CharDev(&'a str, u32, u32),
}

fn raw_name(field: &mut [u8], s: &str) {
    assert!(s.len() < field.len(), "name too long for a raw header: {s}");
    field.fill(0);
    field[..s.len()].copy_from_slice(s.as_bytes());
}

/// A tar stream with exactly these entries.
pub fn raw_tar(entries: &[Ent]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        let (name, data): (&str, &[u8]) = match e {
            Ent::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                (n, d)
            }
            Ent::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, &[])
            }
            Ent::Symlink(n, t) | Ent::Hardlink(n, t) => {
                h.set_entry_type(if matches!(e, Ent::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                raw_name(&mut h.as_old_mut().linkname, t);
                (n, &[])
            }
            Ent::CharDev(n, maj, min) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                (n, &[])
            }
        };
        raw_name(&mut h.as_old_mut().name, name);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A docker-save archive holding one image made of `layers`, tagged `tag`.
pub fn docker_archive(layers: &[Vec<u8>], tag: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string();
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    let manifest = serde_json::json!([{
        "Config": "config.json", "RepoTags": [tag], "Layers": names,
    }])
    .to_string();
    let mut b = tar::Builder::new(Vec::new());
    let mut put = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    };
    put("config.json", config.as_bytes());
    for (n, l) in names.iter().zip(layers) {
        put(n, l);
    }
    put("manifest.json", manifest.as_bytes());
    b.into_inner().unwrap()
}

/// Char or block devices under `root` other than overlay whiteouts (0:0), following no
/// symlinks.
pub fn devices_under(root: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(md) = fs::symlink_metadata(&p) else {
            continue;
        };
        let ft = md.file_type();
        if (ft.is_char_device() || ft.is_block_device()) && md.rdev() != 0 {
            out.push(p.clone());
        }
        if ft.is_dir() {
            if let Ok(r) = fs::read_dir(&p) {
                stack.extend(r.flatten().map(|e| e.path()));
            }
        }
    }
    out
}
