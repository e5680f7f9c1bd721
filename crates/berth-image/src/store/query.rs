//! Listing, resolving, tagging and removing images (`images`, `inspect`, `tag`, `rmi`,
//! `history`).

use super::{meta::MetaDoc, ImageRecord, ImageStore, StoreError};
use crate::digest::Digest;
use crate::reference::{AnyReference, Reference};

/// An image with its current tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The stored record.
    pub record: ImageRecord,
    /// Tags pointing at it (full references).
    pub repo_tags: Vec<String>,
    /// Containers whose roots were prepared from it.
    pub containers: Vec<String>,
}

/// One line of `history`, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Image id for the newest entry, `None` (docker's `<missing>`) below it.
    pub id: Option<Digest>,
    /// When.
    pub created: Option<String>,
    /// Command.
    pub created_by: String,
    /// Size of the layer this step made (0 for empty layers).
    pub size: u64,
    /// Comment.
    pub comment: String,
    /// Whether the step made no layer.
    pub empty_layer: bool,
}

/// What `rmi` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RmiEvent {
    /// A tag was removed.
    Untagged(String),
    /// An image was deleted.
    Deleted(Digest),
}

impl ImageInfo {
    /// An image without tags (`<none>:<none>`, `--filter dangling=true`).
    pub fn is_dangling(&self) -> bool {
        self.repo_tags.is_empty()
    }

    /// Whether any tag matches `reference` (`--filter reference=`): a full or familiar name,
    /// with `*` matching any run of characters within a path component.
    pub fn matches_reference(&self, pattern: &str) -> bool {
        self.repo_tags.iter().any(|t| {
            let familiar = Reference::parse(t)
                .map(|r| r.familiar())
                .unwrap_or_default();
            let repo_only = |s: &str| {
                s.rsplit_once(':')
                    .map_or(s.to_owned(), |(r, _)| r.to_owned())
            };
            [
                t.clone(),
                familiar.clone(),
                repo_only(t),
                repo_only(&familiar),
            ]
            .iter()
            .any(|c| glob(pattern, c))
        })
    }
}

fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            let Some(tail) = s.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| !tail[..i].contains('/') && glob(rest, &tail[i..]))
        }
    }
}

pub(super) fn info_of(doc: &MetaDoc, id: &Digest) -> Result<ImageInfo, StoreError> {
    let record = doc
        .images
        .get(id)
        .cloned()
        .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
    Ok(ImageInfo {
        repo_tags: doc.tags_of(id),
        containers: doc.containers_of(id),
        record,
    })
}

impl ImageStore {
    /// All images, newest first.
    pub fn images(&self) -> Vec<ImageInfo> {
        let doc = self.lock();
        let mut out: Vec<ImageInfo> = doc
            .images
            .keys()
            .filter_map(|id| info_of(&doc, id).ok())
            .collect();
        out.sort_by(|a, b| b.record.created.cmp(&a.record.created));
        out
    }

    /// Find an image by tag (`busybox`), digest reference (`busybox@sha256:..`), full id
    /// (`sha256:..` or 64 hex), or unique id prefix (`3f57d9401f8d`).
    pub fn resolve(&self, name: &str) -> Result<ImageInfo, StoreError> {
        let doc = self.lock();
        let id = resolve_id(&doc, name).ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        info_of(&doc, &id)
    }

