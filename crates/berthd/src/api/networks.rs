//! `/networks/...`: list, inspect, create, remove, prune, connect, disconnect.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use berth_engine::model::EndpointSettings;
use berth_engine::network::NetworkCreateRequest;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, ApiError, ApiResult, AppState, Query};

/// `GET /networks?filters=`.
pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<impl IntoResponse> {
    let filters = q.get("filters").cloned();
    Ok(Json(
        blocking(move || engine.networks().list(filters.as_deref())).await?,
    ))
}

/// `GET /networks/{id}`.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        blocking(move || engine.networks().inspect(&id)).await?,
    ))
}

/// `POST /networks/create`.
pub async fn create(State(engine): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
    let req: NetworkCreateRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid network create request: {e}")))?;
    let id = blocking(move || engine.networks().create(req)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warning": ""}))))
}

/// `DELETE /networks/{id}`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    blocking(move || engine.networks().remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune`.
pub async fn prune(State(engine): State<AppState>) -> ApiResult<impl IntoResponse> {
    let names = blocking(move || engine.networks().prune()).await?;
    Ok(Json(json!({"NetworksDeleted": names})))
}

/// The body of connect and disconnect.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: String,
    endpoint_config: Option<EndpointSettings>,
    #[allow(dead_code)]
    force: bool,
}

fn parse_body(body: &[u8]) -> ApiResult<ConnectBody> {
    let b: ConnectBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    if b.container.is_empty() {
        return Err(ApiError::bad_request("container is required"));
    }
    Ok(b)
}

/// `POST /networks/{id}/connect` with `{"Container", "EndpointConfig"}`.
pub async fn connect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b = parse_body(&body)?;
    let ep = b.endpoint_config.unwrap_or_default();
    let aliases = ep.aliases.clone().unwrap_or_default();
    let ip = ep.ipam_config.and_then(|c| c.ipv4_address);
    blocking(move || {
        engine
            .containers()
            .network_connect(&id, &b.container, aliases, ip)
    })
    .await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/{id}/disconnect` with `{"Container", "Force"}`.
pub async fn disconnect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b = parse_body(&body)?;
    blocking(move || engine.containers().network_disconnect(&id, &b.container)).await?;
    Ok(StatusCode::OK)
}
