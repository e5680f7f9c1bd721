//! Creating containers and describing them: `create`, `ps` (list), `inspect`, `info`.

use std::collections::BTreeMap;

use berth_image::Reference;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
pub use crate::list_filters::ListFilters;
use crate::record::{ContainerConfig, ContainerRecord, ContainerState, HostConfig};
use crate::time::now_rfc3339;
use crate::{names, spec, Engine};

/// The body of docker's `POST /containers/create`: the config at the top level plus
/// `HostConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateRequest {
    /// What to run.
    #[serde(flatten)]
    pub config: ContainerConfig,
    /// How to run it on this host.
    #[serde(rename = "HostConfig", default)]
    pub host_config: Option<HostConfig>,
    /// Networks to join and per-network settings (aliases, fixed address).
    #[serde(rename = "NetworkingConfig", default)]
    pub networking_config: Option<crate::network::NetworkingConfig>,
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// Full id.
    pub id: String,
    /// Names with docker's leading `/`.
    pub names: Vec<String>,
    /// The image as the user named it (`busybox`).
    pub image: String,
    /// Image id the container was created from.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Entrypoint+Cmd joined by spaces.
    pub command: String,
    /// Creation time.
    pub created: i64,
    /// Published ports (none until networking lands).
    pub ports: Vec<serde_json::Value>,
    /// Metadata labels.
    pub labels: BTreeMap<String, String>,
    /// Current state.
    pub state: String,
    /// Docker state name.
    pub status: String,
    /// How to run it on this host.
    pub host_config: serde_json::Value,
    /// Networks (none until networking lands).
    pub network_settings: serde_json::Value,
    /// Mounts (none until volumes land).
    pub mounts: Vec<serde_json::Value>,
}

/// `GET /containers/{id}/json`: the record plus the paths docker shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    /// The persisted record.
    #[serde(flatten)]
    pub record: ContainerRecord,
    /// The json-file log.
    pub log_path: String,
    /// The container's resolv.conf (none until networking lands).
    pub resolv_conf_path: String,
    /// The container's /etc/hostname file (not written yet).
    pub hostname_path: String,
    /// The container's /etc/hosts file (not written yet).
    pub hosts_path: String,
    /// SELinux mount label (unused).
    pub mount_label: String,
    /// SELinux process label (unused).
    pub process_label: String,
    /// AppArmor profile (unused).
    pub app_armor_profile: String,
    /// Running exec sessions (none yet).
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    /// Storage driver name and the upper/merged dirs.
    pub graph_driver: serde_json::Value,
    /// Mounts (none until volumes land).
    pub mounts: Vec<serde_json::Value>,
    /// Networks (none until networking lands).
    pub network_settings: serde_json::Value,
}

/// Counts for `GET /info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineInfo {
    /// All containers.
    pub containers: usize,
    /// Running containers.
    pub running: usize,
    /// Paused containers.
    pub paused: usize,
    /// Containers not running.
    pub stopped: usize,
    /// Images in the store.
    pub images: usize,
}

/// `busybox` → `busybox:latest`, as docker names an image in messages.
pub(crate) fn familiar_with_tag(image: &str) -> String {
    match Reference::parse_normalized_named(image) {
        Ok(r) if r.tag().is_none() && r.digest().is_none() => format!("{}:latest", r.familiar()),
        Ok(r) => r.familiar(),
        Err(_) => image.to_owned(),
    }
}

/// Fills what the request left out from the image's config (docker's merge rules: an
/// entrypoint given in the request drops the image's cmd).
fn merge_image_config(
    cfg: &mut ContainerConfig,
    img: Option<&berth_image::config::ContainerConfig>,
) {
    let Some(img) = img else { return };
    if cfg.entrypoint.is_none() {
        cfg.entrypoint = img.entrypoint.clone();
        if cfg.cmd.is_none() {
            cfg.cmd = img.cmd.clone();
        }
    }
    let mut env: Vec<String> = img.env.clone().unwrap_or_default();
    for e in &cfg.env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    cfg.env = env;
    if cfg.working_dir.is_empty() {
        cfg.working_dir = img.working_dir.clone().unwrap_or_default();
    }
    if cfg.user.is_empty() {
        cfg.user = img.user.clone().unwrap_or_default();
    }
    if cfg.stop_signal.is_none() {
        cfg.stop_signal = img.stop_signal.clone();
    }
    for (k, v) in img.labels.clone().unwrap_or_default() {
        cfg.labels.entry(k).or_insert(v);
    }
}

