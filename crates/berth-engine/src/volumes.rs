//! Volumes: docker's storage beside the image layers.
//!
//! - [`store`]: the `local` driver (`<data-root>/volumes/<name>/_data` + `volume.json`) and
//!   which containers reference which volume;
//! - [`local`]: volume names and the `type`/`device`/`o` options (a volume that is a tmpfs,
//!   a bind or a device, mounted on `_data` when a container first needs it);
//! - [`mounts`]: `-v`, `--mount`, `--tmpfs`, `--volumes-from` parsed with docker's rules;
//! - [`container`]: the container side — mounts resolved at create, mounted (with copy-up,
//!   [`copyup`]) at start, released at `rm` (`rm -v` and `--rm` drop anonymous volumes);
//! - this file: the volume API (`create`, `ls` with filters, `inspect`, `rm`, `prune`, usage
//!   for `system df`).

pub(crate) mod copyup;
mod local;
pub(crate) mod mounts;
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::{EngineConfig, Events};

pub(crate) use local::is_mount_point;
pub use mounts::clean_path;
pub use store::{UsageData, Volume, VolumeStore, ANONYMOUS_LABEL};

/// The volumes service: the `local` driver's store and which containers use which volume.
pub struct Volumes {
    pub(crate) store: VolumeStore,
    pub(crate) events: Arc<Events>,
}

impl Volumes {
    /// Opens `<data-root>/volumes`; `containers` are the ids of the containers that exist, so
    /// references of containers removed while the daemon was down are dropped.
    pub(crate) fn open<'a>(
        cfg: &EngineConfig,
        containers: impl Iterator<Item = &'a String>,
        events: Arc<Events>,
    ) -> Result<Volumes> {
        let store = VolumeStore::open(
            cfg.data_root.join("volumes"),
            cfg.data_root.join("containers"),
            containers,
        )?;
        Ok(Volumes { store, events })
    }
}

/// The body of `POST /volumes/create`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreate {
    /// Name (empty: a random one).
    pub name: String,
    /// Driver (`local` or empty).
    pub driver: String,
    /// Driver options (`type`, `device`, `o`).
    #[serde(deserialize_with = "nullable_map")]
    pub driver_opts: BTreeMap<String, String>,
    /// User metadata.
    #[serde(deserialize_with = "nullable_map")]
    pub labels: BTreeMap<String, String>,
}

fn nullable_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::deserialize(d)?.unwrap_or_default())
}

/// `GET /volumes` and `POST /volumes/prune` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFilters {
    /// `dangling=true|false`: unreferenced or referenced volumes only.
    pub dangling: Option<bool>,
    /// Substrings of the name.
    pub name: Vec<String>,
    /// `key` or `key=value` labels that must be present.
    pub label: Vec<String>,
    /// `key` or `key=value` labels that must be absent (`label!=`).
    pub label_not: Vec<String>,
    /// Driver names.
    pub driver: Vec<String>,
    /// Prune: named volumes too (`all=true`), not only anonymous ones.
    pub all: bool,
}

impl VolumeFilters {
    /// Parses docker's `filters` JSON (`{"dangling":["true"]}` or `{"label":{"a=b":true}}`).
    pub fn parse(filters: Option<&str>) -> Result<VolumeFilters> {
        let mut f = VolumeFilters::default();
        let Some(json) = filters.filter(|s| !s.is_empty()) else {
            return Ok(f);
        };
        let bad = |m: String| EngineError::InvalidParameter(m);
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(format!("invalid filter: {e}")))?;
        let map = v
            .as_object()
            .ok_or_else(|| bad("invalid filter: not an object".into()))?;
        for (k, vals) in map {
            let vals: Vec<String> = match vals {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                serde_json::Value::Object(o) => o.keys().cloned().collect(),
                _ => Vec::new(),
            };
            let boolean = |vals: &[String], key: &str| -> Result<bool> {
                match vals.first().map(|s| s.to_ascii_lowercase()).as_deref() {
                    Some("true" | "1") => Ok(true),
                    Some("false" | "0") => Ok(false),
                    other => Err(bad(format!(
                        "invalid filter '{key}={}'",
                        other.unwrap_or_default()
                    ))),
                }
            };
            match k.as_str() {
                "dangling" => f.dangling = Some(boolean(&vals, "dangling")?),
                "all" => f.all = boolean(&vals, "all")?,
                "name" => f.name = vals,
                "label" => f.label = vals,
                "label!" => f.label_not = vals,
                "driver" => f.driver = vals,
                other => return Err(bad(format!("invalid filter '{other}'"))),
            }
        }
        Ok(f)
    }

    fn matches(&self, v: &Volume, refs: usize) -> bool {
        let has_label = |l: &String| match l.split_once('=') {
            Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
            None => v.labels.contains_key(l),
        };
        self.dangling.is_none_or(|d| d == (refs == 0))
            && (self.name.is_empty() || self.name.iter().any(|n| v.name.contains(n.as_str())))
            && self.label.iter().all(has_label)
            && !self.label_not.iter().any(has_label)
            && (self.driver.is_empty() || self.driver.contains(&v.driver))
    }
}

