//! Creating images locally: `commit` (container writable layer → new layer + config) and
//! `import` (rootfs tarball → one-layer image). Both stream the layer once through
//! diff-id hashing, gzip and compressed-digest hashing straight into the content store.

use std::io::{self, Read, Write};

use flate2::write::GzEncoder;

use super::{ImageInfo, ImageStore, StoreError};
use crate::changes::apply_change;
use crate::config::{now_rfc3339, ContainerConfig, History, ImageConfig};
use crate::content::ContentWriter;
use crate::digest::{Algorithm, Digest, DigestingWriter};
use crate::layer::Decoder;
use crate::manifest::{self, Descriptor, Manifest};
use crate::reference::Reference;
use crate::snapshot::SnapshotterKind;
use crate::tree_tar::{self, Whiteouts};

/// Options for [`ImageStore::commit`] (`docker commit -m -a -c`).
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Commit message (history comment).
    pub message: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Dockerfile-style changes (`CMD ["sh"]`, `ENV A=1`, ...).
    pub changes: Vec<String>,
    /// What created the layer, recorded as `created_by` (docker records the container's command).
    pub created_by: Option<String>,
    /// Bind-mount targets the engine created in the writable layer (`/etc/hosts`, …): left
    /// out of the layer when they are empty files or directories, as docker's init layer does.
    pub mount_stubs: Vec<String>,
    /// For a user-namespace-remapped container: a namespace whose maps turn the on-disk
    /// (subordinate) ids of its writable layer back into the container's, so the layer holds
    /// the ids the container saw (docker translates them the same way).
    pub idmap: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// A gzip layer being written into the content store, hashed before and after compression.
pub(crate) struct LayerSink {
    inner: DigestingWriter<GzEncoder<ContentWriter>>,
}

impl LayerSink {
    pub(crate) fn new(store: &ImageStore) -> Result<Self, StoreError> {
        let w = store.content.writer(None, None)?;
        Ok(LayerSink {
            inner: DigestingWriter::new(
                GzEncoder::new(w, flate2::Compression::fast()),
                Algorithm::Sha256,
            ),
        })
    }

    /// Finish: returns the layer descriptor and its diff id.
    pub(crate) fn finish(self) -> Result<(Descriptor, Digest), StoreError> {
        let (gz, diff_id, _) = self.inner.finish();
        let w = gz
            .finish()
            .map_err(|e| StoreError::Archive(format!("compressing layer: {e}")))?;
        let size = w.written();
        let digest = w.commit()?;
        Ok((
            Descriptor::new(manifest::OCI_LAYER_GZIP, digest, size),
            diff_id,
        ))
    }
}

impl Write for LayerSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn oci_layer_type(mt: &str) -> String {
    match mt {
        manifest::DOCKER_LAYER_GZIP => manifest::OCI_LAYER_GZIP.to_owned(),
        manifest::DOCKER_LAYER_TAR => manifest::OCI_LAYER_TAR.to_owned(),
        other => other.to_owned(),
    }
}

fn parse_tag(repo_tag: Option<&str>) -> Result<Vec<Reference>, StoreError> {
    Ok(repo_tag
        .map(Reference::parse)
        .transpose()?
        .into_iter()
        .collect())
}

impl ImageStore {
    /// Store `cfg` and an OCI manifest over `layers`, then register the image.
    pub(crate) fn write_image(
        &self,
        cfg: &ImageConfig,
        layers: Vec<Descriptor>,
        tags: &[Reference],
    ) -> Result<ImageInfo, StoreError> {
        let cfg_bytes = cfg.to_vec()?;
        self.write_manifest(&cfg_bytes, layers, tags)
    }

    /// Store config bytes as given (never re-serialised) and an OCI manifest over `layers`,
    /// then register the image.
    pub(crate) fn write_manifest(
        &self,
        cfg_bytes: &[u8],
        layers: Vec<Descriptor>,
        tags: &[Reference],
    ) -> Result<ImageInfo, StoreError> {
        let cfg_digest = self.content.put(cfg_bytes)?;
        let m = Manifest {
            schema_version: 2,
            media_type: Some(manifest::OCI_MANIFEST.to_owned()),
            config: Descriptor::new(manifest::OCI_CONFIG, cfg_digest, cfg_bytes.len() as u64),
            layers,
            annotations: Default::default(),
            extra: Default::default(),
        };
        let m_bytes = serde_json::to_vec(&m).map_err(crate::config::ConfigError::from)?;
        let m_digest = self.content.put(&m_bytes)?;
        self.create_image(&m_digest, Some(manifest::OCI_MANIFEST), tags, &[])
    }

