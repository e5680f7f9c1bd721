//! Disk space: `image prune` (`POST /images/prune`) and `system df` (`GET /system/df`).
//! Both go through the store's mark-and-sweep, so blobs and layer snapshots nothing references
//! any more are freed by a prune and counted by df.

use serde::Serialize;

use super::filters::ImageFilters;
use super::{familiar, ImageDeleteItem};
use crate::error::Result;
use crate::Images;

/// What `POST /images/prune` answers.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagePruneReport {
    /// Untagged and deleted images, in docker's item shape.
    pub images_deleted: Vec<ImageDeleteItem>,
    /// Bytes freed (unpacked layers plus blobs).
    pub space_reclaimed: u64,
}

impl Images {
    fn stored_bytes(&self) -> Result<u64> {
        let du = self.store.disk_usage()?;
        Ok(du.layers_size + du.blobs_size)
    }

    /// `docker image prune [-a] [--filter]`: dangling images (or with `dangling=false` every
    /// image no container uses), then unreferenced blobs and layers.
    pub fn prune(&self, filters: &ImageFilters) -> Result<ImagePruneReport> {
        let all = filters.dangling == Some(false);
        let plain = filters.label.is_empty()
            && filters.label_not.is_empty()
            && filters.until.is_none()
            && filters.reference.is_empty();
        let mut out = ImagePruneReport::default();
        if plain {
            let r = self.store.prune(all)?;
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
                    self.events.emit("image", "delete", d, &[]);
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
                out.images_deleted.extend(self.remove(&id, true)?);
            }
            let after = self.stored_bytes()?;
            out.space_reclaimed = before.saturating_sub(after);
        }
        self.events.emit("image", "prune", "", &[]);
        Ok(out)
    }
}
