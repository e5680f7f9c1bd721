//! `/_ping`, `/version`, `/info`, `/system/df`.

use axum::extract::State;
use axum::http::header::{HeaderName, HeaderValue, CACHE_CONTROL, PRAGMA};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::{blocking, ApiResult, AppState, API_VERSION, MIN_API_VERSION};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn arch() -> &'static str {
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

/// `GET /info` (the fields this engine can fill so far).
pub async fn info(State(engine): State<AppState>) -> ApiResult<Json<Value>> {
    let cfg = engine.config().clone();
    let i = blocking(move || Ok(engine.info())).await?;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<u64>().ok())
                })
        })
        .unwrap_or(0)
        * 1024;
    Ok(Json(json!({
        "ID": "",
        "Containers": i.containers,
        "ContainersRunning": i.running,
        "ContainersPaused": i.paused,
        "ContainersStopped": i.stopped,
        "Images": i.images,
        "Driver": "overlay",
        "DockerRootDir": cfg.data_root,
        "ExecRoot": cfg.exec_root,
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "KernelVersion": kernel_version(),
        "OperatingSystem": "linux",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": ncpu,
        "MemTotal": mem,
        "Name": hostname,
        "ServerVersion": VERSION,
        "DefaultRuntime": "berth-runtime",
        // As dockerd: `name=userns` when containers are remapped.
        "SecurityOptions": std::iter::once("name=seccomp,profile=builtin")
            .chain(cfg.userns_remap.as_ref().map(|_| "name=userns"))
            .collect::<Vec<_>>(),
        "Warnings": [],
    })))
}

/// `GET /system/df`: images (with shared sizes), containers (with writable-layer sizes),
/// volumes and build cache, in docker's shape.
pub async fn df(State(engine): State<AppState>) -> ApiResult<Json<Value>> {
    let du = blocking(move || engine.disk_usage()).await?;
    let v = serde_json::to_value(du).map_err(|e| super::ApiError::internal(e.to_string()))?;
    Ok(Json(v))
}
