//! Disk space: `image prune` (`POST /images/prune`) and `system df` (`GET /system/df`).
//! Both go through the store's mark-and-sweep, so blobs and layer snapshots nothing references
//! any more are freed by a prune and counted by df.

use serde::Serialize;

use super::filters::ImageFilters;
use super::{familiar, ImageDeleteItem, ImageSummary};
use crate::containers::ContainerSummary;
use crate::error::Result;
use crate::Engine;

/// What `POST /images/prune` answers.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagePruneReport {
    /// Untagged and deleted images, in docker's item shape.
    pub images_deleted: Vec<ImageDeleteItem>,
    /// Bytes freed (unpacked layers plus blobs).
    pub space_reclaimed: u64,
}

/// One container in `system df`: the summary plus its writable layer's size.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerUsage {
    /// The `ps` row.
    #[serde(flatten)]
    pub summary: ContainerSummary,
    /// Bytes in the writable layer.
    pub size_rw: u64,
    /// Writable layer plus image.
    pub size_root_fs: u64,
}

/// `GET /system/df`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsageReport {
    /// Every unpacked layer snapshot (each counted once) plus every stored blob.
    pub layers_size: u64,
    /// Images with `SharedSize` and `Containers` filled.
    pub images: Vec<ImageSummary>,
    /// Containers with sizes.
    pub containers: Vec<ContainerUsage>,
    /// Volumes with `UsageData` (size, reference count).
    pub volumes: Vec<serde_json::Value>,
    /// Build cache (no builder yet).
    pub build_cache: Vec<serde_json::Value>,
    /// Berth detail: bytes of unpacked layers.
    pub snapshots_size: u64,
    /// Berth detail: bytes of compressed blobs (manifests, configs, layer archives).
    pub blobs_size: u64,
}

impl Engine {
    fn stored_bytes(&self) -> Result<u64> {
        let du = self.images.disk_usage()?;
        Ok(du.layers_size + du.blobs_size)
    }

    /// `docker image prune [-a] [--filter]`: dangling images (or with `dangling=false` every
    /// image no container uses), then unreferenced blobs and layers.
    pub fn prune_images(&self, filters: &ImageFilters) -> Result<ImagePruneReport> {
        let all = filters.dangling == Some(false);
        let plain = filters.label.is_empty()
            && filters.label_not.is_empty()
            && filters.until.is_none()
            && filters.reference.is_empty();
        let mut out = ImagePruneReport::default();
        if plain {
            let r = self.images.prune(all)?;
            out.images_deleted.extend(
                r.untagged
                    .iter()
                    .map(|t| ImageDeleteItem::Untagged(familiar(t))),
            );
            out.images_deleted.extend(
                r.images_deleted
                    .iter()
                    .map(|d| ImageDeleteItem::Deleted(d.to_string())),
            );
            out.space_reclaimed = r.space_reclaimed;
            for i in &out.images_deleted {
                if let ImageDeleteItem::Deleted(d) = i {
                    self.emit("image", "delete", d, &[]);
                }
            }
        } else {
            let before = self.stored_bytes()?;
            let victims: Vec<String> = self
                .filtered_infos(filters)?
                .into_iter()
                .filter(|i| i.containers.is_empty() && (all || i.is_dangling()))
                .map(|i| i.record.id.to_string())
                .collect();
            for id in victims {
                out.images_deleted.extend(self.remove_image(&id, true)?);
            }
            let after = self.stored_bytes()?;
            out.space_reclaimed = before.saturating_sub(after);
        }
        self.emit("image", "prune", "", &[]);
        Ok(out)
    }

    /// `docker system df`.
    pub fn disk_usage(&self) -> Result<DiskUsageReport> {
        let du = self.images.disk_usage()?;
        let mut images = self.images();
        for i in &mut images {
            if let Some(u) = du.images.iter().find(|u| u.id.to_string() == i.id) {
                i.shared_size = u.shared_size as i64;
                i.containers = u.containers as i64;
                i.size = u.size;
            }
        }
        let containers = self
            .list(true)
            .into_iter()
            .map(|s| {
                let size_rw = du
                    .containers
                    .iter()
                    .find(|(id, _)| *id == s.id)
                    .map_or(0, |(_, n)| *n);
                let image = images
                    .iter()
                    .find(|i| i.id == s.image_id)
                    .map_or(0, |i| i.size);
                ContainerUsage {
                    summary: s,
                    size_rw,
                    size_root_fs: size_rw + image,
                }
            })
            .collect();
        Ok(DiskUsageReport {
            // dockerd's LayersSize is the unpacked layers, which image sizes add up to: the
            // CLI's RECLAIMABLE subtracts the sizes of images in use from it, so counting
            // the stored blobs here too would show an in-use image as partly reclaimable.
            // The blobs are reported on their own (BlobsSize).
            layers_size: du.layers_size,
            images,
            containers,
            volumes: self
                .volumes_usage()
                .iter()
                .filter_map(|v| serde_json::to_value(v).ok())
                .collect(),
            build_cache: Vec::new(),
            snapshots_size: du.layers_size,
            blobs_size: du.blobs_size,
        })
    }
}
