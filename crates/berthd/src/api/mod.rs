//! The Docker Engine API: routes, version prefixes, query flags and error bodies. Handlers
//! only translate HTTP to typed `berth-engine` calls (run on blocking threads) and back.

mod archive;
mod attach;
mod body_io;
mod build;
mod containers;
mod events;
mod exec;
mod images;
mod info;
mod limits;
mod logs;
mod networks;
#[cfg(test)]
mod openapi_tests;
mod pause;
mod registry;
mod stats;
mod streams;
mod system;
mod version_check;
mod volumes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use berth_engine::{Engine, EngineError, ErrorKind};
pub use limits::Limits;

/// The newest API version served; clients negotiate down from it.
pub const API_VERSION: &str = "1.45";
/// The oldest API version accepted.
pub const MIN_API_VERSION: &str = "1.24";

/// Shared handler state.
pub type AppState = Arc<Engine>;

/// Query parameters as docker sends them.
pub type Query = axum::extract::Query<HashMap<String, String>>;

/// A docker boolean query flag: `1`/`true` (any case) is true.
pub fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key)
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// An error as docker reports it: a status code and `{"message": ...}`.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// A 500 with `message`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InvalidParameter => StatusCode::BAD_REQUEST,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!("{}", self.message);
        } else {
            tracing::debug!("{}: {}", self.status, self.message);
        }
        (
            self.status,
            Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// Runs a blocking engine call off the async threads.
pub async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal(format!("engine task failed: {e}"))),
    }
}

/// The API version a request named in its path (`/v1.41/...`); absent without a prefix,
/// which means the newest.
#[derive(Debug, Clone)]
pub struct ApiVersion(pub String);

impl ApiVersion {
    /// Whether the request's version is older than `major.minor` (no version: the newest).
    pub fn older_than(v: Option<&ApiVersion>, major: u32, minor: u32) -> bool {
        let Some(ApiVersion(v)) = v else {
            return false;
        };
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let got = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        got < (major, minor)
    }
}

/// `/v1.41/containers/json` → `/containers/json`: every route is served with and without the
/// version prefix; the version goes along as an [`ApiVersion`] extension.
fn strip_version(mut req: Request) -> Request {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/v") else {
        return req;
    };
    let Some(slash) = rest.find('/') else {
        return req;
    };
    let version = &rest[..slash];
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return req;
    }
    let refused = version_check::refusal(version);
    let new_path = match refused {
        Some(_) => version_check::REJECT_PATH.to_owned(),
        None => rest[slash..].to_owned(),
    };
    let version = ApiVersion(version.to_owned());
    let pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(p) = pq.parse() {
        parts.path_and_query = Some(p);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
            req.extensions_mut().insert(version);
            if let Some(m) = refused {
                req.extensions_mut().insert(version_check::Refused(m));
            }
        }
    }
    req
}

/// Version prefix off, then registry requests to their internal routes.
fn rewrite(req: Request) -> Request {
    let mut req = strip_version(req);
    registry::rewrite(&mut req);
    req
}

async fn not_found(req: Request) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("page not found: {}", req.uri().path()),
    }
}

/// The router behind the version-stripping rewrite.
pub type Service = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// The whole API as a service for `axum::serve`.
pub fn app(engine: AppState, limits: Limits) -> axum::routing::IntoMakeService<Service> {
    let router = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route(version_check::REJECT_PATH, any(version_check::reject))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/events", get(events::events))
        .route("/swarm/leave", post(system::swarm_leave))
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/stats", get(stats::stats))
        .route("/containers/{id}/update", post(stats::update))
        .route("/containers/{id}/pause", post(pause::pause))
        .route("/containers/{id}/unpause", post(pause::unpause))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/logs", get(logs::logs))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/resize", post(attach::resize))
        .route("/containers/{id}", delete(containers::remove))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/build", post(build::build))
        .route("/build/prune", post(build::prune))
        .route("/images/get", get(images::save))
        .route("/images/load", post(images::load))
        .route("/images/prune", post(images::prune))
        .route(
            "/images/{*name}",
            delete(images::remove)
                .get(images::get_named)
                .post(images::post_named),
        )
        .route("/images/search", get(registry::search))
        .route("/auth", post(registry::auth))
        .route(registry::PULL_ROUTE, post(registry::pull))
        .route(registry::PUSH_ROUTE, post(registry::push))
        .route("/commit", post(images::commit))
        .route("/containers/{id}/changes", get(images::changes))
        .route("/containers/{id}/export", get(images::export))
        .route("/system/df", get(system::df))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .fallback(not_found)
        // JSON routes buffer their body: a small cap. Streaming routes take the raw body,
        // which this does not limit; they count it against `limits.upload` themselves.
        .layer(axum::extract::DefaultBodyLimit::max(limits::JSON_BODY))
        .layer(axum::Extension(limits))
        .layer(axum::middleware::map_response(limits::json_errors))
        .with_state(engine);
    let svc = tower::ServiceExt::map_request(router, rewrite as fn(Request) -> Request);
    axum::ServiceExt::<Request>::into_make_service(svc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_is_stripped() {
        let r = |p: &str| {
            let req = Request::builder()
                .uri(p)
                .body(axum::body::Body::empty())
                .unwrap_or_default();
            strip_version(req).uri().to_string()
        };
        assert_eq!(r("/v1.41/containers/json?all=1"), "/containers/json?all=1");
        assert_eq!(r("/v1.45/_ping"), "/_ping");
        assert_eq!(r("/containers/json"), "/containers/json");
        assert_eq!(r("/volumes/x"), "/volumes/x");
    }

    #[test]
    fn api_versions_compare_numerically() {
        let v = |s: &str| ApiVersion(s.to_owned());
        assert!(ApiVersion::older_than(Some(&v("1.41")), 1, 42));
        assert!(ApiVersion::older_than(Some(&v("1.9")), 1, 42));
        assert!(!ApiVersion::older_than(Some(&v("1.42")), 1, 42));
        assert!(!ApiVersion::older_than(Some(&v("1.100")), 1, 42));
        assert!(!ApiVersion::older_than(None, 1, 42));
    }

    #[test]
    fn flags() {
        let q: HashMap<String, String> = [
            ("a".into(), "1".into()),
            ("b".into(), "True".into()),
            ("c".into(), "0".into()),
        ]
        .into_iter()
        .collect();
        assert!(flag(&q, "a") && flag(&q, "b") && !flag(&q, "c") && !flag(&q, "d"));
    }
}
