//! What spans the services: `docker system df`.

use serde::Serialize;

use crate::containers::ContainerSummary;
use crate::error::Result;
use crate::images::ImageSummary;
use crate::Engine;

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
    /// `docker system df`.
    pub fn disk_usage(&self) -> Result<DiskUsageReport> {
        let du = self.images.store.disk_usage()?;
        let mut images = self.images.list();
        for i in &mut images {
            if let Some(u) = du.images.iter().find(|u| u.id.to_string() == i.id) {
                i.shared_size = u.shared_size as i64;
                i.containers = u.containers as i64;
                i.size = u.size;
            }
        }
        let containers = self
            .containers
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
                .volumes
                .usage()
                .iter()
                .filter_map(|v| serde_json::to_value(v).ok())
                .collect(),
            build_cache: Vec::new(),
            snapshots_size: du.layers_size,
            blobs_size: du.blobs_size,
        })
    }
}
