//! `/containers/...`: create, start, stop, kill, wait, remove, list, inspect.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::{CreateRequest, ListFilters, WaitCondition};
use serde_json::{json, Value};

use super::{blocking, flag, ApiError, ApiResult, AppState, Query};

/// `POST /containers/create?name=`.
pub async fn create(
    State(engine): State<AppState>,
    q: Query,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let req: CreateRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let name = q.get("name").cloned();
    let id = blocking(move || engine.containers().create(req, name.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warnings": []}))))
}

/// `POST /containers/{id}/start`: 204, or 304 if already running.
pub async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let started = blocking(move || engine.containers().start(&id)).await?;
    Ok(if started {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

/// `POST /containers/{id}/stop?t=`: 204, or 304 if not running.
pub async fn stop(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let t = timeout_param(&q)?;
    let stopped = blocking(move || engine.containers().stop(&id, t)).await?;
    Ok(if stopped {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

/// `POST /containers/{id}/restart?t=`.
pub async fn restart(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let t = timeout_param(&q)?;
    blocking(move || engine.containers().restart(&id, t)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /containers/{id}/top?ps_args=`.
pub async fn top(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<impl IntoResponse> {
    let ps_args = q.get("ps_args").cloned().unwrap_or_default();
    Ok(Json(
        blocking(move || engine.containers().top(&id, &ps_args)).await?,
    ))
}

/// The `t` (or `timeout`) query parameter of stop/restart.
fn timeout_param(q: &Query) -> ApiResult<Option<i64>> {
    match q.get("t").or_else(|| q.get("timeout")) {
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for t: {v}"))),
        None => Ok(None),
    }
}

/// `POST /containers/{id}/kill?signal=`.
pub async fn kill(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let signal = q.get("signal").cloned();
    blocking(move || engine.containers().kill(&id, signal.as_deref())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/wait?condition=`: the status line goes out as soon as the wait is
/// registered, the body `{"StatusCode": N}` when the condition holds (docker's protocol, which
/// lets a client start the container only after its wait is in place).
pub async fn wait(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let condition = WaitCondition::parse(q.get("condition").map_or("", String::as_str))
        .map_err(ApiError::from)?;
    let waiter = blocking(move || engine.containers().wait(&id, condition)).await?;
    let body = futures_util::stream::once(async move {
        // Awaited, not parked on a thread: many `docker wait` clients cost no threads.
        let v = match waiter.wait_async().await {
            Some(r) => json!({"StatusCode": r.status_code, "Error": null}),
            _ => json!({"StatusCode": -1, "Error": {"Message": "wait interrupted"}}),
        };
        Ok::<_, std::convert::Infallible>(Bytes::from(format!("{v}\n")))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `DELETE /containers/{id}?force=&v=`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let force = flag(&q, "force");
    let volumes = flag(&q, "v");
    blocking(move || engine.containers().remove_with_volumes(&id, force, volumes)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /containers/json?all=`.
pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<impl IntoResponse> {
    let all = flag(&q, "all");
    let limit = match q.get("limit") {
        Some(l) => Some(
            l.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        ),
        None => None,
    };
    let filters = ListFilters::parse(q.get("filters").map(String::as_str), limit)?;
    let size = flag(&q, "size");
    let v = blocking(move || {
        let list = engine.containers().list_filtered(all, &filters)?;
        let mut rows: Vec<Value> = list
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .collect();
        // `size=true` (`ps -s`): the writable layer and the whole root, as `system df` counts.
        if size {
            let usage = engine.disk_usage()?.containers;
            for row in &mut rows {
                let id = row["Id"].as_str().unwrap_or_default();
                if let Some(u) = usage.iter().find(|u| u.summary.id == id) {
                    row["SizeRw"] = json!(u.size_rw);
                    row["SizeRootFs"] = json!(u.size_root_fs);
                }
            }
        }
        Ok(rows)
    })
    .await?;
    Ok(Json(v))
}

/// `GET /containers/{id}/json`.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let v = blocking(move || engine.containers().inspect(&id)).await?;
    Ok(Json(v))
}

/// `POST /containers/{id}/rename?name=`.
pub async fn rename(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let name = q
        .get("name")
        .cloned()
        .ok_or_else(|| ApiError::bad_request("name is required"))?;
    blocking(move || engine.containers().rename(&id, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/prune`.
pub async fn prune(State(engine): State<AppState>) -> ApiResult<impl IntoResponse> {
    let (ids, space) = blocking(move || engine.containers().prune()).await?;
    Ok(Json(
        json!({"ContainersDeleted": ids, "SpaceReclaimed": space}),
    ))
}