impl Engine {
    /// `docker create`: records a container from an image; its writable layer is prepared now,
    /// nothing runs until [`Engine::start`]. Returns the new id.
    pub fn create(&self, req: CreateRequest, name: Option<&str>) -> Result<String> {
        let mut cfg = req.config;
        if cfg.image.is_empty() {
            return Err(EngineError::InvalidParameter(
                "config cannot be empty in order to create a container".into(),
            ));
        }
        let wanted = name
            .filter(|n| !n.is_empty())
            .map(names::validate)
            .transpose()?;
        let image = self.images.resolve(&cfg.image).map_err(|e| match e {
            berth_image::StoreError::NotFound(_) => {
                EngineError::NoSuchImage(familiar_with_tag(&cfg.image))
            }
            e => e.into(),
        })?;
        let (_, img_cfg) = self.images.manifest_and_config(&image.record.id)?;
        merge_image_config(&mut cfg, img_cfg.config.as_ref());
        crate::network::merge_exposed(&mut cfg, img_cfg.config.as_ref());
        let img_health = img_cfg.config.as_ref().and_then(|c| c.healthcheck.as_ref());
        crate::health::merge_image(&mut cfg.healthcheck, img_health);
        crate::health::validate(cfg.healthcheck.as_ref())?;
        let args = spec::process_args(&cfg);
        let Some((path, rest)) = args.split_first() else {
            return Err(EngineError::InvalidParameter("No command specified".into()));
        };
        let id = names::new_id()?;
        if cfg.hostname.is_empty() {
            cfg.hostname = id[..12].to_owned();
        }
        let mut host_config = req.host_config.unwrap_or_default();
        crate::network::validate_dns(&cfg, &host_config)?;
        host_config.restart_policy.validate()?;
        host_config.modes.normalize()?;
        host_config.log_config.rotation()?;
        crate::resources::validate(&mut host_config.resources, false)?;
        crate::security::validate(&host_config.confinement)?;
        crate::userns::validate(self.cfg.userns_remap.as_deref(), &host_config)?;
        if host_config.log_config.kind.is_empty() {
            host_config.log_config.kind = "json-file".into();
        }
        if host_config.auto_remove && !matches!(host_config.restart_policy.name.as_str(), "" | "no")
        {
            return Err(EngineError::InvalidParameter(
                "can't create 'AutoRemove' container with restart policy".into(),
            ));
        }
        let mut inner = self.lock();
        let taken = |n: &str| inner.containers.values().find(|r| r.short_name() == n);
        let name = match wanted {
            Some(n) => {
                if let Some(other) = taken(&n) {
                    return Err(EngineError::Conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                        other.id
                    )));
                }
                n
            }
            None => {
                let mut retry = 0;
                loop {
                    let n = names::generate(retry)?;
                    if taken(&n).is_none() {
                        break n;
                    }
                    retry += 1;
                }
            }
        };
        let image_volumes = img_cfg.config.as_ref().and_then(|c| c.volumes.as_ref());
        self.setup_mounts(&inner, &id, &mut cfg, &host_config, image_volumes)?;
        let mut rec = ContainerRecord {
            id: id.clone(),
            created: now_rfc3339(),
            path: path.clone(),
            args: rest.to_vec(),
            state: ContainerState::default(),
            image: image.record.id.to_string(),
            name: format!("/{name}"),
            restart_count: 0,
            driver: "overlay".into(),
            platform: "linux".into(),
            config: cfg,
            host_config,
            manually_stopped: false,
        };
        if let Err(e) = self
            .images
            .prepare_container(&id, &image.record.id.to_string())
        {
            self.release_mounts(&id, true);
            return Err(e.into());
        }
        if let Err(e) = self
            .net_register(&inner, &mut rec, req.networking_config.as_ref())
            .and_then(|()| self.records.save(&rec))
        {
            self.net_unregister(&id);
            let _ = self.images.remove_container(&id);
            self.release_mounts(&id, true);
            return Err(e);
        }
        inner.containers.insert(id.clone(), rec);
        drop(inner);
        self.emit_container(&id, "create", &[]);
        Ok(id)
    }

    /// `docker ps`: running containers, or all with `all`, newest first.
    pub fn list(&self, all: bool) -> Vec<ContainerSummary> {
        self.list_filtered(all, &ListFilters::default())
            .unwrap_or_default()
    }

    /// `docker inspect` of a container.
    pub fn inspect(&self, key: &str) -> Result<ContainerInspect> {
        let inner = self.lock();
        let id = Self::find_id(&inner, key)?;
        let record = inner
            .containers
            .get(&id)
            .cloned()
            .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
        let upper = self
            .images
            .snapshots()
            .upper_dir(&id)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let network_settings = self.network_settings(&record);
        let mut record = record;
        // Docker shows a restarting container as running.
        record.state.running |= record.state.restarting;
        // Docker shows no log path for a driver without a file.
        let log_path = crate::log_driver::shim_log_path(self.log_path(&id), &record.host_config);
        Ok(ContainerInspect {
            record,
            log_path: log_path.display().to_string(),
            resolv_conf_path: self.etc_paths(&id).0,
            hostname_path: self.etc_paths(&id).1,
            hosts_path: self.etc_paths(&id).2,
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            graph_driver: serde_json::json!({
                "Name": "overlay",
                "Data": {
                    "UpperDir": upper,
                    "MergedDir": self.rootfs_dir(&id).display().to_string(),
                },
            }),
            mounts: self.mounts_view(&id),
            network_settings,
        })
    }

    /// Counts of containers by state, and of images.
    pub fn info(&self) -> EngineInfo {
        let inner = self.lock();
        let mut i = EngineInfo {
            containers: inner.containers.len(),
            images: self.images.images().len(),
            ..Default::default()
        };
        for r in inner.containers.values() {
            if r.state.paused {
                i.paused += 1;
            } else if r.state.running {
                i.running += 1;
            } else {
                i.stopped += 1;
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_docker() {
        let img = berth_image::config::ContainerConfig {
            entrypoint: Some(vec!["/ep".into()]),
            cmd: Some(vec!["default".into()]),
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            working_dir: Some("/w".into()),
            ..Default::default()
        };
        let mut c = ContainerConfig {
            cmd: Some(vec!["mine".into()]),
            env: vec!["A=2".into()],
            ..Default::default()
        };
        merge_image_config(&mut c, Some(&img));
        assert_eq!(spec::process_args(&c), ["/ep", "mine"]);
        assert_eq!(c.env, ["PATH=/bin", "A=2"]);
        assert_eq!(c.working_dir, "/w");
        let mut e = ContainerConfig {
            entrypoint: Some(vec!["/other".into()]),
            ..Default::default()
        };
        merge_image_config(&mut e, Some(&img));
        assert_eq!(spec::process_args(&e), ["/other"]);
        assert_eq!(familiar_with_tag("busybox"), "busybox:latest");
        assert_eq!(familiar_with_tag("x:1"), "x:1");
    }
}
