//! Images as the API shows them: `images`, `import`, `rmi` over `berth-image`'s store.

use std::collections::BTreeMap;
use std::io::Read;

use berth_image::store::RmiEvent;
use berth_image::Reference;
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::time::parse_rfc3339;
use crate::Engine;

/// One row of `GET /images/json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// Full id.
    pub id: String,
    /// Image it was committed from.
    pub parent_id: String,
    /// Tags in familiar form (`busybox:latest`).
    pub repo_tags: Vec<String>,
    /// `name@digest` references.
    pub repo_digests: Vec<String>,
    /// Creation time.
    pub created: i64,
    /// Unpacked size in bytes.
    pub size: u64,
    /// Docker's SharedSize (-1: not computed).
    pub shared_size: i64,
    /// Metadata labels.
    pub labels: BTreeMap<String, String>,
    /// Containers whose roots were prepared from it.
    pub containers: i64,
}

/// One line of docker's `DELETE /images/{name}` answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum ImageDeleteItem {
    /// A tag was removed.
    Untagged(String),
    /// An image was deleted (its id).
    Deleted(String),
}

fn familiar(tag: &str) -> String {
    Reference::parse(tag)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| tag.to_owned())
}

impl Engine {
    /// `docker import`: a rootfs tarball (plain or compressed) becomes an image tagged
    /// `repo_tag` (e.g. `busybox:latest`). Returns the image id.
    pub fn import_image(&self, tar: impl Read, repo_tag: Option<&str>) -> Result<String> {
        let info = self.images.import(tar, repo_tag, &[], None)?;
        let id = info.record.id.to_string();
        self.emit("image", "import", &id, &[("name", repo_tag.unwrap_or(""))]);
        Ok(id)
    }

    /// `docker images`.
    pub fn images(&self) -> Vec<ImageSummary> {
        self.images
            .images()
            .into_iter()
            .map(|i| {
                let labels = self
                    .images
                    .manifest_and_config(&i.record.id)
                    .ok()
                    .and_then(|(_, c)| c.config.and_then(|c| c.labels))
                    .unwrap_or_default();
                ImageSummary {
                    id: i.record.id.to_string(),
                    parent_id: i.record.parent.map(|p| p.to_string()).unwrap_or_default(),
                    repo_tags: i.repo_tags.iter().map(|t| familiar(t)).collect(),
                    repo_digests: i.record.repo_digests.clone(),
                    created: i
                        .record
                        .created
                        .as_deref()
                        .and_then(parse_rfc3339)
                        .unwrap_or(0),
                    size: i.record.size,
                    shared_size: -1,
                    labels,
                    containers: i.containers.len() as i64,
                }
            })
            .collect()
    }

    /// `docker rmi`.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<ImageDeleteItem>> {
        let events = self.images.rmi(name, force).map_err(|e| match e {
            berth_image::StoreError::NotFound(_) => EngineError::NoSuchImage(name.to_owned()),
            e => e.into(),
        })?;
        let items: Vec<ImageDeleteItem> = events
            .into_iter()
            .map(|e| match e {
                RmiEvent::Untagged(t) => ImageDeleteItem::Untagged(familiar(&t)),
                RmiEvent::Deleted(d) => ImageDeleteItem::Deleted(d.to_string()),
            })
            .collect();
        for i in &items {
            match i {
                ImageDeleteItem::Untagged(t) => self.emit("image", "untag", t, &[("name", t)]),
                ImageDeleteItem::Deleted(d) => self.emit("image", "delete", d, &[]),
            }
        }
        Ok(items)
    }
}
