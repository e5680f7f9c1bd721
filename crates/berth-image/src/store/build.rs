//! What an image builder needs beyond commit/import: layers made from a tar writer or from a
//! container's writable layer without creating an image, snapshots for an arbitrary layer list,
//! and an image from an already stored config blob plus layer blobs.

use std::io::{self, Write};

use super::commit::LayerSink;
use super::{ImageInfo, ImageStore, StoreError};
use crate::config::ImageConfig;
use crate::digest::Digest;
use crate::manifest::Descriptor;
use crate::reference::Reference;
use crate::snapshot::{chain_ids, SnapshotterKind};
use crate::tree_tar::{self, Whiteouts};

impl ImageStore {
    /// Stores a gzip layer whose uncompressed tar `write` produces. Returns the blob's
    /// descriptor and the layer's diff id.
    pub fn layer_from_writer(
        &self,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(Descriptor, Digest), StoreError> {
        let mut sink = LayerSink::new(self)?;
        write(&mut sink).map_err(|e| StoreError::Archive(format!("writing layer: {e}")))?;
        sink.finish()
    }

    /// The changes in container root `container_id` (made with [`Self::prepare_snapshot`] or
    /// [`Self::prepare_container`]) as a stored layer, without creating an image.
    pub fn container_layer(&self, container_id: &str) -> Result<(Descriptor, Digest), StoreError> {
        let upper = self.snapshots.upper_dir(container_id)?;
        let mut tar = tar::Builder::new(LayerSink::new(self)?);
        let written = match self.snapshots.kind() {
            SnapshotterKind::Overlay => {
                tree_tar::append_tree(&mut tar, &upper, Whiteouts::FromOverlay)
            }
            SnapshotterKind::Copy => {
                let changes = self.diff(container_id)?;
                let paths: Vec<(String, bool)> = changes
                    .iter()
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
        sink.finish()
    }

    /// Unpacks whichever of `layers` (blobs in the content store, with their `diff_ids`) are not
    /// snapshots yet. Returns the top chain id (None for no layers).
    pub fn ensure_layers(
        &self,
        layers: &[Descriptor],
        diff_ids: &[Digest],
    ) -> Result<Option<Digest>, StoreError> {
        if layers.len() != diff_ids.len() {
            return Err(StoreError::Invalid(format!(
                "{} layers but {} diff ids",
                layers.len(),
                diff_ids.len()
            )));
        }
        let chain = chain_ids(diff_ids);
        for (i, layer) in layers.iter().enumerate() {
            if self.snapshots.has_layer(&chain[i]) {
                continue;
            }
            let blob = self.content.open(&layer.digest)?;
            let parent = i.checked_sub(1).map(|p| &chain[p]);
            self.snapshots.unpack_layer(
                parent,
                &chain[i],
                &diff_ids[i],
                blob,
                Some(&layer.media_type),
            )?;
        }
        Ok(chain.last().cloned())
    }

    /// A writable root on top of snapshot `top` (a chain id from [`Self::ensure_layers`]) that
    /// belongs to no image (a build step's container). Remove it with
    /// [`Self::remove_snapshot`].
    pub fn prepare_snapshot(
        &self,
        id: &str,
        top: Option<&Digest>,
    ) -> Result<crate::snapshot::Mount, StoreError> {
        Ok(self.snapshots.prepare(id, top)?)
    }

    /// Deletes a root made by [`Self::prepare_snapshot`] (it must be unmounted).
    pub fn remove_snapshot(&self, id: &str) -> Result<(), StoreError> {
        Ok(self.snapshots.remove_container(id)?)
    }

    /// Registers an image whose config blob (`config`) and layer blobs are already stored, and
    /// points `tags` at it. The image id is `config`.
    pub fn image_from_config(
        &self,
        config: &Digest,
        layers: Vec<Descriptor>,
        tags: &[Reference],
    ) -> Result<ImageInfo, StoreError> {
        let _hold = self.hold_gc();
        let raw = self.content.read(config)?;
        let cfg = ImageConfig::from_slice(&raw)?;
        if cfg.rootfs.diff_ids.len() != layers.len() {
            return Err(StoreError::Invalid(format!(
                "config lists {} diff ids for {} layers",
                cfg.rootfs.diff_ids.len(),
                layers.len()
            )));
        }
        self.write_manifest(&raw, layers, tags)
    }
}
