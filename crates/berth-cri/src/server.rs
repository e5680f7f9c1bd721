//! The gRPC server on a unix socket.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_cni::Cni;
use berth_engine::Engine;
use tokio_stream::wrappers::UnixListenerStream;

use crate::engine_calls::EngineCalls;
use crate::error::CriError;
use crate::images::Images;
use crate::proto::image_service_server::ImageServiceServer;
use crate::proto::runtime_service_server::RuntimeServiceServer;
use crate::runtime::Runtime;

/// Where and how the CRI is served.
#[derive(Debug, Clone)]
pub struct CriOptions {
    /// The socket (`/run/berth/cri.sock`).
    pub socket: PathBuf,
    /// Pod networking.
    pub cni: Cni,
}

/// kubelet sends image pulls with large auth and gets large image lists back: gRPC's 4 MiB
/// default is what containerd uses too, but its 16 MiB server limit is what kubelet expects.
const MAX_MESSAGE: usize = 16 << 20;

/// Binds the socket: its directory is made, a stale socket file replaced, a live one (another
/// daemon) refused; only root and the socket's group may connect.
pub fn bind(path: &Path) -> Result<tokio::net::UnixListener, CriError> {
    let err = |op| {
        move |source| CriError::Socket {
            op,
            path: path.display().to_string(),
            source,
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err("create the directory of"))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(CriError::Socket {
            op: "another daemon is listening on",
            path: path.display().to_string(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        });
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err("remove stale")(e)),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(err("listen on"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err("chmod"))?;
    Ok(listener)
}

/// Serves the CRI runtime and image services on `listener` until `shutdown` completes.
pub async fn serve(
    engine: Arc<Engine>,
    opts: CriOptions,
    listener: tokio::net::UnixListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), CriError> {
    let calls = EngineCalls::new(engine);
    let runtime = RuntimeServiceServer::new(Runtime::new(opts.cni.clone()))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let images = ImageServiceServer::new(Images::new(calls))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    tonic::transport::Server::builder()
        .add_service(runtime)
        .add_service(images)
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
