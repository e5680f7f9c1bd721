//! `GET /containers/{id}/stats?stream=&one-shot=` (docker's stats documents, one per second
//! when streaming) and `POST /containers/{id}/update` (live resource changes).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::resources::UpdateConfig;
use serde_json::{json, Value};

use super::{blocking, flag, ApiError, ApiResult, AppState, Query};

/// Time between two readings (docker's collector interval).
const INTERVAL: Duration = Duration::from_secs(1);

/// The stats handler: streaming (the default), a single reading with `precpu_stats` one
/// interval earlier (`stream=false`), or a single immediate reading (`one-shot=true`).
pub async fn stats(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let stream = q.get("stream").is_none_or(|_| flag(&q, "stream"));
    let one_shot = flag(&q, "one-shot");
    if !stream {
        let doc = blocking(move || {
            let first = engine.stats(&id, None)?;
            if one_shot {
                return Ok(first);
            }
            std::thread::sleep(INTERVAL);
            engine.stats(&id, Some(&first))
        })
        .await?;
        return Ok(Json(doc).into_response());
    }
    // The first reading here, so a missing container is a 404 rather than an empty stream.
    let first = {
        let (engine, id) = (engine.clone(), id.clone());
        blocking(move || engine.stats(&id, None)).await?
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let mut prev: Value = first;
        loop {
            let line = serde_json::to_string(&prev).unwrap_or_default() + "\n";
            if tx.blocking_send(Bytes::from(line)).is_err() {
                return;
            }
            std::thread::sleep(INTERVAL);
            if tx.is_closed() {
                return;
            }
            match engine.stats(&id, Some(&prev)) {
                Ok(next) => prev = next,
                Err(_) => return,
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `POST /containers/{id}/update`: `{"Warnings": [...]}`.
pub async fn update(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let cfg: UpdateConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let warnings = blocking(move || engine.update(&id, cfg)).await?;
    Ok(Json(json!({ "Warnings": warnings })))
}
