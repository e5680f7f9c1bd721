//! `GET /info` with every field dockerd 20.10 fills (docker-py and the docker CLI read
//! `Debug`, `ExperimentalBuild`, `Swarm`, `Runtimes`, …), and `POST /swarm/leave`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use berth_engine::model::host_modes::DEFAULT_RUNTIME;
use serde_json::{json, Value};

use super::system::{kernel_version, VERSION};
use super::{blocking, ApiError, ApiResult, AppState};

/// `POST /swarm/leave`: this engine is never part of a swarm; docker's 503 and wording
/// (docker-py's network test teardown tolerates exactly this).
pub async fn swarm_leave() -> ApiError {
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "This node is not part of a swarm".into(),
    }
}

/// A `/proc` file's trimmed text, or empty.
fn proc_text(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// `MemTotal` in bytes.
fn mem_total() -> u64 {
    proc_text("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Open descriptors and threads of the daemon (docker's `NFd`, `NGoroutines`).
fn fds_and_threads() -> (usize, u64) {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
    let threads = proc_text("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    (fds, threads)
}

/// `PRETTY_NAME` and `VERSION_ID` of os-release.
fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    (field("PRETTY_NAME"), field("VERSION_ID"))
}

/// The host facts of `info`.
fn host_fields() -> Value {
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (fds, threads) = fds_and_threads();
    let (os, os_version) = os_release();
    let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let on = |p: &str| proc_text(p) == "1";
    json!({
        "KernelVersion": kernel_version(),
        "OperatingSystem": if os.is_empty() { "linux".to_owned() } else { os },
        "OSVersion": os_version,
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": ncpu,
        "MemTotal": mem_total(),
        "Name": proc_text("/proc/sys/kernel/hostname"),
        "NFd": fds,
        "NGoroutines": threads,
        "SystemTime": berth_engine::time::now_rfc3339(),
        "CgroupVersion": if unified { "2" } else { "1" },
        "IPv4Forwarding": on("/proc/sys/net/ipv4/ip_forward"),
        "BridgeNfIptables": on("/proc/sys/net/bridge/bridge-nf-call-iptables"),
        "BridgeNfIp6tables": on("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
        "MemoryLimit": true, "SwapLimit": true, "KernelMemory": false,
        "KernelMemoryTCP": false, "CpuCfsPeriod": true, "CpuCfsQuota": true,
        "CPUShares": true, "CPUSet": true, "PidsLimit": true, "OomKillDisable": !unified,
        "HttpProxy": std::env::var("HTTP_PROXY").unwrap_or_default(),
        "HttpsProxy": std::env::var("HTTPS_PROXY").unwrap_or_default(),
        "NoProxy": std::env::var("NO_PROXY").unwrap_or_default(),
    })
}

/// Docker's `RegistryConfig`: loopback and the configured insecure networks, the insecure
/// registries by name, Docker Hub with its mirrors.
fn registry_config(opts: &berth_engine::registry::RegistryOptions) -> Value {
    let (cidrs, names): (Vec<&String>, Vec<&String>) =
        opts.insecure.iter().partition(|s| s.contains('/'));
    let mut index = serde_json::Map::new();
    index.insert(
        "docker.io".into(),
        json!({"Name": "docker.io", "Mirrors": opts.mirrors, "Secure": true, "Official": true}),
    );
    for n in names {
        index.insert(
            n.clone(),
            json!({"Name": n, "Mirrors": [], "Secure": false, "Official": false}),
        );
    }
    let mut all_cidrs = vec!["127.0.0.0/8".to_owned()];
    all_cidrs.extend(cidrs.into_iter().cloned());
    json!({
        "AllowNondistributableArtifactsCIDRs": [],
        "AllowNondistributableArtifactsHostnames": [],
        "InsecureRegistryCIDRs": all_cidrs,
        "IndexConfigs": index,
        "Mirrors": opts.mirrors,
    })
}

/// The engine's fixed answers: plugins, registry, swarm, runtimes, versions.
fn engine_fields(registry: &berth_engine::registry::RegistryOptions) -> Value {
    json!({
        "Driver": "overlay",
        "DriverStatus": [],
        "Plugins": {
            "Volume": ["local"], "Network": ["bridge", "host", "null"],
            "Authorization": null, "Log": ["json-file"],
        },
        "Debug": tracing::level_filters::LevelFilter::current()
            >= tracing::level_filters::LevelFilter::DEBUG,
        "ExperimentalBuild": false,
        "NEventsListener": 0,
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": registry_config(registry),
        "GenericResources": null,
        "Labels": [],
        "ServerVersion": VERSION,
        "Runtimes": {DEFAULT_RUNTIME: {"path": DEFAULT_RUNTIME}},
        "DefaultRuntime": DEFAULT_RUNTIME,
        "Swarm": {
            "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
            "ControlAvailable": false, "Error": "", "RemoteManagers": null,
        },
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "ProductLicense": "",
        "DefaultAddressPools": [],
        "Warnings": [],
    })
}

/// `GET /info`.
pub async fn info(State(engine): State<AppState>) -> ApiResult<Json<Value>> {
    let cfg = engine.config().clone();
    let registry = engine.images().registry_options().clone();
    let i = blocking(move || Ok(engine.containers().info())).await?;
    let mut v = json!({
        "ID": "",
        "Containers": i.containers,
        "ContainersRunning": i.running,
        "ContainersPaused": i.paused,
        "ContainersStopped": i.stopped,
        "Images": i.images,
        "DockerRootDir": cfg.data_root,
        "ExecRoot": cfg.exec_root,
        // As dockerd: `name=userns` when containers are remapped.
        "SecurityOptions": std::iter::once("name=seccomp,profile=builtin")
            .chain(cfg.userns_remap.as_ref().map(|_| "name=userns"))
            .collect::<Vec<_>>(),
    });
    for extra in [host_fields(), engine_fields(&registry)] {
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
    }
    Ok(Json(v))
}
