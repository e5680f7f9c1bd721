//! `/images/{name}/…` (the name may contain slashes, so one catch-all route dispatches on
//! the last segment: `json`, `history`, `get`, `tag`), plus `POST /commit`,
//! `GET /containers/{id}/changes` and `POST /images/prune`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::{CommitRequest, ImageDeleteItem, ImageFilters};
use serde_json::json;

use super::archive::{save_names, PairsQuery};
use crate::api::{blocking, ApiError, ApiResult, AppState, Query};

fn split(path: &str) -> Option<(String, &str)> {
    let (name, op) = path.rsplit_once('/')?;
    (!name.is_empty()).then(|| (name.to_owned(), op))
}

fn no_route(path: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("page not found: /images/{path}"),
    }
}

/// `GET /images/{name}/json|history|get`.
pub async fn get(State(engine): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let Some((name, op)) = split(&path) else {
        return Err(no_route(&path));
    };
    match op {
        "json" => Ok(Json(blocking(move || engine.images().inspect(&name)).await?).into_response()),
        "history" => {
            Ok(Json(blocking(move || engine.images().history(&name)).await?).into_response())
        }
        "get" => save_names(engine, vec![name]).await,
        _ => Err(no_route(&path)),
    }
}

/// `POST /images/{name}/tag?repo=&tag=` (201, empty body).
pub async fn post(
    State(engine): State<AppState>,
    Path(path): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let Some((name, "tag")) = split(&path) else {
        return Err(no_route(&path));
    };
    let repo = q
        .get("repo")
        .filter(|r| !r.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("repository name is required (repo=)"))?;
    let tag = q.get("tag").cloned();
    blocking(move || engine.images().tag(&name, &repo, tag.as_deref())).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=…` (201 `{"Id": …}`).
/// `pause` is accepted and ignored: the writable layer is read without freezing.
pub async fn commit(State(engine): State<AppState>, q: PairsQuery) -> ApiResult<Response> {
    let get = |k: &str| {
        q.0.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let container =
        get("container").ok_or_else(|| ApiError::bad_request("container is required"))?;
    let repo_tag = match (get("repo"), get("tag")) {
        (Some(r), Some(t)) => Some(format!("{r}:{t}")),
        (Some(r), None) => Some(r),
        (None, Some(_)) => return Err(ApiError::bad_request("tag given without repo")),
        (None, None) => None,
    };
    let changes: Vec<String> =
        q.0.iter()
            .filter(|(k, v)| k == "changes" && !v.is_empty())
            .flat_map(|(_, v)| v.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect();
    let req = CommitRequest {
        repo_tag,
        comment: get("comment"),
        author: get("author"),
        changes,
    };
    let id = blocking(move || engine.containers().commit(&container, &req)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}

/// `GET /containers/{id}/changes`.
pub async fn changes(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        blocking(move || engine.containers().container_changes(&id)).await?,
    ))
}

/// `POST /images/prune?filters=`.
pub async fn prune(State(engine): State<AppState>, q: Query) -> ApiResult<impl IntoResponse> {
    let filters = ImageFilters::parse(q.get("filters").map(String::as_str))?;
    let r = blocking(move || engine.images().prune(&filters)).await?;
    let items: Vec<serde_json::Value> = r
        .images_deleted
        .into_iter()
        .map(|i| match i {
            ImageDeleteItem::Untagged(t) => json!({"Untagged": t}),
            ImageDeleteItem::Deleted(d) => json!({"Deleted": d}),
        })
        .collect();
    Ok(Json(json!({
        "ImagesDeleted": if items.is_empty() { serde_json::Value::Null } else { json!(items) },
        "SpaceReclaimed": r.space_reclaimed,
    })))
}
