//! The containers service ([`Containers`]): its state and lock, and creating and describing
//! containers (`create`, `ps`, `inspect`, `info`). The rest of its operations are `impl
//! Containers` blocks in the modules named after them (`lifecycle`, `exec`, `attach`, `logs`,
//! `exits`, `archive`, `pause`, `stats`, `top`, `network`, `volumes/container`, …).

pub mod archive;
pub mod attach;
mod commit;
pub mod exec;
pub mod exits;
pub mod health;
mod lifecycle;
mod listing;
mod log_driver;
pub mod logs;
mod net;
mod pause;
mod restarting;
mod rootless;
pub mod stats;
pub mod top;
mod update;
mod userns;
mod volume_mounts;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use berth_image::Reference;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
pub use crate::list_filters::ListFilters;
use crate::model::{ContainerConfig, ContainerRecord, ContainerState, HostConfig};
use crate::record::RecordStore;
use crate::time::now_rfc3339;
use crate::{names, spec, EngineConfig, Events, Images, Networks, Volumes};
pub use commit::{ChangeItem, CommitRequest};

/// The services containers use (they never use containers: the dependency points one way).
pub(crate) struct Services {
    pub images: Arc<Images>,
    pub volumes: Arc<Volumes>,
    pub networks: Arc<Networks>,
    pub events: Arc<Events>,
}

/// The containers' mutable state, behind the service's one lock.
#[derive(Default)]
pub(crate) struct Inner {
    pub containers: BTreeMap<String, ContainerRecord>,
    pub waiters: HashMap<String, Vec<exits::Registered>>,
    pub execs: exec::ExecTable,
    /// Containers whose start is in progress.
    pub starting: HashSet<String>,
    /// Attaches waiting for a container's start, by container id.
    pub attach_pending: HashMap<String, usize>,
}

/// The containers service: records, lifecycle through the shim, exec, attach, logs, stats,
/// archive, commit, and each container's networks and volumes.
pub struct Containers {
    pub(crate) cfg: EngineConfig,
    pub(crate) records: RecordStore,
    inner: Mutex<Inner>,
    pub(crate) watcher: exits::Watcher,
    /// A handle on ourselves for background work (delayed restarts, exec reapers).
    pub(crate) me: OnceLock<Weak<Containers>>,
    pub(crate) images: Arc<Images>,
    pub(crate) volumes: Arc<Volumes>,
    pub(crate) networks: Arc<Networks>,
    pub(crate) events: Arc<Events>,
    /// Due healthcheck probes and the workers that run them.
    pub(crate) health: health::Scheduler,
}

impl Containers {
    /// Takes the loaded records, reconciles them with what the shims left, opens the
    /// containers' networking and starts the exit watcher.
    pub(crate) fn open(
        cfg: EngineConfig,
        records: RecordStore,
        loaded: Vec<ContainerRecord>,
        s: Services,
    ) -> Result<Arc<Containers>> {
        let mut inner = Inner::default();
        for rec in loaded {
            inner.containers.insert(rec.id.clone(), rec);
        }
        let c = Arc::new(Containers {
            cfg,
            records,
            inner: Mutex::new(inner),
            watcher: exits::Watcher::new()?,
            me: OnceLock::new(),
            images: s.images,
            volumes: s.volumes,
            networks: s.networks,
            events: s.events,
            health: health::Scheduler::default(),
        });
        let _ = c.me.set(Arc::downgrade(&c));
        c.recover();
        c.health_resume();
        c.open_network();
        exits::spawn_watcher(&c);
        Ok(c)
    }

