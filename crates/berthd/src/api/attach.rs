//! `POST /containers/{id}/attach`: the container's output as docker's multiplexed stream on a
//! hijacked connection (`Upgrade: tcp` → 101), or as a streamed body for plain HTTP clients.
//! Stdin is not attached yet.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;

use super::logs::frame;
use super::{blocking, flag, ApiResult, AppState, Query};

const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

/// The attach handler.
pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    mut req: Request,
) -> ApiResult<Response> {
    let (stdout, stderr) = (flag(&q, "stdout"), flag(&q, "stderr"));
    let reader = blocking(move || engine.attach_output(&id, stdout, stderr)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let closed = tx.clone();
    let reader = reader.cancel_when(move || closed.is_closed());
    Ok(stream_entries(&mut req, reader, tx, rx))
}

/// Streams `entries` as docker's multiplexed stream: on the hijacked connection when the
/// client asked for `Upgrade: tcp` (101), else as the response body. `tx`/`rx` carry the
/// frames from the blocking reader to the connection.
pub fn stream_entries(
    req: &mut Request,
    entries: impl Iterator<Item = berth_engine::LogEntry> + Send + 'static,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> Response {
    tokio::task::spawn_blocking(move || {
        for e in entries {
            if tx
                .blocking_send(Bytes::from(frame(e.stream, &e.data)))
                .is_err()
            {
                return;
            }
        }
    });
    let wants_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"));
    if !wants_upgrade {
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
        });
        return (
            [(header::CONTENT_TYPE, MULTIPLEXED)],
            Body::from_stream(body),
        )
            .into_response();
    }
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("attach upgrade: {e}");
                return;
            }
        };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        while let Some(chunk) = rx.recv().await {
            if io.write_all(&chunk).await.is_err() {
                return;
            }
            let _ = io.flush().await;
        }
        let _ = io.shutdown().await;
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "Upgrade"),
            (header::UPGRADE, "tcp"),
            (header::CONTENT_TYPE, MULTIPLEXED),
        ],
    )
        .into_response()
}
