//! Container filesystems as images and archives: `commit`, `diff` (`/changes`) and `export`.
//! None of them pauses the container: the writable layer is read as it is.

use std::io::Write;

use berth_image::store::{ChangeKind, CommitOptions};
use serde::Serialize;

use crate::containers::Containers;
use crate::error::{EngineError, Result};
use crate::model::ContainerRecord;

/// What `POST /commit` asks for.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    /// `REPO[:TAG]` to tag the new image with.
    pub repo_tag: Option<String>,
    /// Commit message (`-m`).
    pub comment: Option<String>,
    /// Author (`-a`).
    pub author: Option<String>,
    /// Dockerfile instructions (`-c 'CMD ["sh"]'`).
    pub changes: Vec<String>,
}

/// One line of `GET /containers/{id}/changes`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeItem {
    /// Path inside the container.
    pub path: String,
    /// Docker's kind: 0 modified, 1 added, 2 deleted.
    pub kind: u8,
}

/// Mount targets the engine and runtime create in a container's writable layer for bind
/// mounts and kernel filesystems. Docker keeps these in a hidden init layer; here they are
/// left out of `diff` and `commit` while they are empty stubs.
const MOUNT_STUBS: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/.dockerenv",
    "/dev",
    "/dev/console",
    "/dev/pts",
    "/dev/shm",
    "/proc",
    "/sys",
];

/// Whether `rel` under `upper` is an empty file or empty directory.
fn is_stub(upper: &std::path::Path, path: &str) -> bool {
    let p = upper.join(path.trim_start_matches('/'));
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() => m.len() == 0,
        Ok(m) if m.is_dir() => std::fs::read_dir(&p).is_ok_and(|mut r| r.next().is_none()),
        _ => false,
    }
}

/// Drop added mount stubs from `changes`, and the `C` entries of directories that only
/// changed because a stub was created in them.
fn without_stubs(changes: Vec<ChangeItem>, upper: &std::path::Path) -> Vec<ChangeItem> {
    let stubs: Vec<String> = changes
        .iter()
        .filter(|c| {
            c.kind == 1 && MOUNT_STUBS.contains(&c.path.as_str()) && is_stub(upper, &c.path)
        })
        .map(|c| c.path.clone())
        .collect();
    let kept: Vec<ChangeItem> = changes
        .into_iter()
        .filter(|c| !stubs.contains(&c.path))
        .collect();
    let has_child = |dir: &str| {
        kept.iter().any(|c| {
            c.path.len() > dir.len()
                && c.path.starts_with(dir)
                && c.path.as_bytes()[dir.len()] == b'/'
        })
    };
    let stub_parent = |dir: &str| {
        stubs.iter().any(|s| {
            s.rsplit_once('/')
                .map(|(p, _)| if p.is_empty() { "/" } else { p })
                == Some(dir)
        })
    };
    kept.iter()
        .filter(|c| !(c.kind == 0 && stub_parent(&c.path) && !has_child(&c.path)))
        .cloned()
        .collect()
}