    /// The ids of the containers that run now.
    pub(crate) fn running_ids(&self) -> Vec<String> {
        self.lock()
            .containers
            .values()
            .filter(|r| r.state.running)
            .map(|r| r.id.clone())
            .collect()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `<exec-root>/containers/<id>`: bundle, rootfs mount point, shim files.
    pub(crate) fn exec_dir(&self, id: &str) -> PathBuf {
        self.cfg.exec_root.join("containers").join(id)
    }

    /// The runtime library's state root.
    pub(crate) fn runtime_root(&self) -> PathBuf {
        self.cfg.exec_root.join("runtime")
    }

    /// `<data-root>/containers/<id>/<id>-json.log`.
    pub(crate) fn log_path(&self, id: &str) -> PathBuf {
        self.records
            .container_dir(id)
            .join(format!("{id}-json.log"))
    }

    /// Finds a container by full id, unique id prefix or name (with or without `/`).
    pub(crate) fn find_id(inner: &Inner, key: &str) -> Result<String> {
        let name = key.trim_start_matches('/');
        if inner.containers.contains_key(key) {
            return Ok(key.to_owned());
        }
        if let Some(r) = inner.containers.values().find(|r| r.short_name() == name) {
            return Ok(r.id.clone());
        }
        let hits: Vec<&String> = if key.is_empty() {
            Vec::new()
        } else {
            inner
                .containers
                .keys()
                .filter(|id| id.starts_with(key))
                .collect()
        };
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(EngineError::NoSuchContainer(key.to_owned())),
            _ => Err(EngineError::InvalidParameter(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    /// Emits a container event with docker's attributes: the container's labels, `image`
    /// and `name`, plus `extra` (label filters on events match the labels).
    pub(crate) fn emit_container(&self, id: &str, action: &str, extra: &[(&str, &str)]) {
        let rec = self.lock().containers.get(id).cloned();
        match rec {
            Some(rec) => self.emit_for(&rec, action, extra),
            None => {
                let mut attrs = vec![("image", ""), ("name", "")];
                attrs.extend_from_slice(extra);
                self.events.emit("container", action, id, &attrs);
            }
        }
    }

    /// [`Self::emit_container`] for a record in hand, so a caller holding the lock emits in
    /// the same critical section as the state change (a `start` can then never follow the
    /// `die` the exit watcher records for a program that exits at once).
    pub(crate) fn emit_for(&self, rec: &ContainerRecord, action: &str, extra: &[(&str, &str)]) {
        let name = rec.short_name();
        let mut attrs: Vec<(&str, &str)> = rec
            .config
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        attrs.extend_from_slice(&[("image", &rec.config.image), ("name", name)]);
        attrs.extend_from_slice(extra);
        self.events.emit("container", action, &rec.id, &attrs);
    }
}

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
    pub networking_config: Option<crate::model::NetworkingConfig>,
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

impl Containers {
    /// `docker create`: records a container from an image; its writable layer is prepared now,
    /// nothing runs until [`Containers::start`]. Returns the new id.
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
        let image = self.images.store.resolve(&cfg.image).map_err(|e| match e {
            berth_image::StoreError::NotFound(_) => {
                EngineError::NoSuchImage(familiar_with_tag(&cfg.image))
            }
            e => e.into(),
        })?;
        let (_, img_cfg) = self.images.store.manifest_and_config(&image.record.id)?;
        merge_image_config(&mut cfg, img_cfg.config.as_ref());
        crate::network::merge_exposed(&mut cfg, img_cfg.config.as_ref());
        let img_health = img_cfg.config.as_ref().and_then(|c| c.healthcheck.as_ref());
        health::merge_image(&mut cfg.healthcheck, img_health);
        health::validate(cfg.healthcheck.as_ref())?;
        let args = spec::process_args(&cfg);
        let Some((path, rest)) = args.split_first() else {
            return Err(EngineError::InvalidParameter("No command specified".into()));
        };
        let id = names::new_id()?;
        if cfg.hostname.is_empty() {
            cfg.hostname = id[..12].to_owned();
        }
        let host_config = self.checked_host_config(&cfg, req.host_config.unwrap_or_default())?;
        let mut inner = self.lock();
        let name = Self::pick_name(&inner, wanted)?;
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
            .store
            .prepare_container(&id, &image.record.id.to_string())
        {
            self.release_mounts(&id, true);
            return Err(e.into());
        }
        if let Err(e) = self
            .net_register(&inner, &mut rec, req.networking_config.as_ref())
            .and_then(|()| self.records.save(&rec))
        {
            self.networks.net_unregister(&id);
            let _ = self.images.store.remove_container(&id);
            self.release_mounts(&id, true);
            return Err(e);
        }
        inner.containers.insert(id.clone(), rec);
        drop(inner);
        self.emit_container(&id, "create", &[]);
        Ok(id)
    }

    /// Every check of a create request's `HostConfig` that needs no lock, before anything is
    /// made; fills in docker's defaults.
    fn checked_host_config(
        &self,
        cfg: &ContainerConfig,
        mut host: HostConfig,
    ) -> Result<HostConfig> {
        crate::network::validate_dns(cfg, &host)?;
        host.restart_policy.validate()?;
        host.modes.normalize()?;
        host.log_config.rotation()?;
        crate::resources::validate(&mut host.resources, false)?;
        crate::security::validate(&host.confinement)?;
        crate::userns::validate(self.cfg.userns_remap.as_deref(), &host)?;
        if host.log_config.kind.is_empty() {
            host.log_config.kind = "json-file".into();
        }
        if host.auto_remove && !matches!(host.restart_policy.name.as_str(), "" | "no") {
            return Err(EngineError::InvalidParameter(
                "can't create 'AutoRemove' container with restart policy".into(),
            ));
        }
        Ok(host)
    }

    /// The asked name if free (docker's conflict message otherwise), or a generated one.
    fn pick_name(inner: &Inner, wanted: Option<String>) -> Result<String> {
        let taken = |n: &str| inner.containers.values().find(|r| r.short_name() == n);
        if let Some(n) = wanted {
            if let Some(other) = taken(&n) {
                return Err(EngineError::Conflict(format!(
                    "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                )));
            }
            return Ok(n);
        }
        let mut retry = 0;
        loop {
            let n = names::generate(retry)?;
            if taken(&n).is_none() {
                return Ok(n);
            }
            retry += 1;
        }
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
            .store
            .snapshots()
            .upper_dir(&id)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let network_settings = self.networks.network_settings(&record);
        let mut record = record;
        // Docker shows a restarting container as running.
        record.state.running |= record.state.restarting;
        // Docker shows no log path for a driver without a file.
        let log_path = log_driver::shim_log_path(self.log_path(&id), &record.host_config);
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
            images: self.images.store.images().len(),
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
