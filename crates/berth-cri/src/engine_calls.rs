//! Every call berth-cri makes into the engine, in one place: the engine is being split into
//! services (images, containers, ...), and this is the one file that follows the split.
//! Engine calls block (store locks, registry I/O), so each runs on tokio's blocking pool.

use std::sync::Arc;

use berth_engine::registry::AuthConfig;
use berth_engine::{Engine, EngineError};
use berth_engine::{ImageDeleteItem, ImageInspect, ImageSummary};

use crate::error::CriError;

/// The engine, as the CRI services use it.
#[derive(Clone)]
pub struct EngineCalls {
    engine: Arc<Engine>,
}

impl EngineCalls {
    /// Wraps the daemon's engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        EngineCalls { engine }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, CriError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| CriError::Internal(format!("engine task: {e}")))?
            .map_err(CriError::Engine)
    }

    /// Every image.
    pub async fn images(&self) -> Result<Vec<ImageSummary>, CriError> {
        self.blocking(|e| Ok(e.images().list())).await
    }

    /// One image by reference, id or digest; `None` when there is no such image.
    pub async fn image_inspect(&self, name: String) -> Result<Option<ImageInspect>, CriError> {
        match self.blocking(move |e| e.images().inspect(&name)).await {
            Ok(i) => Ok(Some(i)),
            Err(CriError::Engine(e)) if e.kind() == berth_engine::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pulls `name` with `auth`; progress is not reported over CRI.
    pub async fn pull(&self, name: String, auth: AuthConfig) -> Result<(), CriError> {
        self.blocking(move |e| {
            e.images()
                .pull(&name, None, false, &auth, &|_| {})
                .map(|_| ())
        })
        .await
    }

    /// Removes `name` (a tag untags, an id removes the image with all its tags).
    pub async fn remove_image(&self, name: String) -> Result<Vec<ImageDeleteItem>, CriError> {
        self.blocking(move |e| e.images().remove(&name, true)).await
    }

    /// Bytes the image store's layers and blobs take.
    pub async fn image_store_bytes(&self) -> Result<u64, CriError> {
        self.blocking(|e| e.disk_usage().map(|d| d.layers_size))
            .await
    }

    /// The image store's directory.
    pub fn image_store_dir(&self) -> std::path::PathBuf {
        self.engine.config().data_root.join("image")
    }
}
