//! `/_ping`, `/version`, `/system/df` (`/info` and `/swarm/leave` in `info`).

use axum::extract::State;
use axum::http::header::{HeaderName, HeaderValue, CACHE_CONTROL, PRAGMA};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

pub use super::info::{info, swarm_leave};
use super::{blocking, ApiResult, AppState, API_VERSION, MIN_API_VERSION};

pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(super) fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

pub(super) fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `GET|HEAD /_ping`: liveness plus the headers clients negotiate the version with.
pub async fn ping() -> impl IntoResponse {
    (
        [
            (
                HeaderName::from_static("api-version"),
                HeaderValue::from_static(API_VERSION),
            ),
            (
                HeaderName::from_static("ostype"),
                HeaderValue::from_static("linux"),
            ),
            (
                HeaderName::from_static("docker-experimental"),
                HeaderValue::from_static("false"),
            ),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("no-cache, no-store, must-revalidate"),
            ),
            (PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        "OK",
    )
}

/// `GET /version`.
pub async fn version() -> Json<Value> {
    Json(json!({
        "Platform": {"Name": "Berth Engine"},
        "Components": [{
            "Name": "Engine",
            "Version": VERSION,
            "Details": {
                "ApiVersion": API_VERSION,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux",
                "Arch": arch(),
                "KernelVersion": kernel_version(),
            },
        }],
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel_version(),
        "BuildTime": "",
    }))
}

/// `GET /system/df`: images (with shared sizes), containers (with writable-layer sizes),
/// volumes and build cache, in docker's shape.
pub async fn df(State(engine): State<AppState>) -> ApiResult<Json<Value>> {
    let du = blocking(move || engine.disk_usage()).await?;
    let v = serde_json::to_value(du).map_err(|e| super::ApiError::internal(e.to_string()))?;
    Ok(Json(v))
}
