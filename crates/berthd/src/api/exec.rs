//! `/containers/{id}/exec` and `/exec/{id}/...`: create, start (streamed like attach), inspect.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::ExecConfig;
use serde_json::json;

use super::attach::stream_entries;
use super::{blocking, ApiError, ApiResult, AppState};

/// `POST /containers/{id}/exec`.
pub async fn create(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let cfg: ExecConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let exec_id = blocking(move || engine.exec_create(&id, cfg)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": exec_id}))))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
}

/// `POST /exec/{id}/start`: `{"Detach": true}` runs it in the background (200), else the
/// output streams back (hijacked with `Upgrade: tcp`).
pub async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    let raw = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading body: {e}")))?;
    let body: StartBody = if raw.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    let output = blocking(move || engine.exec_start(&id)).await?;
    if body.detach {
        tokio::task::spawn_blocking(move || output.for_each(drop));
        return Ok(StatusCode::OK.into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    Ok(stream_entries(&mut req, output, tx, rx))
}

/// `GET /exec/{id}/json`.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(blocking(move || engine.exec_inspect(&id)).await?))
}
