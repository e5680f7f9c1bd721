//! Images as the API shows them, over `berth-image`'s store: list, import, rmi here;
//! inspect/history/tag, commit/diff/export, save/load and prune/df in the submodules.

mod archive;
pub mod filters;
mod inspect;
mod space;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use berth_image::store::{ImageInfo, RmiEvent};
use berth_image::{ImageStore, Reference, StoreConfig, StoreError};
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::time::parse_rfc3339;
use crate::{EngineConfig, Events};

pub use filters::ImageFilters;
pub use inspect::{HistoryItem, ImageInspect};
pub use space::ImagePruneReport;

/// The images service: the image store, pulls and pushes, tags, save/load, prune.
pub struct Images {
    pub(crate) store: ImageStore,
    /// Insecure registries and mirrors, for every pull, push, login and search.
    pub(crate) registry: crate::registry::RegistryOptions,
    pub(crate) events: Arc<Events>,
}

impl Images {
    /// Opens the store under `<data-root>/image`.
    pub(crate) fn open(cfg: &EngineConfig, events: Arc<Events>) -> Result<Images> {
        let store = ImageStore::open(StoreConfig::new(cfg.data_root.join("image")))?;
        Ok(Images {
            store,
            registry: cfg.registry.clone(),
            events,
        })
    }

    /// The daemon's insecure registries and mirrors (what `info`'s `RegistryConfig` shows).
    pub fn registry_options(&self) -> &crate::registry::RegistryOptions {
        &self.registry
    }
}

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

pub(crate) fn familiar(tag: &str) -> String {
    Reference::parse(tag)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| tag.to_owned())
}

/// Store "not found" errors as docker's `No such image: NAME`.
pub(crate) fn not_found(name: &str) -> impl FnOnce(StoreError) -> EngineError + '_ {
    move |e| match e {
        StoreError::NotFound(_) => EngineError::NoSuchImage(name.to_owned()),
        e => e.into(),
    }
}

/// Whether `path` is a mount point (its device differs from its parent's).
pub(crate) fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(m), Some(parent)) = (std::fs::metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != m.dev())
}

fn created_of(i: &ImageInfo) -> i64 {
    i.record
        .created
        .as_deref()
        .and_then(parse_rfc3339)
        .unwrap_or(0)
}

impl Images {
    /// `docker import`: a rootfs tarball (plain or compressed) becomes an image tagged
    /// `repo_tag` (e.g. `busybox:latest`). Returns the image id.
    pub fn import(&self, tar: impl Read, repo_tag: Option<&str>) -> Result<String> {
        self.import_with(tar, repo_tag, &[], None)
    }

    /// [`import_image`](Self::import_image) with `--change` instructions and `--message`.
    pub fn import_with(
        &self,
        tar: impl Read,
        repo_tag: Option<&str>,
        changes: &[String],
        message: Option<&str>,
    ) -> Result<String> {
        let info = self
            .store
            .import(tar, repo_tag, changes, message)
            .map_err(|e| match e {
                StoreError::Io { .. } => e.into(),
                e => EngineError::InvalidParameter(e.to_string()),
            })?;
        let id = info.record.id.to_string();
        self.events
            .emit("image", "import", &id, &[("name", repo_tag.unwrap_or(""))]);
        Ok(id)
    }

    fn labels_of(&self, i: &ImageInfo) -> BTreeMap<String, String> {
        self.store
            .manifest_and_config(&i.record.id)
            .ok()
            .and_then(|(_, c)| c.config.and_then(|c| c.labels))
            .unwrap_or_default()
    }

    fn summary(&self, i: ImageInfo) -> ImageSummary {
        ImageSummary {
            id: i.record.id.to_string(),
            parent_id: i
                .record
                .parent
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            repo_tags: i.repo_tags.iter().map(|t| familiar(t)).collect(),
            repo_digests: i.record.repo_digests.iter().map(|t| familiar(t)).collect(),
            created: created_of(&i),
            size: i.record.size,
            shared_size: -1,
            labels: self.labels_of(&i),
            containers: i.containers.len() as i64,
        }
    }

    /// Images passing `f`, newest first.
    pub(crate) fn filtered_infos(&self, f: &ImageFilters) -> Result<Vec<ImageInfo>> {
        let bound = |name: &Option<String>| -> Result<Option<i64>> {
            name.as_deref()
                .map(|n| {
                    self.store
                        .resolve(n)
                        .map(|i| created_of(&i))
                        .map_err(not_found(n))
                })
                .transpose()
        };
        let bounds = (bound(&f.before)?, bound(&f.since)?);
        Ok(self
            .store
            .images()
            .into_iter()
            .filter(|i| f.matches(i, created_of(i), &self.labels_of(i), bounds))
            .collect())
    }

    /// `docker images`.
    pub fn list(&self) -> Vec<ImageSummary> {
        self.store
            .images()
            .into_iter()
            .map(|i| self.summary(i))
            .collect()
    }

    /// `docker images [-a] [--filter]`: without `all`, untagged images that are the parent of
    /// another image (intermediate layers of a commit chain) are hidden, like docker.
    pub fn list_filtered(&self, all: bool, f: &ImageFilters) -> Result<Vec<ImageSummary>> {
        let infos = self.filtered_infos(f)?;
        let parents: Vec<String> = self
            .store
            .images()
            .iter()
            .filter_map(|i| i.record.parent.as_ref().map(ToString::to_string))
            .collect();
        Ok(infos
            .into_iter()
            .filter(|i| all || !i.is_dangling() || !parents.contains(&i.record.id.to_string()))
            .map(|i| {
                // Like docker, a reference filter also narrows the tags shown.
                let shown: Vec<String> = i
                    .repo_tags
                    .iter()
                    .filter(|t| {
                        let one = ImageInfo {
                            repo_tags: vec![(*t).clone()],
                            ..i.clone()
                        };
                        f.reference.is_empty()
                            || f.reference.iter().any(|r| one.matches_reference(r))
                    })
                    .cloned()
                    .collect();
                let mut s = self.summary(i);
                s.repo_tags = shown.iter().map(|t| familiar(t)).collect();
                s
            })
            .collect())
    }

    /// `docker rmi`.
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<ImageDeleteItem>> {
        let events = self.store.rmi(name, force).map_err(not_found(name))?;
        let items: Vec<ImageDeleteItem> = events
            .into_iter()
            .map(|e| match e {
                RmiEvent::Untagged(t) => ImageDeleteItem::Untagged(familiar(&t)),
                RmiEvent::Deleted(d) => ImageDeleteItem::Deleted(d.to_string()),
            })
            .collect();
        for i in &items {
            match i {
                ImageDeleteItem::Untagged(t) => {
                    self.events.emit("image", "untag", t, &[("name", t)])
                }
                ImageDeleteItem::Deleted(d) => self.events.emit("image", "delete", d, &[]),
            }
        }
        Ok(items)
    }
}
