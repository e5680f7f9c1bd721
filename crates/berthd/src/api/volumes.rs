//! `/volumes/...`: list, create, inspect, remove, prune.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use berth_engine::volumes::{VolumeCreate, VolumeFilters};
use serde_json::json;

use super::{blocking, flag, ApiError, ApiResult, ApiVersion, AppState, Query};

/// `GET /volumes?filters=`.
pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<impl IntoResponse> {
    let f = VolumeFilters::parse(q.get("filters").map(String::as_str))?;
    let vols = blocking(move || Ok(engine.volumes().list(&f))).await?;
    Ok(Json(json!({"Volumes": vols, "Warnings": []})))
}

/// `POST /volumes/create` with `{"Name","Driver","DriverOpts","Labels"}`.
pub async fn create(State(engine): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
    let req: VolumeCreate = if body.is_empty() {
        VolumeCreate::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid volume create request: {e}")))?
    };
    let v = blocking(move || engine.volumes().create(req)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /volumes/{name}`.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        blocking(move || engine.volumes().inspect(&name)).await?,
    ))
}

/// `DELETE /volumes/{name}?force=`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let force = flag(&q, "force");
    blocking(move || engine.volumes().remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /volumes/prune?filters=` (`all=true` for named volumes too; implied before API 1.42,
/// as in dockerd, whose older clients expect every unused volume pruned).
pub async fn prune(
    State(engine): State<AppState>,
    version: Option<Extension<ApiVersion>>,
    q: Query,
) -> ApiResult<impl IntoResponse> {
    let mut f = VolumeFilters::parse(q.get("filters").map(String::as_str))?;
    if ApiVersion::older_than(version.as_ref().map(|v| &v.0), 1, 42) {
        f.all = true;
    }
    Ok(Json(blocking(move || engine.volumes().prune(&f)).await?))
}
