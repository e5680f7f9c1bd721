//! berth-engine: the container engine behind `berthd`, free of HTTP.
//!
//! [`Engine`] is thin: it opens and composes the services, each with its own state and lock,
//! that berthd (and any other front end) calls through its accessors:
//! - [`Containers`] (`engine.containers()`): the container records (docker's
//!   `Config`/`HostConfig`/`State` shapes, persisted under the data root), lifecycle, exec,
//!   attach, logs, stats, archive (`cp`), commit, and the containers' networks and volumes;
//! - [`Images`] (`engine.images()`): the image store (`berth-image`), pull/push (registry),
//!   save/load, tags, prune;
//! - [`Volumes`] (`engine.volumes()`) and [`Networks`] (`engine.networks()`): those objects;
//! - [`Builds`] (`engine.builds()`): `docker build` over the image store;
//! - [`Events`] (`engine.events()`): the event history and live feed every service writes to.
//!
//! Dependencies between services point one way: containers and builds use images, volumes,
//! networks and events; images, volumes and networks use events; events uses nothing. The
//! plain data types they share live in [`model`], which depends on no service.
//!
//! Process model: the engine never forks a container. `start` mounts the container's overlay
//! root, writes the OCI spec to `<exec-root>/containers/<id>/config.json` and runs
//! `berth-shim`, which creates and starts the container with the runtime library, writes the
//! json-file log and leaves `exit.json` when the container ends. A watcher thread (inotify on
//! each running container's exec dir, plus a periodic sweep) turns that file into the
//! `exited` state, so berthd may be restarted at any time: [`Engine::open`] reloads every record
//! and reconciles it with the shims' files.

#![warn(missing_docs)]

pub mod build;
mod containers;
pub mod error;
pub mod events;
pub mod model;

mod fsops;

mod images;
mod init;
mod list_filters;
/// Docker's `filters` JSON, one parser for every route that takes it.
pub use list_filters::parse_fields as parse_filter_json;
mod names;
pub mod network;
pub mod perms;
pub mod record;
pub mod registry;
pub mod resources;
mod rootless;
mod rootless_net;
pub mod security;
mod shim;
pub mod spec;
mod system;
pub use system::{ContainerUsage, DiskUsageReport};
#[cfg(test)]
mod tests;
pub mod time;
pub mod user;
pub mod userns;
pub mod volumes;

use std::path::PathBuf;
use std::sync::Arc;

pub use build::Builds;
pub use containers::attach::{AttachConn, AttachTicket};
pub use containers::exec::{ExecConfig, ExecInspect};
pub use containers::exits::{WaitCondition, WaitResult, Waiter};
pub use containers::logs::{LogEntry, LogOptions, LogPoll, LogReader, LogStream};
pub use containers::top::TopResult;
pub use containers::Containers;
pub(crate) use containers::Inner;
pub use containers::{archive, attach, logs, stats};
pub use containers::{ChangeItem, CommitRequest};
pub use containers::{ContainerInspect, ContainerSummary, CreateRequest, EngineInfo, ListFilters};
pub use error::{EngineError, ErrorKind, Result};
pub use events::Events;
pub use events::{Event, EventFilter, EventStream};
pub use images::Images;
pub use images::{
    HistoryItem, ImageDeleteItem, ImageFilters, ImageInspect, ImagePruneReport, ImageSummary,
};
pub use model::{ContainerConfig, ContainerRecord, ContainerState, HostConfig, RestartPolicy};
pub use network::Networks;
pub use shim::ExitRecord;
pub use volumes::Volumes;

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
    /// Insecure registries and Docker Hub mirrors (`--insecure-registry`,
    /// `--registry-mirror`); default: from the environment (`registry_options_from_env`).
    pub registry: registry::RegistryOptions,
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
            registry: registry::registry_options_from_env(),
        }
    }
}

/// The engine: the services, opened together over one data root and exec root. Open it once
/// per daemon; share it as `Arc<Engine>`.
pub struct Engine {
    cfg: EngineConfig,
    events: Arc<Events>,
    images: Arc<Images>,
    volumes: Arc<Volumes>,
    networks: Arc<Networks>,
    containers: Arc<Containers>,
    builds: Builds,
}

impl Engine {
    /// Opens the stores under the configured roots, reloads every container and reconciles it
    /// with what its shim left (exit files, live shims), and starts the exit watcher.
    pub fn open(cfg: EngineConfig) -> Result<Arc<Engine>> {
        perms::secure_layout(&cfg.data_root, &cfg.exec_root)?;
        let events = Arc::new(Events::default());
        let images = Arc::new(Images::open(&cfg, events.clone())?);
        let records = record::RecordStore::open(cfg.data_root.join("containers"))?;
        let loaded = records.load_all()?;
        let volumes = Arc::new(Volumes::open(
            &cfg,
            loaded.iter().map(|r| &r.id),
            events.clone(),
        )?);
        let networks = Arc::new(Networks::new(cfg.clone(), events.clone()));
        let builds = Builds::new(
            cfg.clone(),
            images.clone(),
            networks.clone(),
            events.clone(),
        );
        builds.remove_stale_build_contexts();
        let containers = Containers::open(
            cfg.clone(),
            records,
            loaded,
            containers::Services {
                images: images.clone(),
                volumes: volumes.clone(),
                networks: networks.clone(),
                events: events.clone(),
            },
        )?;
        Ok(Arc::new(Engine {
            cfg,
            events,
            images,
            volumes,
            networks,
            containers,
            builds,
        }))
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Containers: create, start, stop, exec, attach, logs, inspect, list, remove, …
    pub fn containers(&self) -> &Arc<Containers> {
        &self.containers
    }

    /// Images: list, inspect, pull, push, tag, remove, save, load, prune.
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// Volumes: create, list, inspect, remove, prune.
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }

    /// Networks: create, list, inspect, remove, prune.
    pub fn networks(&self) -> &Networks {
        &self.networks
    }

    /// Builds: `docker build` and the build cache.
    pub fn builds(&self) -> &Builds {
        &self.builds
    }

    /// The event history and live feed.
    pub fn events(&self) -> &Events {
        &self.events
    }
}
