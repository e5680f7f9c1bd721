//! `image inspect`, `history` and `tag`: the image config shown in docker's shapes.

use berth_image::config::ContainerConfig;
use berth_image::Reference;
use serde::Serialize;
use serde_json::{json, Value};

use super::{familiar, not_found};
use crate::error::{EngineError, Result};
use crate::time::parse_rfc3339;
use crate::Images;

/// `GET /images/{name}/json`: docker's `ImageInspect`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// Image id (config digest).
    pub id: String,
    /// Tags in familiar form.
    pub repo_tags: Vec<String>,
    /// `name@digest` references.
    pub repo_digests: Vec<String>,
    /// Image it was committed from.
    pub parent: String,
    /// Comment of the newest history entry.
    pub comment: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// The container a docker commit or classic build step made it from (empty otherwise).
    pub container: String,
    /// That container's config, with docker's keys always present: docker-compose reads it
    /// on every recreate.
    pub container_config: Value,
    /// The docker version that built it, when a docker daemon did.
    pub docker_version: String,
    /// Author.
    pub author: String,
    /// Run-time defaults, with docker's keys always present.
    pub config: Value,
    /// CPU architecture.
    pub architecture: String,
    /// CPU variant, when the config names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Operating system.
    pub os: String,
    /// Unpacked size of all layers.
    pub size: u64,
    /// Docker's deprecated alias of `Size` (older clients read it).
    pub virtual_size: u64,
    /// Where the layers are (overlay lower dirs are internal: only the driver name).
    pub graph_driver: Value,
    /// Layer diff ids.
    #[serde(rename = "RootFS")]
    pub root_fs: Value,
    /// Tag time (unknown: the zero time like docker for never-tagged images).
    pub metadata: Value,
    /// Digest of the stored manifest (Berth extension: what `skopeo inspect` reports).
    pub manifest_digest: String,
}

/// One entry of `GET /images/{name}/history`, newest first.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    /// Image id for the newest entry, `<missing>` below it (docker's convention).
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The step's command.
    pub created_by: String,
    /// Tags of the image for the newest entry.
    pub tags: Option<Vec<String>>,
    /// Bytes the step added.
    pub size: u64,
    /// Commit message or import note.
    pub comment: String,
}

/// The image config's `config` with every key docker always prints.
fn config_json(c: Option<ContainerConfig>) -> Value {
    let c = c.unwrap_or_default();
    let mut v = json!({
        "Hostname": "", "Domainname": "",
        "User": c.user.unwrap_or_default(),
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "ExposedPorts": c.exposed_ports,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": c.env,
        "Cmd": c.cmd,
        "Image": "",
        "Volumes": c.volumes,
        "WorkingDir": c.working_dir.unwrap_or_default(),
        "Entrypoint": c.entrypoint,
        "OnBuild": c.on_build,
        "Labels": c.labels,
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(s) = c.stop_signal {
            o.insert("StopSignal".into(), json!(s));
        }
        if let Some(h) = c.healthcheck {
            o.insert("Healthcheck".into(), h);
        }
        if let Some(s) = c.shell {
            o.insert("Shell".into(), json!(s));
        }
    }
    v
}

/// A string field docker writes into image configs beyond the OCI ones (`container`,
/// `docker_version`), or empty.
fn extra_str(extra: &serde_json::Map<String, Value>, key: &str) -> String {
    extra
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl Images {
    /// `docker image inspect NAME`.
    pub fn inspect(&self, name: &str) -> Result<ImageInspect> {
        let info = self.store.resolve(name).map_err(not_found(name))?;
        let (_, cfg) = self.store.manifest_and_config(&info.record.id)?;
        let comment = cfg
            .history
            .last()
            .and_then(|h| h.comment.clone())
            .unwrap_or_default();
        let driver = match self.store.snapshots().kind() {
            berth_image::SnapshotterKind::Overlay => "overlay",
            berth_image::SnapshotterKind::Copy => "vfs",
        };
        Ok(ImageInspect {
            id: info.record.id.to_string(),
            repo_tags: info.repo_tags.iter().map(|t| familiar(t)).collect(),
            repo_digests: info
                .record
                .repo_digests
                .iter()
                .map(|t| familiar_digest(t))
                .collect(),
            parent: info
                .record
                .parent
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            comment,
            created: cfg.created.clone().unwrap_or_default(),
            container: extra_str(&cfg.extra, "container"),
            container_config: config_json(
                cfg.extra
                    .get("container_config")
                    .and_then(|v| serde_json::from_value(v.clone()).ok()),
            ),
            docker_version: extra_str(&cfg.extra, "docker_version"),
            author: cfg.author.clone().unwrap_or_default(),
            config: config_json(cfg.config.clone()),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone(),
            os: cfg.os.clone(),
            size: info.record.size,
            virtual_size: info.record.size,
            graph_driver: json!({"Name": driver, "Data": null}),
            root_fs: json!({
                "Type": cfg.rootfs.kind,
                "Layers": cfg.rootfs.diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            metadata: json!({"LastTagTime": crate::time::ZERO_TIME}),
            manifest_digest: info.record.manifest_digest.to_string(),
        })
    }

    /// `docker history NAME`.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let info = self.store.resolve(name).map_err(not_found(name))?;
        let entries = self.store.history(name).map_err(not_found(name))?;
        let tags: Vec<String> = info.repo_tags.iter().map(|t| familiar(t)).collect();
        Ok(entries
            .into_iter()
            .map(|e| {
                let newest = e.id.is_some();
                HistoryItem {
                    id: e
                        .id
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "<missing>".into()),
                    created: e.created.as_deref().and_then(parse_rfc3339).unwrap_or(0),
                    created_by: e.created_by,
                    tags: newest.then(|| tags.clone()),
                    size: e.size,
                    comment: e.comment,
                }
            })
            .collect())
    }

    /// `docker tag SOURCE REPO[:TAG]` (`POST /images/{name}/tag?repo=&tag=`).
    pub fn tag(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let target = match tag.filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_owned(),
        };
        let parsed = Reference::parse(&target).map_err(|e| {
            EngineError::InvalidParameter(format!("invalid reference format: {target:?}: {e}"))
        })?;
        if parsed.digest().is_some() {
            return Err(EngineError::InvalidParameter(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        self.store.tag(source, &target).map_err(not_found(source))?;
        let id = self
            .store
            .resolve(source)
            .map(|i| i.record.id.to_string())
            .unwrap_or_default();
        let shown = familiar(&parsed.to_string());
        self.events.emit("image", "tag", &id, &[("name", &shown)]);
        Ok(())
    }
}

/// `docker.io/library/busybox@sha256:…` → `busybox@sha256:…`.
fn familiar_digest(r: &str) -> String {
    Reference::parse(r)
        .map(|x| x.familiar())
        .unwrap_or_else(|_| r.to_owned())
}