/// Quote a value for a `--change` `KEY="value"` pair.
fn quoted(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Docker commits the container's own config (its command, env, workdir, user, labels) as the
/// new image's defaults; expressed here as change lines applied before the user's.
fn config_changes(rec: &ContainerRecord) -> Vec<String> {
    let c = &rec.config;
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let mut out = Vec::new();
    if let Some(cmd) = &c.cmd {
        out.push(format!("CMD {}", json(cmd)));
    }
    if let Some(ep) = &c.entrypoint {
        out.push(format!("ENTRYPOINT {}", json(ep)));
    }
    for e in &c.env {
        if let Some((k, v)) = e.split_once('=') {
            if !k.is_empty() && !k.contains(char::is_whitespace) {
                out.push(format!("ENV {k}={}", quoted(v)));
            }
        }
    }
    if !c.working_dir.is_empty() {
        out.push(format!("WORKDIR {}", c.working_dir));
    }
    if !c.user.is_empty() {
        out.push(format!("USER {}", c.user));
    }
    for (k, v) in &c.labels {
        if !k.is_empty() && !k.contains(char::is_whitespace) && !k.contains('=') {
            out.push(format!("LABEL {k}={}", quoted(v)));
        }
    }
    if let Some(s) = &c.stop_signal {
        out.push(format!("STOPSIGNAL {s}"));
    }
    out
}

impl Containers {
    fn container_record(&self, key: &str) -> Result<ContainerRecord> {
        let inner = self.lock();
        let id = Self::find_id(&inner, key)?;
        inner
            .containers
            .get(&id)
            .cloned()
            .ok_or(EngineError::NoSuchContainer(key.to_owned()))
    }

    /// `docker commit CONTAINER [REPO[:TAG]]`: the writable layer becomes one new layer over
    /// the container's image; the container's config (then `changes`) becomes the image's.
    /// Returns the new image id.
    pub fn commit(&self, container: &str, req: &CommitRequest) -> Result<String> {
        let rec = self.container_record(container)?;
        let mut changes = config_changes(&rec);
        changes.extend(req.changes.iter().cloned());
        let mut created_by = vec![rec.path.clone()];
        created_by.extend(rec.args.iter().cloned());
        let opts = CommitOptions {
            message: req.comment.clone().filter(|s| !s.is_empty()),
            author: req.author.clone().filter(|s| !s.is_empty()),
            changes,
            created_by: Some(created_by.join(" ")),
            mount_stubs: MOUNT_STUBS.iter().map(|s| (*s).to_owned()).collect(),
            idmap: self.commit_idmap(&rec.host_config)?,
        };
        let info = self
            .images
            .store
            .commit(&rec.id, &opts, req.repo_tag.as_deref())
            .map_err(|e| match e {
                berth_image::StoreError::Change(c) => EngineError::InvalidParameter(c.to_string()),
                berth_image::StoreError::Reference(r) => {
                    EngineError::InvalidParameter(format!("invalid reference format: {r}"))
                }
                e => e.into(),
            })?;
        let id = info.record.id.to_string();
        self.emit_container(&rec.id, "commit", &[]);
        Ok(id)
    }

    /// `docker diff CONTAINER`: paths added, changed and deleted in the writable layer.
    pub fn container_changes(&self, container: &str) -> Result<Vec<ChangeItem>> {
        let rec = self.container_record(container)?;
        let changes = self.images.store.diff(&rec.id)?;
        let items = changes
            .into_iter()
            .map(|c| ChangeItem {
                path: c.path,
                kind: match c.kind {
                    ChangeKind::Changed => 0,
                    ChangeKind::Added => 1,
                    ChangeKind::Deleted => 2,
                },
            })
            .collect();
        let upper = self
            .images
            .store
            .snapshots()
            .upper_dir(&rec.id)
            .map_err(berth_image::StoreError::from)?;
        Ok(without_stubs(items, &upper))
    }

    /// Check that `container` exists before streaming its export; returns its id.
    pub fn export_target(&self, container: &str) -> Result<String> {
        Ok(self.container_record(container)?.id)
    }

    /// `docker export CONTAINER`: the merged root as a tar written to `w`. A running
    /// container's mounted root is read in place; a stopped one is mounted for the duration.
    pub fn export_container(&self, container: &str, mut w: impl Write) -> Result<()> {
        let rec = self.container_record(container)?;
        let rootfs = self.rootfs_dir(&rec.id);
        self.with_container_ids(&rec.id, &mut w, |w| {
            if rec.state.running && crate::images::is_mount_point(&rootfs) {
                berth_image::archive::export_dir(&rootfs, w)?;
            } else {
                self.images.store.export_container(&rec.id, w)?;
            }
            Ok(())
        })?;
        self.emit_container(&rec.id, "export", &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stubs_and_their_parents_are_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path();
        std::fs::create_dir_all(up.join("etc")).unwrap();
        std::fs::write(up.join("etc/hosts"), b"").unwrap();
        std::fs::write(up.join("etc/hostname"), b"real content").unwrap();
        std::fs::create_dir_all(up.join("proc")).unwrap();
        let c = |p: &str, kind| ChangeItem {
            path: p.into(),
            kind,
        };
        let got = without_stubs(
            vec![c("/etc", 0), c("/etc/hosts", 1), c("/proc", 1), c("/x", 1)],
            up,
        );
        assert_eq!(got, vec![c("/x", 1)]);
        // A stub with content is a real change and keeps its parent.
        let got = without_stubs(vec![c("/etc", 0), c("/etc/hostname", 1)], up);
        assert_eq!(got.len(), 2);
    }
}
