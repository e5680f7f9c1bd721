//! `docker ps`: the rows of `GET /containers/json`, newest first, through docker's filters.

use std::collections::{HashMap, HashSet};

use crate::containers::ContainerSummary;
use crate::error::{EngineError, Result};
use crate::list_filters::ListFilters;
use crate::model::ContainerRecord;
use crate::time::{human_duration, now_unix, parse_rfc3339};
use crate::{Containers, Inner};

/// Creation time in nanoseconds, so containers made within one second keep their order
/// (`before`/`since` depend on it).
fn created_nanos(r: &ContainerRecord) -> i128 {
    r.created
        .parse::<jiff::Timestamp>()
        .map_or(0, |t| t.as_nanosecond())
}

/// `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
fn status_text(r: &ContainerRecord, now: i64) -> String {
    if r.state.running {
        let since = parse_rfc3339(&r.state.started_at).unwrap_or(now);
        let health = crate::model::ps_suffix(r).unwrap_or_default();
        format!("Up {}{health}", human_duration(now - since))
    } else if r.state.restarting {
        let since = parse_rfc3339(&r.state.finished_at).unwrap_or(now);
        format!(
            "Restarting ({}) {} ago",
            r.state.exit_code,
            human_duration(now - since)
        )
    } else if r.state.status == "exited" {
        let since = parse_rfc3339(&r.state.finished_at).unwrap_or(now);
        format!(
            "Exited ({}) {} ago",
            r.state.exit_code,
            human_duration(now - since)
        )
    } else {
        "Created".into()
    }
}

impl Containers {
    /// `docker ps` with docker's `filters` and `limit`. A `before`/`since` container that does
    /// not exist is an error, as in docker.
    pub fn list_filtered(&self, all: bool, f: &ListFilters) -> Result<Vec<ContainerSummary>> {
        let ancestors = self.ancestor_filter(f);
        let inner = self.lock();
        let before = Self::bound(&inner, f.values("before"))?;
        let since = Self::bound(&inner, f.values("since"))?;
        let all = all || f.implies_all();
        let mut recs: Vec<&ContainerRecord> = inner
            .containers
            .values()
            .filter(|r| all || r.state.running || r.state.restarting)
            .filter(|r| ancestors.as_ref().is_none_or(|a| a(&r.image)))
            .filter(|r| before.is_none_or(|b| created_nanos(r) < b))
            .filter(|r| since.is_none_or(|s| created_nanos(r) > s))
            .collect();
        recs.sort_by(|a, b| {
            created_nanos(b)
                .cmp(&created_nanos(a))
                .then(a.id.cmp(&b.id))
        });
        let now = now_unix();
        let mut out = Vec::new();
        for r in recs {
            let row = self.ps_row(r, now);
            if f.matches(r, &row.mounts, &row.network_settings) {
                out.push(row);
            }
        }
        if let Some(n) = f.limit {
            out.truncate(n);
        }
        Ok(out)
    }

    /// The creation time of the (last) container named by `before`/`since`.
    fn bound(inner: &Inner, keys: &[String]) -> Result<Option<i128>> {
        let mut out = None;
        for k in keys {
            let id = Self::find_id(inner, k)?;
            let rec = inner
                .containers
                .get(&id)
                .ok_or_else(|| EngineError::NoSuchContainer(k.clone()))?;
            out = Some(created_nanos(rec));
        }
        Ok(out)
    }

    /// `ancestor=` (image name, id or digest reference): a test of a container's image id
    /// that holds for the named images and every image built on them (parent chain), as
    /// dockerd's `populateImageFilterByParents`. Names that resolve to no image match
    /// nothing, as in docker.
    fn ancestor_filter(&self, f: &ListFilters) -> Option<impl Fn(&str) -> bool> {
        let names = f.values("ancestor");
        if names.is_empty() {
            return None;
        }
        let wanted: HashSet<String> = names
            .iter()
            .filter_map(|n| self.images.store.resolve(n).ok())
            .map(|i| i.record.id.to_string())
            .collect();
        let parents: HashMap<String, String> = self
            .images
            .store
            .images()
            .into_iter()
            .filter_map(|i| Some((i.record.id.to_string(), i.record.parent?.to_string())))
            .collect();
        Some(move |image: &str| {
            let mut cur = Some(image.to_owned());
            // The hop bound guards against a corrupt, cyclic parent chain.
            for _ in 0..=parents.len() {
                let Some(id) = cur else { return false };
                if wanted.contains(&id) {
                    return true;
                }
                cur = parents.get(&id).cloned();
            }
            false
        })
    }

    /// One `ps` row.
    fn ps_row(&self, r: &ContainerRecord, now: i64) -> ContainerSummary {
        let mut cmd = vec![r.path.clone()];
        cmd.extend(r.args.iter().cloned());
        ContainerSummary {
            id: r.id.clone(),
            names: vec![r.name.clone()],
            image: r.config.image.clone(),
            image_id: r.image.clone(),
            command: cmd.join(" "),
            created: parse_rfc3339(&r.created).unwrap_or(0),
            ports: self.networks.summary_ports(r),
            labels: r.config.labels.clone(),
            state: r.state.status.clone(),
            status: status_text(r, now),
            host_config: serde_json::json!({"NetworkMode": r.host_config.network_mode}),
            network_settings: self.networks.network_settings(r),
            mounts: self.mounts_view(&r.id),
        }
    }
}
