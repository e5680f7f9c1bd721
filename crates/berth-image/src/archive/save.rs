//! `save`: write images as one tar that is both a docker-save archive (`manifest.json`,
//! `repositories`, `<config hex>.json`) and an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`); layer entries in `manifest.json` point into `blobs/`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};

use serde::Serialize;
use tar::{EntryType, Header};

use super::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, OCI_LAYOUT};
use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Index};
use crate::reference::{AnyReference, Reference};
use crate::store::{ImageStore, StoreError};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().name(), d.hex())
}

fn arch_err(e: io::Error) -> StoreError {
    StoreError::Archive(format!("writing archive: {e}"))
}

fn header(kind: EntryType, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(0);
    h
}

fn put_bytes<W: Write>(b: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<(), StoreError> {
    b.append_data(
        &mut header(EntryType::Regular, data.len() as u64),
        path,
        data,
    )
    .map_err(arch_err)
}

impl ImageStore {
    /// `docker save IMAGE...`: names may be tags (the tag is kept) or ids (saved untagged).
    pub fn save(&self, names: &[&str], w: impl Write) -> Result<(), StoreError> {
        // image id → tags to record (ordered, deduplicated)
        let mut images: BTreeMap<Digest, BTreeSet<Reference>> = BTreeMap::new();
        for name in names {
            let info = self.resolve(name)?;
            let tags = images.entry(info.record.id.clone()).or_default();
            if let Ok(AnyReference::Named(r)) = AnyReference::parse(name) {
                if r.digest().is_none() && info.repo_tags.contains(&r.to_string()) {
                    tags.insert(r);
                }
            }
        }
        let mut b = tar::Builder::new(w);
        let mut written: BTreeSet<Digest> = BTreeSet::new();
        let mut docker_manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut index = Index {
            schema_version: 2,
            media_type: Some(manifest::OCI_INDEX.to_owned()),
            manifests: Vec::new(),
            annotations: Default::default(),
            extra: Default::default(),
        };
        for dir in ["blobs/", "blobs/sha256/", "blobs/sha512/"] {
            b.append_data(&mut header(EntryType::Directory, 0), dir, io::empty())
                .map_err(arch_err)?;
        }
        for (id, tags) in &images {
            let info = self.resolve(&id.to_string())?;
            let (m, _) = self.manifest_and_config(id)?;
            let mdesc_digest = info.record.manifest_digest.clone();
            let blobs = [&mdesc_digest, &m.config.digest]
                .into_iter()
                .chain(m.layers.iter().map(|l| &l.digest));
            for d in blobs {
                if written.insert(d.clone()) {
                    let size = self.content().size(d)?;
                    let f = self.content().open(d)?;
                    b.append_data(
                        &mut header(EntryType::Regular, size),
                        blob_path(d),
                        f.take(size),
                    )
                    .map_err(arch_err)?;
                }
            }
            let config_bytes = self.content().read(&m.config.digest)?;
            put_bytes(
                &mut b,
                &format!("{}.json", m.config.digest.hex()),
                &config_bytes,
            )?;
            let mut mdesc = Descriptor::new(
                &info.record.manifest_media_type,
                mdesc_digest.clone(),
                self.content().size(&mdesc_digest)?,
            );
            if tags.is_empty() {
                index.manifests.push(mdesc.clone());
            }
            for t in tags {
                mdesc
                    .annotations
                    .insert(ANNOTATION_IMAGE_NAME.to_owned(), t.to_string());
                mdesc.annotations.insert(
                    ANNOTATION_REF_NAME.to_owned(),
                    t.tag().unwrap_or("latest").to_owned(),
                );
                index.manifests.push(mdesc.clone());
                let familiar = t.familiar();
                let repo = familiar
                    .rsplit_once(':')
                    .map_or(familiar.as_str(), |(r, _)| r)
                    .to_owned();
                if let Some(last) = m.layers.last() {
                    repositories.entry(repo).or_default().insert(
                        t.tag().unwrap_or("latest").to_owned(),
                        last.digest.hex().to_owned(),
                    );
                }
            }
            docker_manifest.push(DockerManifestEntry {
                config: blob_path(&m.config.digest),
                repo_tags: tags.iter().map(Reference::familiar).collect(),
                layers: m.layers.iter().map(|l| blob_path(&l.digest)).collect(),
            });
        }
        let json = |v: &dyn erased::Json| v.to_json();
        put_bytes(&mut b, "index.json", &json(&index)?)?;
        put_bytes(&mut b, "manifest.json", &json(&docker_manifest)?)?;
        put_bytes(&mut b, "oci-layout", OCI_LAYOUT.as_bytes())?;
        if !repositories.is_empty() {
            put_bytes(&mut b, "repositories", &json(&repositories)?)?;
        }
        b.into_inner().and_then(|mut w| w.flush()).map_err(arch_err)
    }
}

mod erased {
    use crate::store::StoreError;

    /// Serialise heterogeneous values through one helper.
    pub(super) trait Json {
        fn to_json(&self) -> Result<Vec<u8>, StoreError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Result<Vec<u8>, StoreError> {
            serde_json::to_vec(self).map_err(|e| StoreError::Archive(format!("encoding json: {e}")))
        }
    }
}
