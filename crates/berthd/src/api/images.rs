//! `/images/...`: list, import (`create?fromSrc=-`), remove; inspect/history/tag/commit/
//! changes/prune in [`named`], save/load/export in [`archive`].

mod archive;
mod named;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use berth_engine::{ImageDeleteItem, ImageFilters};
use serde_json::json;

use super::body_io::BodyReader;
use super::{blocking, flag, ApiError, ApiResult, AppState, Limits, Query};
pub use archive::{export, load, save};
pub use named::{changes, commit, get as get_named, post as post_named, prune};

/// `GET /images/json?all=&filters=`.
pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<impl IntoResponse> {
    let all = flag(&q, "all");
    let filters = ImageFilters::parse(q.get("filters").map(String::as_str))?;
    Ok(Json(
        blocking(move || engine.images().list_filtered(all, &filters)).await?,
    ))
}

/// `POST /images/create?fromSrc=-&repo=&tag=&changes=&message=`: import the request body as a
/// rootfs tarball. Pulls (`fromImage=`) need the registry client.
pub async fn create(
    State(engine): State<AppState>,
    Extension(limits): Extension<Limits>,
    headers: HeaderMap,
    q: Query,
    pairs: archive::PairsQuery,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    if q.contains_key("fromImage") {
        return Err(ApiError::internal(
            "pulling images is not supported yet: import a rootfs with `berth import`",
        ));
    }
    match q.get("fromSrc").map(String::as_str) {
        Some("-") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
            "importing from {other:?} is not supported: send the tarball as the body (fromSrc=-)"
        )))
        }
        None => return Err(ApiError::bad_request("fromSrc or fromImage is required")),
    }
    let repo_tag = match (q.get("repo").filter(|r| !r.is_empty()), q.get("tag")) {
        (Some(r), Some(t)) if !t.is_empty() => Some(format!("{r}:{t}")),
        (Some(r), _) => Some(r.clone()),
        (None, _) => None,
    };
    let changes: Vec<String> = pairs
        .0
        .iter()
        .filter(|(k, v)| k == "changes" && !v.is_empty())
        .flat_map(|(_, v)| v.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let message = q.get("message").filter(|m| !m.is_empty()).cloned();
    limits.check_length(&headers)?;
    let reader = BodyReader::new(body, limits.upload);
    let over = reader.over_limit();
    let id = blocking(move || {
        engine
            .images()
            .import_with(reader, repo_tag.as_deref(), &changes, message.as_deref())
    })
    .await
    .map_err(|e| limits.or_upload_error(&over, e))?;
    Ok(Json(json!({"status": id})))
}

/// `DELETE /images/{name}?force=`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<impl IntoResponse> {
    let force = flag(&q, "force");
    let items = blocking(move || engine.images().remove(&name, force)).await?;
    let v: Vec<serde_json::Value> = items
        .into_iter()
        .map(|i| match i {
            ImageDeleteItem::Untagged(t) => json!({"Untagged": t}),
            ImageDeleteItem::Deleted(d) => json!({"Deleted": d}),
        })
        .collect();
    Ok(Json(v))
}