    /// Point `reference` at the image `source` names (moving it off any other image).
    pub fn tag(&self, source: &str, reference: &str) -> Result<(), StoreError> {
        let r = Reference::parse(reference)?;
        if r.digest().is_some() {
            return Err(StoreError::Invalid(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let mut doc = self.lock();
        let id = resolve_id(&doc, source).ok_or_else(|| StoreError::NotFound(source.to_owned()))?;
        doc.tags.insert(r.to_string(), id);
        self.save_meta(&doc)
    }

    /// Remove images like `docker rmi`: a tag name only untags unless it was the last name;
    /// an id deletes the image (with `force` even if tagged in several repositories or used by
    /// a container). Layers and blobs no longer referenced are then collected.
    pub fn rmi(&self, name: &str, force: bool) -> Result<Vec<RmiEvent>, StoreError> {
        let mut events = Vec::new();
        {
            let mut doc = self.lock();
            let id = resolve_id(&doc, name).ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
            let tags = doc.tags_of(&id);
            let by_tag = match AnyReference::parse(name) {
                Ok(AnyReference::Named(r)) => {
                    let key = r.to_string();
                    doc.tags.contains_key(&key).then_some(key)
                }
                _ => None,
            };
            let users = doc.containers_of(&id);
            if let Some(tag) = by_tag.filter(|_| tags.len() > 1) {
                doc.tags.remove(&tag);
                events.push(RmiEvent::Untagged(tag));
                self.save_meta(&doc)?;
                return Ok(events);
            }
            if !force && !users.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "unable to remove image {} (must force) - image is being used by container {}",
                    short(&id),
                    users[0]
                )));
            }
            if !force && tags.len() > 1 {
                return Err(StoreError::Conflict(format!(
                    "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    short(&id)
                )));
            }
            for t in tags {
                doc.tags.remove(&t);
                events.push(RmiEvent::Untagged(t));
            }
            if users.is_empty() {
                doc.images.remove(&id);
                events.push(RmiEvent::Deleted(id));
            }
            self.save_meta(&doc)?;
        }
        self.collect_garbage()?;
        Ok(events)
    }

    /// `docker history`: one entry per config history item, newest first, with layer sizes.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let info = self.resolve(name)?;
        let (_, cfg) = self.manifest_and_config(&info.record.id)?;
        let sizes: Vec<u64> = match &info.record.top_layer {
            Some(top) => self
                .snapshots
                .chain(top)?
                .iter()
                .rev()
                .map(|(_, r)| r.size)
                .collect(),
            None => Vec::new(),
        };
        let mut layer = 0;
        let mut out = Vec::new();
        for h in &cfg.history {
            let size = if h.empty_layer {
                0
            } else {
                layer += 1;
                sizes.get(layer - 1).copied().unwrap_or(0)
            };
            out.push(HistoryEntry {
                id: None,
                created: h.created.clone(),
                created_by: h.created_by.clone().unwrap_or_default(),
                size,
                comment: h.comment.clone().unwrap_or_default(),
                empty_layer: h.empty_layer,
            });
        }
        out.reverse();
        if let Some(first) = out.first_mut() {
            first.id = Some(info.record.id.clone());
        }
        Ok(out)
    }
}

fn short(id: &Digest) -> &str {
    &id.hex()[..12]
}

pub(super) fn resolve_id(doc: &MetaDoc, name: &str) -> Option<Digest> {
    match AnyReference::parse(name) {
        Ok(AnyReference::Digest(d)) => {
            if doc.images.contains_key(&d) {
                return Some(d);
            }
            return doc
                .images
                .values()
                .find(|r| r.manifest_digest == d)
                .map(|r| r.id.clone());
        }
        Ok(AnyReference::Named(r)) => {
            if let Some(d) = r.digest() {
                let want = r.with_digest(d.clone()).to_string();
                let found = doc
                    .images
                    .values()
                    .find(|i| i.repo_digests.contains(&want) || &i.manifest_digest == d);
                if let Some(i) = found {
                    return Some(i.id.clone());
                }
            } else if let Some(id) = doc.tags.get(&r.to_string()) {
                return Some(id.clone());
            }
        }
        Err(_) => {}
    }
    let prefix = name.strip_prefix("sha256:").unwrap_or(name);
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut hits = doc.images.keys().filter(|id| id.hex().starts_with(prefix));
    match (hits.next(), hits.next()) {
        (Some(id), None) => Some(id.clone()),
        _ => None,
    }
}
