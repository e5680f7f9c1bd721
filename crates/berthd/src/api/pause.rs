//! `POST /containers/{id}/pause` and `/unpause`: the cgroup freezer.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{blocking, ApiResult, AppState};

/// Freezes the container: 204.
pub async fn pause(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(move || engine.containers().pause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Thaws the container: 204.
pub async fn unpause(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(move || engine.containers().unpause(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
