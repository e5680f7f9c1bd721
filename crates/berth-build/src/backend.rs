//! What the builder needs from the engine, as a trait, so the build logic has no dependency on
//! containers, mounts or the daemon: base images, running a command on top of a layer chain,
//! storing layers and configs, a read-only view of a stage's filesystem, and the final image.

use std::io::{self, Write};
use std::path::Path;

use berth_image::config::ImageConfig;
use berth_image::manifest::Descriptor;
use berth_image::Digest;

use crate::error::BackendError;

/// An image state between steps: its config and the layer blobs under it.
#[derive(Debug, Clone)]
pub struct ImageState {
    /// The config (its `rootfs.diff_ids` match `layers`).
    pub config: ImageConfig,
    /// Layer blobs, base first.
    pub layers: Vec<Descriptor>,
}

/// A new layer: its blob and the digest of its uncompressed tar.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// The stored blob.
    pub descriptor: Descriptor,
    /// Its diff id.
    pub diff_id: Digest,
}

/// One RUN step.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// argv (shell already prepended for the shell form).
    pub args: Vec<String>,
    /// `KEY=value` environment (ENV plus build args in scope).
    pub env: Vec<String>,
    /// User (`name`, `uid`, `uid:gid`), empty for root.
    pub user: String,
    /// Working directory (created if missing).
    pub workdir: String,
    /// `default`/`bridge`/`none`/`host`.
    pub network: String,
    /// `RUN --mount=` mounts.
    pub mounts: Vec<RunMount>,
}

/// A `RUN --mount`: what is mounted at `target` while the step runs (never part of the layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// `type=cache`: a directory kept across builds, keyed by `id` (default: the target).
    Cache {
        /// Cache id.
        id: String,
        /// Mount point in the container.
        target: String,
    },
    /// `type=tmpfs`: an empty tmpfs.
    Tmpfs {
        /// Mount point in the container.
        target: String,
    },
}

/// A mounted, read-only view of an image state's filesystem; unmounted when dropped.
pub trait RootView {
    /// The directory where the filesystem is visible.
    fn path(&self) -> &Path;
}

/// Writes a layer tar into the given sink.
pub type TarWriter<'a> = dyn FnMut(&mut dyn Write) -> io::Result<()> + 'a;

/// The engine side of a build.
pub trait Backend: Sync {
    /// The local image `name` (or pulled first if `pull`), for `FROM` and `COPY --from`.
    /// Returns its id (config digest) and state.
    fn image(
        &self,
        name: &str,
        platform: Option<&str>,
        pull: bool,
    ) -> Result<(Digest, ImageState), BackendError>;

    /// The platform new images are made for (`architecture`, `os`).
    fn platform(&self) -> (String, String);

    /// Runs `req` in a container whose root is `parent`'s layers plus a fresh writable layer;
    /// streams its output to `output`; returns the writable layer's changes as a new layer.
    /// A non-zero exit is [`BackendError::RunFailed`]. No container or mount is left behind.
    fn run(
        &self,
        parent: &ImageState,
        req: &RunRequest,
        output: &mut dyn FnMut(&[u8]),
    ) -> Result<NewLayer, BackendError>;

    /// Stores a layer whose tar is produced by `write`.
    fn write_layer(&self, write: &mut TarWriter<'_>) -> Result<NewLayer, BackendError>;

    /// Mounts `state`'s filesystem read-only for reading (`COPY --from` sources, destinations,
    /// WORKDIR, `--chown` names). The build resolves every path in it inside that root.
    fn view(&self, state: &ImageState) -> Result<Box<dyn RootView + '_>, BackendError>;

    /// Stores a blob (configs) and returns its digest.
    fn put_blob(&self, data: &[u8]) -> Result<Digest, BackendError>;

    /// Reads a stored blob, or None if it is gone (garbage-collected).
    fn read_blob(&self, digest: &Digest) -> Option<Vec<u8>>;

    /// Whether a blob is stored.
    fn has_blob(&self, digest: &Digest) -> bool;

    /// Registers the final image (config blob already stored) and points `tags` at it.
    /// Returns the image id.
    fn create_image(
        &self,
        config: &Digest,
        layers: &[Descriptor],
        tags: &[String],
    ) -> Result<String, BackendError>;
}
