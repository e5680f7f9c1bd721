//! berth-engine: the container engine behind `berthd`, free of HTTP.
//!
//! [`Engine`] owns the container records (docker's `Config`/`HostConfig`/`State` shapes,
//! persisted under the data root), the image store (`berth-image`), and the per-container
//! monitors (`berth-shim`). Its operations are blocking calls that the API layer runs off its
//! async threads:
//! - containers: [`Engine::create`], [`Engine::start`], [`Engine::stop`], [`Engine::kill`],
//!   [`Engine::remove`], [`Engine::wait`], [`Engine::list`], [`Engine::inspect`],
//!   [`Engine::logs`], [`Engine::attach`], [`Engine::top`], [`Engine::restart`];
//! - images: [`Engine::import_image`], [`Engine::images`], [`Engine::remove_image`];
//! - system: [`Engine::info`].
//!
//! Process model: the engine never forks a container. `start` mounts the container's overlay
//! root, writes the OCI spec to `<exec-root>/containers/<id>/config.json` and runs
//! `berth-shim`, which creates and starts the container with the runtime library, writes the
//! json-file log and leaves `exit.json` when the container ends. A watcher thread (inotify on
//! each running container's exec dir, plus a periodic sweep) turns that file into the
//! `exited` state, so berthd may be restarted at any time: [`Engine::open`] reloads every record
//! and reconciles it with the shims' files.

#![warn(missing_docs)]

pub mod archive;
pub mod attach;
pub mod build;
mod containers;
pub mod error;
pub mod events;
mod events_filter;
mod exec;
mod exits;
pub mod health;
pub mod host_modes;
mod images;
mod init;
mod lifecycle;
mod list_filters;
mod log_driver;
/// Docker's `filters` JSON, one parser for every route that takes it.
pub use list_filters::parse_fields as parse_filter_json;
mod listing;
pub mod logs;
mod names;
pub mod network;
mod pause;
pub mod perms;
pub mod record;
pub mod registry;
pub mod resources;
mod restarting;
mod rootless;
mod rootless_net;
pub mod security;
mod shim;
pub mod spec;
pub mod stats;
#[cfg(test)]
mod tests;
pub mod time;
mod top;
pub mod user;
pub mod userns;
pub mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use berth_image::{ImageStore, StoreConfig};

pub use attach::{AttachConn, AttachTicket};
pub use containers::{ContainerInspect, ContainerSummary, CreateRequest, EngineInfo, ListFilters};
pub use error::{EngineError, ErrorKind, Result};
pub use events::{Event, EventFilter, EventStream};
pub use exec::{ExecConfig, ExecInspect};
pub use exits::{WaitCondition, WaitResult, Waiter};
pub use images::{
    ChangeItem, CommitRequest, ContainerUsage, DiskUsageReport, HistoryItem, ImageDeleteItem,
    ImageFilters, ImageInspect, ImagePruneReport, ImageSummary,
};
pub use logs::{LogEntry, LogOptions, LogPoll, LogReader, LogStream};
pub use record::{ContainerConfig, ContainerRecord, ContainerState, HostConfig, RestartPolicy};
pub use shim::ExitRecord;
pub use top::TopResult;

/// Where the engine keeps things, and which shim binary it runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Persistent state: `containers/<id>/` (record, log), `image/` (the image store).
    pub data_root: PathBuf,
    /// Runtime state (tmpfs): `containers/<id>/` (bundle, rootfs mount, shim files), `runtime/`.
    pub exec_root: PathBuf,
    /// The `berth-shim` binary.
    pub shim_binary: PathBuf,
    /// Container networking (`None`: off, every container gets an empty namespace).
    pub network: Option<network::NetworkOptions>,
    /// Rootless daemon (root of its own user namespace): no cgroup limits without delegation,
    /// user-mode networking (`rootless` module).
    pub rootless: bool,
    /// `--userns-remap`: containers run in a user namespace mapped to these ids.
    pub userns_remap: Option<Arc<userns::Remap>>,
}

impl EngineConfig {
    /// A config with the shim found next to the running binary (or `BERTH_SHIM`, or `PATH`).
    pub fn new(data_root: impl Into<PathBuf>, exec_root: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_root: data_root.into(),
            exec_root: exec_root.into(),
            shim_binary: shim::find_binary(),
            network: None,
            rootless: false,
            userns_remap: None,
        }
    }
}

/// Mutable engine state, behind one lock.
#[derive(Default)]
struct Inner {
    containers: BTreeMap<String, ContainerRecord>,
    waiters: HashMap<String, Vec<exits::Registered>>,
    execs: exec::ExecTable,
    /// Containers whose start is in progress.
    starting: std::collections::HashSet<String>,
    /// Attaches waiting for a container's start, by container id.
    attach_pending: HashMap<String, usize>,
}

/// The engine. Open it once per daemon; share it as `Arc<Engine>`.
pub struct Engine {
    cfg: EngineConfig,
    images: ImageStore,
    records: record::RecordStore,
    inner: Mutex<Inner>,
    watcher: exits::Watcher,
    /// Event history and subscribers.
    events: Mutex<events::EventBus>,
    /// A handle on ourselves for background work (delayed restarts).
    me: OnceLock<Weak<Engine>>,
    /// Networks and the containers' attachments (set once at open).
    net: OnceLock<berth_network::Networks>,
    /// Volumes and the containers' references to them.
    volumes: volumes::VolumeStore,
    /// Due healthcheck probes and the workers that run them.
    health: health::Scheduler,
}

impl Engine {
    /// Opens the stores under the configured roots, reloads every container and reconciles it
    /// with what its shim left (exit files, live shims), and starts the exit watcher.
    pub fn open(cfg: EngineConfig) -> Result<Arc<Engine>> {
        perms::secure_layout(&cfg.data_root, &cfg.exec_root)?;
        let images = ImageStore::open(StoreConfig::new(cfg.data_root.join("image")))?;
        let records = record::RecordStore::open(cfg.data_root.join("containers"))?;
        let mut inner = Inner::default();
        for rec in records.load_all()? {
            inner.containers.insert(rec.id.clone(), rec);
        }
        let volumes = volumes::VolumeStore::open(
            cfg.data_root.join("volumes"),
            cfg.data_root.join("containers"),
            inner.containers.keys(),
        )?;
        let engine = Arc::new(Engine {
            volumes,
            images,
            records,
            inner: Mutex::new(inner),
            watcher: exits::Watcher::new()?,
            me: OnceLock::new(),
            net: OnceLock::new(),
            events: Mutex::new(events::EventBus::default()),
            health: health::Scheduler::default(),
            cfg,
        });
        let _ = engine.me.set(Arc::downgrade(&engine));
        engine.recover();
        engine.health_resume();
        engine.remove_stale_build_contexts();
        engine.open_network();
        exits::spawn_watcher(&engine);
        Ok(engine)
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `<exec-root>/containers/<id>`: bundle, rootfs mount point, shim files.
    fn exec_dir(&self, id: &str) -> PathBuf {
        self.cfg.exec_root.join("containers").join(id)
    }

    /// The runtime library's state root.
    fn runtime_root(&self) -> PathBuf {
        self.cfg.exec_root.join("runtime")
    }

    /// `<data-root>/containers/<id>/<id>-json.log`.
    fn log_path(&self, id: &str) -> PathBuf {
        self.records
            .container_dir(id)
            .join(format!("{id}-json.log"))
    }

    /// Finds a container by full id, unique id prefix or name (with or without `/`).
    fn find_id(inner: &Inner, key: &str) -> Result<String> {
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
}
