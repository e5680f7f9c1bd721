//! `docker build`: the engine side of `berth-build`. [`Builds::build`] runs the builder with a
//! [`Backend`] over the image store (layers, configs, snapshots) and the container machinery
//! (RUN steps run as real containers through the shim and the runtime, see [`run`]).

mod run;

use std::path::{Path, PathBuf};

use berth_build::{Backend, BackendError, ImageState, NewLayer, RootView, RunRequest, TarWriter};
use berth_image::manifest::Descriptor;
use berth_image::{Digest, Reference};

pub use berth_build::context::{decompress, ContextLimits};
pub use berth_build::{BuildError, BuildOptions, BuildResult, Context, Event};

/// A tag as docker prints it after a build (`x` → `x:latest`, `docker.io/library/` dropped).
pub fn familiar_tag(t: &str) -> String {
    match Reference::parse_normalized_named(t) {
        Ok(r) if r.tag().is_none() && r.digest().is_none() => format!("{}:latest", r.familiar()),
        Ok(r) => r.familiar(),
        Err(_) => t.to_owned(),
    }
}

use std::sync::Arc;

use crate::{EngineConfig, Events, Images, Networks};

fn other(e: impl std::fmt::Display) -> BackendError {
    BackendError::Other(e.to_string())
}

/// The builds service: `docker build` over the image store, RUN steps as containers of
/// their own (runtime + shim, not the containers service: a step is not a container users
/// see), the build cache.
pub struct Builds {
    pub(crate) cfg: EngineConfig,
    pub(crate) images: Arc<Images>,
    pub(crate) networks: Arc<Networks>,
    pub(crate) events: Arc<Events>,
}

impl Builds {
    pub(crate) fn new(
        cfg: EngineConfig,
        images: Arc<Images>,
        networks: Arc<Networks>,
        events: Arc<Events>,
    ) -> Builds {
        Builds {
            cfg,
            images,
            networks,
            events,
        }
    }

    /// The runtime library's state root (shared with containers: one runtime root per daemon).
    pub(crate) fn runtime_root(&self) -> PathBuf {
        self.cfg.exec_root.join("runtime")
    }
}

/// The builder's view of the engine.
struct EngineBackend<'a> {
    engine: &'a Builds,
}

impl Builds {
    /// Builds an image from `ctx` (the decoded context) as `opts` says, reporting progress to
    /// `on`. Tags are checked before anything runs; on failure nothing is tagged and no build
    /// container or mount is left.
    pub fn build(
        &self,
        ctx: &Context,
        opts: &BuildOptions,
        on: &mut dyn FnMut(Event<'_>),
    ) -> std::result::Result<BuildResult, BuildError> {
        for t in &opts.tags {
            Reference::parse_normalized_named(t)
                .map_err(|e| BuildError::Context(format!("invalid tag {t:?}: {e}")))?;
        }
        let _hold = self.images.store.hold_gc();
        let mut cache = berth_build::Cache::open(&self.cfg.data_root.join("build"));
        let backend = EngineBackend { engine: self };
        let result = berth_build::build(&backend, ctx, opts, &mut cache, on)?;
        for t in &opts.tags {
            self.events.emit("image", "tag", &result.id, &[("name", t)]);
        }
        Ok(result)
    }

    /// `builder prune` (`POST /build/prune`): empties the build cache and collects the layer
    /// and config blobs only it kept; returns the cache keys removed and the bytes freed.
    /// (While a build runs, the image store defers collection: then nothing is freed yet.)
    pub fn build_prune(&self) -> std::result::Result<(Vec<String>, u64), BuildError> {
        let keys = berth_build::Cache::clear(&self.cfg.data_root.join("build"))?;
        let (_, _, freed) = self
            .images
            .store
            .collect_garbage()
            .map_err(|e| BuildError::Context(format!("collecting build cache blobs: {e}")))?;
        Ok((keys, freed))
    }

    /// Where build contexts are spooled while a build runs: `<data-root>/tmp`, on disk (the
    /// exec root is usually a tmpfs, i.e. memory).
    pub fn build_context_root(&self) -> PathBuf {
        self.cfg.data_root.join("tmp")
    }

    /// Removes the build contexts of builds a daemon crash interrupted (a context is removed
    /// when its build ends; only a killed daemon leaves one).
    pub(crate) fn remove_stale_build_contexts(&self) {
        let root = self.build_context_root();
        let Ok(entries) = std::fs::read_dir(&root) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if name
                .to_string_lossy()
                .starts_with(berth_build::context::SPOOL_PREFIX)
            {
                if let Err(err) = std::fs::remove_dir_all(e.path()) {
                    tracing::warn!("removing {}: {err}", e.path().display());
                }
            }
        }
    }