    /// `docker commit`: the container's changes become exactly one new gzip layer on top of its
    /// image's layers, with a config carrying the changes and a new history entry.
    pub fn commit(
        &self,
        container_id: &str,
        opts: &CommitOptions,
        repo_tag: Option<&str>,
    ) -> Result<ImageInfo, StoreError> {
        let _hold = self.hold_gc();
        let tags = parse_tag(repo_tag)?;
        let image = self
            .lock()
            .containers
            .get(container_id)
            .cloned()
            .ok_or_else(|| StoreError::NoContainer(container_id.to_owned()))?;
        let (base_manifest, mut cfg) = self.manifest_and_config(&image)?;
        let upper = self.snapshots.upper_dir(container_id)?;
        // Read through an idmapped clone of the upper dir (its fd's /proc path) if asked to.
        let _tree = match &opts.idmap {
            Some(ns) => Some(
                crate::snapshot::idmapped_tree(&upper, std::os::fd::AsFd::as_fd(&**ns))
                    .map_err(super::io_at(&upper))?,
            ),
            None => None,
        };
        let upper = match &_tree {
            Some(t) => std::path::PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(t)
            )),
            None => upper,
        };
        let mut tar = tar::Builder::new(LayerSink::new(self)?);
        let written = match self.snapshots.kind() {
            SnapshotterKind::Overlay => {
                let stubs = opts
                    .mount_stubs
                    .iter()
                    .map(|p| p.trim_start_matches('/').to_owned())
                    .collect();
                tree_tar::append_tree_except(&mut tar, &upper, Whiteouts::FromOverlay, &stubs)
            }
            SnapshotterKind::Copy => {
                let changes = self.diff(container_id)?;
                let paths: Vec<(String, bool)> = changes
                    .iter()
                    .filter(|c| !opts.mount_stubs.contains(&c.path))
                    .map(|c| (c.path.clone(), c.kind == super::ChangeKind::Deleted))
                    .collect();
                tree_tar::append_paths(&mut tar, &upper, &paths)
            }
        };
        written
            .and_then(|()| tar.finish())
            .map_err(|e| StoreError::Archive(format!("writing layer: {e}")))?;
        let sink = tar
            .into_inner()
            .map_err(|e| StoreError::Archive(format!("writing layer: {e}")))?;
        let (layer, diff_id) = sink.finish()?;

        let now = now_rfc3339();
        let cc = cfg.config.get_or_insert_with(ContainerConfig::default);
        for c in &opts.changes {
            apply_change(cc, c)?;
        }
        cfg.rootfs.diff_ids.push(diff_id);
        cfg.history.push(History {
            created: Some(now.clone()),
            created_by: opts.created_by.clone(),
            author: opts.author.clone(),
            comment: opts.message.clone(),
            ..Default::default()
        });
        cfg.created = Some(now);
        if opts.author.is_some() {
            cfg.author = opts.author.clone();
        }
        let mut layers: Vec<Descriptor> = base_manifest
            .layers
            .into_iter()
            .map(|mut d| {
                d.media_type = oci_layer_type(&d.media_type);
                d
            })
            .collect();
        layers.push(layer);
        let info = self.write_image(&cfg, layers, &tags)?;
        self.set_parent(&info.record.id, Some(image))?;
        self.resolve(&info.record.id.to_string())
    }

    /// `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image.
    pub fn import(
        &self,
        reader: impl Read,
        repo_tag: Option<&str>,
        changes: &[String],
        message: Option<&str>,
    ) -> Result<ImageInfo, StoreError> {
        let _hold = self.hold_gc();
        let tags = parse_tag(repo_tag)?;
        let (mut dec, _) = Decoder::new(reader, None)
            .map_err(|e| StoreError::Archive(format!("reading import: {e}")))?;
        let mut sink = LayerSink::new(self)?;
        io::copy(&mut dec, &mut sink)
            .map_err(|e| StoreError::Archive(format!("reading import: {e}")))?;
        let (layer, diff_id) = sink.finish()?;
        let mut cc = ContainerConfig::default();
        for c in changes {
            apply_change(&mut cc, c)?;
        }
        let now = now_rfc3339();
        let cfg = ImageConfig {
            created: Some(now.clone()),
            architecture: self.platform.architecture.clone(),
            os: self.platform.os.clone(),
            variant: self.platform.variant.clone(),
            config: Some(cc),
            rootfs: crate::config::RootFs {
                kind: "layers".into(),
                diff_ids: vec![diff_id],
            },
            history: vec![History {
                created: Some(now),
                comment: Some(message.unwrap_or("Imported from -").to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        };
        self.write_image(&cfg, vec![layer], &tags)
    }
}
