//! `/containers/{id}/exec` and `/exec/{id}/...`: create, start (hijacked and relayed like
//! attach, stdin and terminal included), resize, inspect.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::ExecConfig;
use serde_json::json;

use super::attach::{drain, serve, size, Streams};
use super::{blocking, ApiError, ApiResult, AppState, Query};

/// `POST /containers/{id}/exec`.
pub async fn create(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let cfg: ExecConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let exec_id = blocking(move || engine.containers().exec_create(&id, cfg)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": exec_id}))))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
}

/// `POST /exec/{id}/start`: `{"Detach": true}` runs it in the background (200), else its
/// stdio is relayed (hijacked with `Upgrade: tcp`).
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
    let eng = engine.clone();
    let key = id.clone();
    let (conn, cfg) = blocking(move || {
        let cfg = eng.containers().exec_config(&key)?;
        Ok((eng.containers().exec_start(&key)?, cfg))
    })
    .await?;
    if body.detach {
        tokio::spawn(drain(conn));
        return Ok(StatusCode::OK.into_response());
    }
    let streams = Streams {
        stdin: cfg.attach_stdin,
        stdout: cfg.attach_stdout,
        stderr: cfg.attach_stderr,
        detach_keys: Vec::new(),
        replay: None,
    };
    let tty = conn.tty;
    Ok(serve(&mut req, tty, async move { Some(conn) }, streams))
}

/// `POST /exec/{id}/resize?h=ROWS&w=COLS`.
pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let (rows, cols) = size(&q)?;
    blocking(move || engine.containers().exec_resize(&id, rows, cols)).await?;
    Ok(StatusCode::OK)
}

/// `GET /exec/{id}/json`.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        blocking(move || engine.containers().exec_inspect(&id)).await?,
    ))
}
