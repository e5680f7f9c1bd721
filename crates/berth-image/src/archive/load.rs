//! `load`: docker-save archives (legacy and docker 25+), OCI archives and OCI layout
//! directories, read in one streaming pass.
//!
//! Entries under `blobs/<alg>/<hex>` go straight into the content store, verified against
//! the digest their name claims; legacy `*/layer.tar` files are ingested and named by their
//! digest; small JSON documents are kept in memory; symlinks are remembered (docker 25 links
//! legacy paths to blobs). Afterwards `index.json` (OCI) and/or `manifest.json` (docker) decide
//! which images to create. The archive is never extracted to disk.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::config::ImageConfig;
use crate::digest::{Algorithm, Digest};
use crate::layer::Compression;
use crate::manifest::{self, Descriptor, Index};
use crate::reference::Reference;
use crate::store::{ImageInfo, ImageStore, StoreError};

const SMALL_FILE: u64 = 32 << 20;
/// All small files held in memory together (docker's manifests and configs are kilobytes): past
/// this, small files go to the content store like blobs, so an archive of many of them cannot
/// grow the daemon.
const SMALL_TOTAL: u64 = 64 << 20;
/// The largest GNU long-name or PAX header accepted (the tar parser holds it in memory).
const EXTENSION_MAX: u64 = 1 << 20;
/// Entries of one archive: each costs an index entry in memory.
const MAX_ENTRIES: usize = 1_000_000;

/// One image created by a load.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The image.
    pub image: ImageInfo,
    /// Manifest digest it was loaded with.
    pub manifest_digest: Digest,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Default)]
struct Collected {
    /// Archive path → digest of a blob now in the content store.
    blobs: HashMap<String, Digest>,
    /// Archive path → small file content.
    small: HashMap<String, Vec<u8>>,
    /// Archive path → symlink target.
    links: HashMap<String, String>,
}

fn arch(e: impl std::fmt::Display) -> StoreError {
    StoreError::Archive(e.to_string())
}

fn norm(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

fn blob_digest_from_path(path: &str) -> Option<Digest> {
    let mut parts = path.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("blobs"), Some(alg), Some(hex)) => Digest::new(Algorithm::from_name(alg)?, hex).ok(),
        _ => None,
    }
}

impl Collected {
    /// Follow symlinks (relative to the link's directory) to a final archive path.
    fn resolve(&self, path: &str) -> String {
        let mut p = norm(path);
        for _ in 0..16 {
            let Some(t) = self.links.get(&p) else { break };
            let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
            p = if t.starts_with('/') {
                norm(t)
            } else {
                norm(&format!("{dir}/{t}"))
            };
        }
        p
    }

    fn bytes(&self, store: &ImageStore, path: &str) -> Result<Vec<u8>, StoreError> {
        let p = self.resolve(path);
        if let Some(b) = self.small.get(&p) {
            return Ok(b.clone());
        }
        match self.blobs.get(&p) {
            Some(d) => Ok(store.content().read(d)?),
            None => Err(StoreError::Archive(format!("archive has no file {path:?}"))),
        }
    }

    fn blob(&self, store: &ImageStore, path: &str) -> Result<Digest, StoreError> {
        let p = self.resolve(path);
        if let Some(d) = self.blobs.get(&p) {
            return Ok(d.clone());
        }
        match self.small.get(&p) {
            Some(b) => Ok(store.content().put(b)?),
            None => Err(StoreError::Archive(format!("archive has no file {path:?}"))),
        }
    }
}

impl ImageStore {
    /// `docker load`: import every image in a docker-save or OCI archive tar stream.
    pub fn load(&self, reader: impl Read) -> Result<Vec<Loaded>, StoreError> {
        let _hold = self.hold_gc();
        let mut c = Collected::default();
        // Long-name and PAX headers are held in memory by the tar parser: keep them small.
        let reader = berth_fs::ExtensionCap::new(reader, EXTENSION_MAX);
        let mut archive = tar::Archive::new(reader);
        let mut small_total = 0u64;
        for (n, entry) in archive.entries().map_err(arch)?.enumerate() {
            if n >= MAX_ENTRIES {
                return Err(arch(format!("more than {MAX_ENTRIES} entries")));
            }
            let mut e = entry.map_err(arch)?;
            let path = norm(&e.path().map_err(arch)?.to_string_lossy());
            let kind = e.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                if let Some(t) = e.link_name().map_err(arch)? {
                    let t = t.to_string_lossy().into_owned();
                    // hard link names are archive-root relative; make them absolute for resolve()
                    let t = if kind.is_hard_link() {
                        format!("/{t}")
                    } else {
                        t
                    };
                    c.links.insert(path, t);
                }
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let size = e.size();
            if let Some(d) = blob_digest_from_path(&path) {
                if !self.content().exists(&d) {
                    self.content()
                        .put_reader(&mut e, Some(d.clone()), Some(size))?;
                }
                c.blobs.insert(path, d);
            } else if size <= SMALL_FILE
                && !path.ends_with("layer.tar")
                && (small_total + size <= SMALL_TOTAL
                    || matches!(path.as_str(), "index.json" | "manifest.json"))
            {
                small_total += size;
                let mut buf = Vec::with_capacity(size as usize);
                e.read_to_end(&mut buf).map_err(arch)?;
                c.small.insert(path, buf);
            } else {
                let d = self.content().put_reader(&mut e, None, Some(size))?;
                c.blobs.insert(path, d);
            }
        }
        self.load_collected(&c)
    }