    /// `<exec-root>/build/<id>`: a build step's bundle, rootfs mount point and shim files.
    fn build_dir(&self, id: &str) -> PathBuf {
        self.cfg.exec_root.join("build").join(id)
    }

    fn state_top(&self, state: &ImageState) -> Result<Option<Digest>, BackendError> {
        self.images
            .store
            .ensure_layers(&state.layers, &state.config.rootfs.diff_ids)
            .map_err(other)
    }
}

/// A mounted snapshot for reading; unmounted and deleted on drop.
struct View<'a> {
    engine: &'a Builds,
    id: String,
    dir: PathBuf,
}

impl RootView for View<'_> {
    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for View<'_> {
    fn drop(&mut self) {
        run::cleanup(self.engine, &self.id, &self.dir);
    }
}

impl Backend for EngineBackend<'_> {
    fn image(
        &self,
        name: &str,
        platform: Option<&str>,
        pull: bool,
    ) -> Result<(Digest, ImageState), BackendError> {
        let e = self.engine;
        let local = e.images.store.resolve(name).ok();
        if pull || local.is_none() {
            let pulled = e.images.pull(
                name,
                platform,
                false,
                &berth_registry::AuthConfig::default(),
                &|_| {},
            );
            if let Err(err) = pulled {
                if local.is_none() || pull {
                    return Err(BackendError::NoSuchImage {
                        name: name.to_owned(),
                        reason: err.to_string(),
                    });
                }
            }
        }
        let info = e
            .images
            .store
            .resolve(name)
            .map_err(|e| BackendError::NoSuchImage {
                name: name.to_owned(),
                reason: e.to_string(),
            })?;
        let (m, config) = e
            .images
            .store
            .manifest_and_config(&info.record.id)
            .map_err(other)?;
        Ok((
            info.record.id,
            ImageState {
                config,
                layers: m.layers,
            },
        ))
    }

    fn platform(&self) -> (String, String) {
        let p = self.engine.images.store.platform();
        (p.architecture.clone(), p.os.clone())
    }

    fn run(
        &self,
        parent: &ImageState,
        req: &RunRequest,
        output: &mut dyn FnMut(&[u8]),
    ) -> Result<NewLayer, BackendError> {
        let top = self.engine.state_top(parent)?;
        run::run_step(self.engine, top.as_ref(), req, output)
    }

    fn write_layer(&self, write: &mut TarWriter<'_>) -> Result<NewLayer, BackendError> {
        let (descriptor, diff_id) = self
            .engine
            .images
            .store
            .layer_from_writer(write)
            .map_err(other)?;
        Ok(NewLayer {
            descriptor,
            diff_id,
        })
    }

    fn view(&self, state: &ImageState) -> Result<Box<dyn RootView + '_>, BackendError> {
        let top = self.engine.state_top(state)?;
        let id = format!("view-{}", crate::names::new_id().map_err(other)?);
        let dir = self.engine.build_dir(&id).join("rootfs");
        let view = View {
            engine: self.engine,
            id: id.clone(),
            dir: dir.clone(),
        };
        std::fs::create_dir_all(&dir).map_err(other)?;
        let mount = self
            .engine
            .images
            .store
            .prepare_snapshot(&id, top.as_ref())
            .map_err(other)?;
        mount.mount(&dir).map_err(other)?;
        Ok(Box::new(view))
    }

    fn put_blob(&self, data: &[u8]) -> Result<Digest, BackendError> {
        self.engine.images.store.content().put(data).map_err(other)
    }

    fn read_blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        self.engine.images.store.content().read(digest).ok()
    }

    fn has_blob(&self, digest: &Digest) -> bool {
        self.engine.images.store.content().exists(digest)
    }

    fn create_image(
        &self,
        config: &Digest,
        layers: &[Descriptor],
        tags: &[String],
    ) -> Result<String, BackendError> {
        let refs = tags
            .iter()
            .map(|t| Reference::parse_normalized_named(t).map_err(other))
            .collect::<Result<Vec<_>, _>>()?;
        let info = self
            .engine
            .images
            .store
            .image_from_config(config, layers.to_vec(), &refs)
            .map_err(other)?;
        Ok(info.record.id.to_string())
    }
}
