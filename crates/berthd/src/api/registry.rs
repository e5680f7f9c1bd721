//! Registry routes: `POST /images/create?fromImage=` (pull), `POST /images/{name}/push`,
//! `POST /auth`, `GET /images/search`. Pull and push answer with docker's JSON progress
//! stream (one object per line); a failure before the first message is a plain HTTP error,
//! one after it an `{"errorDetail":..,"error":..}` line, as dockerd does.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::registry::{AuthConfig, Progress};
use berth_engine::{Engine, EngineError};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{blocking, ApiError, ApiResult, AppState, Query};

/// Internal route of pulls (see [`rewrite`]).
pub const PULL_ROUTE: &str = "/distribution/pull";
/// Internal route of pushes (see [`rewrite`]).
pub const PUSH_ROUTE: &str = "/distribution/push/{*name}";

/// Route registry requests that share a path with other handlers to their own internal
/// paths: `POST /images/create?fromImage=…` (the same path imports with `fromSrc`) and
/// `POST /images/<name>/push` (image names contain slashes, so the route table cannot match
/// the `/push` suffix).
pub fn rewrite(req: &mut Request) {
    if req.method() != Method::POST {
        return;
    }
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let new_path = if path == "/images/create"
        && query
            .split('&')
            .any(|kv| kv.starts_with("fromImage=") && kv.len() > "fromImage=".len())
    {
        PULL_ROUTE.to_owned()
    } else if let Some(name) = path
        .strip_prefix("/images/")
        .and_then(|p| p.strip_suffix("/push"))
    {
        format!("/distribution/push/{name}")
    } else {
        return;
    };
    let pq = if query.is_empty() {
        new_path
    } else {
        format!("{new_path}?{query}")
    };
    if let Ok(uri) = pq.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

fn auth_from(headers: &HeaderMap) -> ApiResult<AuthConfig> {
    match headers.get("x-registry-auth").and_then(|v| v.to_str().ok()) {
        Some(v) => AuthConfig::from_header(v).map_err(|e| ApiError::bad_request(e.to_string())),
        None => Ok(AuthConfig::default()),
    }
}

/// One docker progress object.
fn progress_json(p: &Progress) -> Value {
    let mut v = json!({ "status": p.status });
    if let Some(id) = &p.id {
        v["id"] = json!(id);
    }
    match p.detail {
        Some((current, total)) => {
            v["progressDetail"] = json!({ "current": current, "total": total });
            v["progress"] = json!(progress_bar(current, total));
        }
        None if p.id.is_some() => v["progressDetail"] = json!({}),
        None => {}
    }
    v
}

/// docker's text bar: `[=====>      ]  1.2MB/3.4MB`.
fn progress_bar(current: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    let filled = (current.min(total) * WIDTH).checked_div(total).unwrap_or(0) as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH as usize {
        bar.push('>');
        bar.push_str(&" ".repeat(WIDTH as usize - filled - 1));
    }
    format!("[{bar}] {}/{}", human(current), human(total))
}

fn human(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2}GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}kB", n / 1e3)
    } else {
        format!("{n}B")
    }
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

enum Msg {
    Line(Bytes),
    Failed(EngineError),
}

/// Run `work` (a pull or push) on a blocking thread and stream its progress.
async fn progress_stream<F>(engine: std::sync::Arc<Engine>, work: F) -> ApiResult<Response>
where
    F: FnOnce(&Engine, &(dyn Fn(Progress) + Sync)) -> Result<(), EngineError> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Msg>(256);
    tokio::task::spawn_blocking(move || {
        let send = |p: Progress| {
            let _ = tx.blocking_send(Msg::Line(line(&progress_json(&p))));
        };
        if let Err(e) = work(&engine, &send) {
            let _ = tx.blocking_send(Msg::Failed(e));
        }
    });
    let first = match rx.recv().await {
        None => return Ok((StatusCode::OK, "").into_response()),
        Some(Msg::Failed(e)) => return Err(ApiError::from(e)),
        Some(Msg::Line(b)) => b,
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let b = match rx.recv().await? {
            Msg::Line(b) => b,
            Msg::Failed(e) => {
                let m = e.to_string();
                line(&json!({ "errorDetail": { "message": m }, "error": m }))
            }
        };
        Some((Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    let first = futures_util::stream::once(async move { Ok(first) });
    let body = Body::from_stream(futures_util::StreamExt::chain(first, rest));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `POST /images/create?fromImage=&tag=&platform=`: pull. An empty tag pulls every tag
/// (docker's `pull --all-tags`).
pub async fn pull(
    State(engine): State<AppState>,
    q: Query,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let image = q
        .get("fromImage")
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("fromImage is required"))?;
    let tag = q.get("tag").cloned().unwrap_or_default();
    let platform = q.get("platform").cloned().filter(|p| !p.is_empty());
    let auth = auth_from(&headers)?;
    let has_tag = image.contains('@') || image.rsplit('/').next().is_some_and(|l| l.contains(':'));
    let (name, all_tags) = if !tag.is_empty() {
        let sep = if tag.contains(':') { '@' } else { ':' };
        (format!("{image}{sep}{tag}"), false)
    } else {
        (image, !has_tag)
    };
    progress_stream(engine, move |e, sink| {
        e.images()
            .pull(&name, platform.as_deref(), all_tags, &auth, sink)
            .map(|_| ())
    })
    .await
}

/// `POST /images/{name}/push?tag=` with `X-Registry-Auth`.
pub async fn push(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    q: Query,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let auth = auth_from(&headers)?;
    let name = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{name}:{t}"),
        None => name,
    };
    progress_stream(engine, move |e, sink| {
        e.images().push(&name, &auth, sink).map(|_| ())
    })
    .await
}

/// `POST /auth`: check credentials; docker's CLI stores them itself on success.
pub async fn auth(State(engine): State<AppState>, Json(body): Json<AuthConfig>) -> Response {
    match blocking(move || engine.images().login(&body)).await {
        Ok(()) => Json(json!({ "Status": "Login Succeeded", "IdentityToken": "" })).into_response(),
        Err(e) if e.status.is_server_error() && e.message.contains("unauthorized") => ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: e.message,
        }
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /images/search?term=&limit=&filters=`: `filters` takes docker's `is-official`,
/// `is-automated` and `stars`.
pub async fn search(
    State(engine): State<AppState>,
    q: Query,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let term = q
        .get("term")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("term is required"))?;
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit must be between 1 and 100"))?,
        None => 25,
    };
    let filters = match q.get("filters") {
        Some(f) if !f.is_empty() => {
            berth_engine::parse_filter_json(f, &["is-official", "is-automated", "stars"])?
        }
        _ => Default::default(),
    };
    let auth = auth_from(&headers)?;
    let results = blocking(move || engine.images().search(&term, limit, &auth)).await?;
    let want_bool = |key: &str| -> ApiResult<Option<bool>> {
        match filters.get(key).and_then(|v| v.first()) {
            None => Ok(None),
            Some(v) => v
                .parse::<bool>()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid filter '{key}={v}'"))),
        }
    };
    let official = want_bool("is-official")?;
    let automated = want_bool("is-automated")?;
    let stars = match filters.get("stars").and_then(|v| v.first()) {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid filter 'stars={v}'")))?,
    };
    let out: Vec<_> = results
        .into_iter()
        .filter(|r| official.is_none_or(|o| r.is_official == o))
        .filter(|r| automated.is_none_or(|a| r.is_automated == a))
        .filter(|r| r.star_count >= stars)
        .collect();
    Ok(Json(out))
}