/// The answer of `POST /volumes/prune`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumePruneReport {
    /// Names of the removed volumes.
    pub volumes_deleted: Vec<String>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

impl Volumes {
    /// `docker volume create`: idempotent for an existing name.
    pub fn create(&self, req: VolumeCreate) -> Result<Volume> {
        let mut labels = req.labels;
        let name = if req.name.is_empty() {
            // As dockerd: a volume created without a name is anonymous (`prune` takes it).
            labels.insert(store::ANONYMOUS_LABEL.into(), String::new());
            crate::names::new_id()?
        } else {
            req.name
        };
        let (v, created) = self
            .store
            .create(&name, &req.driver, labels, req.driver_opts)?;
        if created {
            self.events
                .emit("volume", "create", &name, &[("driver", "local")]);
        }
        Ok(v)
    }

    /// `docker volume ls` with filters.
    pub fn list(&self, f: &VolumeFilters) -> Vec<Volume> {
        self.store
            .list()
            .into_iter()
            .filter(|(v, refs)| f.matches(v, *refs))
            .map(|(v, _)| v)
            .collect()
    }

    /// `docker volume inspect`.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        self.store.get(name)
    }

    /// `docker volume rm [-f]`: a volume a container references cannot be removed (409).
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        if self.store.remove(name, force)? {
            self.events
                .emit("volume", "destroy", name, &[("driver", "local")]);
        }
        Ok(())
    }

    /// `docker volume prune`: removes unreferenced volumes — only anonymous ones unless the
    /// `all` filter is set (docker 23+, API 1.42; the API layer sets `all` for older
    /// clients, as dockerd does).
    pub fn prune(&self, f: &VolumeFilters) -> Result<VolumePruneReport> {
        let mut report = VolumePruneReport::default();
        for (v, refs) in self.store.list() {
            if refs > 0 || !f.matches(&v, refs) {
                continue;
            }
            if !f.all && !v.labels.contains_key(ANONYMOUS_LABEL) {
                continue;
            }
            let size = self.store.size(&v.name).max(0) as u64;
            match self.remove(&v.name, false) {
                Ok(()) => {
                    report.space_reclaimed += size;
                    report.volumes_deleted.push(v.name);
                }
                // Taken into use meanwhile: not ours to prune.
                Err(e) => tracing::debug!("prune volume {}: {e}", v.name),
            }
        }
        Ok(report)
    }

    /// Every volume with its size and reference count (`Volumes` of `GET /system/df`).
    pub fn usage(&self) -> Vec<Volume> {
        self.store
            .list()
            .into_iter()
            .map(|(mut v, refs)| {
                v.usage_data = Some(UsageData {
                    size: self.store.size(&v.name),
                    ref_count: refs as i64,
                });
                v
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn filters() {
        let f =
            VolumeFilters::parse(Some(r#"{"dangling":["true"],"label":{"a=b":true}}"#)).unwrap();
        assert_eq!(f.dangling, Some(true));
        assert_eq!(f.label, ["a=b"]);
        assert!(
            VolumeFilters::parse(Some(r#"{"all":["true"]}"#))
                .unwrap()
                .all
        );
        assert!(VolumeFilters::parse(Some(r#"{"bogus":["x"]}"#)).is_err());
        assert!(VolumeFilters::parse(Some(r#"{"dangling":["maybe"]}"#)).is_err());
        let v = Volume {
            name: "data1".into(),
            driver: "local".into(),
            mountpoint: String::new(),
            created_at: String::new(),
            labels: [("a".to_owned(), "b".to_owned())].into_iter().collect(),
            options: BTreeMap::new(),
            scope: "local".into(),
            usage_data: None,
        };
        assert!(f.matches(&v, 0));
        assert!(!f.matches(&v, 1));
        let n = VolumeFilters {
            name: vec!["ta1".into()],
            label_not: vec!["a".into()],
            ..Default::default()
        };
        assert!(!n.matches(&v, 0));
    }
}