    /// Load every image of an OCI image layout directory.
    pub fn load_oci_layout(&self, dir: &Path) -> Result<Vec<Loaded>, StoreError> {
        let _hold = self.hold_gc();
        let mut c = Collected::default();
        let index = dir.join("index.json");
        c.small.insert(
            "index.json".into(),
            fs::read(&index).map_err(crate::store::io_at(&index))?,
        );
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let bdir: PathBuf = dir.join("blobs").join(alg.name());
            let Ok(rd) = fs::read_dir(&bdir) else {
                continue;
            };
            for ent in rd.flatten() {
                let Ok(d) = Digest::new(alg, &ent.file_name().to_string_lossy()) else {
                    continue;
                };
                if !self.content().exists(&d) {
                    let mut f =
                        fs::File::open(ent.path()).map_err(crate::store::io_at(&ent.path()))?;
                    self.content().put_reader(&mut f, Some(d.clone()), None)?;
                }
                c.blobs
                    .insert(format!("blobs/{}/{}", alg.name(), d.hex()), d);
            }
        }
        self.load_collected(&c)
    }

    fn load_collected(&self, c: &Collected) -> Result<Vec<Loaded>, StoreError> {
        let mut out: Vec<Loaded> = Vec::new();
        if let Some(raw) = c.small.get("index.json") {
            let index: Index =
                serde_json::from_slice(raw).map_err(|e| arch(format!("index.json: {e}")))?;
            for d in &index.manifests {
                let tags: Vec<Reference> = name_of(d).into_iter().collect();
                let image = self.create_image(&d.digest, Some(&d.media_type), &tags, &[])?;
                let manifest_digest = image.record.manifest_digest.clone();
                out.push(Loaded {
                    image,
                    manifest_digest,
                });
            }
        }
        if let Some(raw) = c.small.get("manifest.json") {
            let entries: Vec<DockerManifestEntry> =
                serde_json::from_slice(raw).map_err(|e| arch(format!("manifest.json: {e}")))?;
            for e in entries {
                let tags = e
                    .repo_tags
                    .unwrap_or_default()
                    .iter()
                    .map(|t| Reference::parse(t))
                    .collect::<Result<Vec<_>, _>>()?;
                let config = c.bytes(self, &e.config)?;
                let config_digest = Digest::sha256_of(&config);
                if let Some(done) = out.iter().position(|l| l.image.record.id == config_digest) {
                    for t in &tags {
                        self.tag(&config_digest.to_string(), &t.to_string())?;
                    }
                    out[done].image = self.resolve(&config_digest.to_string())?;
                    continue;
                }
                ImageConfig::from_slice(&config)?; // validate before storing anything else
                let mut layers = Vec::new();
                for l in &e.layers {
                    let d = c.blob(self, l)?;
                    let mut head = [0u8; 4];
                    let n = self.content().open(&d)?.read(&mut head).map_err(arch)?;
                    let mt = match Compression::from_magic(&head[..n]) {
                        Some(Compression::Gzip) => manifest::OCI_LAYER_GZIP,
                        Some(Compression::Zstd) => manifest::OCI_LAYER_ZSTD,
                        _ => manifest::OCI_LAYER_TAR,
                    };
                    layers.push(Descriptor::new(mt, d.clone(), self.content().size(&d)?));
                }
                let image = self.write_manifest(&config, layers, &tags)?;
                let manifest_digest = image.record.manifest_digest.clone();
                out.push(Loaded {
                    image,
                    manifest_digest,
                });
            }
        }
        if out.is_empty() {
            return Err(StoreError::Archive(
                "no index.json or manifest.json with images in archive".into(),
            ));
        }
        Ok(out)
    }
}

/// The image name an index entry carries: docker/containerd's full-name annotation, or an
/// OCI ref name that is itself a full reference (a bare tag names nothing).
fn name_of(d: &Descriptor) -> Option<Reference> {
    if let Some(n) = d.annotations.get(ANNOTATION_IMAGE_NAME) {
        return Reference::parse(n).ok();
    }
    let n = d.annotations.get(ANNOTATION_REF_NAME)?;
    if n.contains('/') || n.contains(':') {
        Reference::parse(n).ok()
    } else {
        None
    }
}
