//! CRI `RuntimeService`: what this slice serves (`Version`, `Status`, `RuntimeConfig`); the
//! pod and container calls answer UNIMPLEMENTED until they are wired to the engine's
//! containers service.

use berth_cni::Cni;
use tonic::{Request, Response, Status};

use crate::proto::runtime_service_server::RuntimeService;
use crate::proto::{
    CgroupDriver, LinuxRuntimeConfiguration, RuntimeCondition, RuntimeConfigRequest,
    RuntimeConfigResponse, RuntimeStatus, StatusRequest, StatusResponse, VersionRequest,
    VersionResponse,
};

/// The CRI API version this server speaks.
pub const CRI_API_VERSION: &str = "v1";
/// The runtime's name in `Version`.
pub const RUNTIME_NAME: &str = "berth";

/// The CRI runtime service.
pub struct Runtime {
    cni: Cni,
}

impl Runtime {
    /// The service; `cni` decides the network condition.
    pub fn new(cni: Cni) -> Self {
        Runtime { cni }
    }
}

/// The two conditions kubelet requires, and the CNI state for `crictl info`. The network is
/// not ready without a usable CNI config, as in containerd (kubelet then keeps the node
/// NotReady instead of starting pods that cannot be networked).
pub fn status(cni: &Cni, verbose: bool) -> StatusResponse {
    let runtime = RuntimeCondition {
        r#type: "RuntimeReady".into(),
        status: true,
        ..RuntimeCondition::default()
    };
    let ready = cni.ready();
    let network = RuntimeCondition {
        r#type: "NetworkReady".into(),
        status: ready.is_ok(),
        reason: if ready.is_ok() {
            String::new()
        } else {
            "NetworkPluginNotReady".into()
        },
        message: match &ready {
            Ok(_) => String::new(),
            Err(e) => format!("Network plugin returns error: {e}"),
        },
    };
    let mut info = std::collections::HashMap::new();
    if verbose {
        let dirs: Vec<String> = cni
            .runner
            .plugin_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let cni_info = serde_json::json!({
            "confDir": cni.conf_dir,
            "pluginDirs": dirs,
            "networkName": ready.as_ref().map(|l| l.name.clone()).unwrap_or_default(),
            "networkConfig": ready.as_ref().map(|l| l.source.display().to_string()).unwrap_or_default(),
            "lastCNILoadStatus": match &ready { Ok(_) => "OK".to_owned(), Err(e) => e.to_string() },
        });
        info.insert("cniconfig".to_owned(), cni_info.to_string());
    }
    StatusResponse {
        status: Some(RuntimeStatus {
            conditions: vec![runtime, network],
        }),
        info,
    }
}

#[tonic::async_trait]
impl RuntimeService for Runtime {
    async fn version(
        &self,
        _request: Request<VersionRequest>,
    ) -> Result<Response<VersionResponse>, Status> {
        Ok(Response::new(VersionResponse {
            // The version of the kubelet runtime API, fixed at 0.1.0 by the CRI.
            version: "0.1.0".into(),
            runtime_name: RUNTIME_NAME.into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: CRI_API_VERSION.into(),
        }))
    }

    async fn status(
        &self,
        request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let verbose = request.into_inner().verbose;
        let cni = self.cni.clone();
        // Loading the config reads files: off the async workers.
        let resp = tokio::task::spawn_blocking(move || status(&cni, verbose))
            .await
            .map_err(|e| Status::internal(format!("status: {e}")))?;
        Ok(Response::new(resp))
    }

    async fn runtime_config(
        &self,
        _request: Request<RuntimeConfigRequest>,
    ) -> Result<Response<RuntimeConfigResponse>, Status> {
        // berth-cgroups writes cgroupfs directly; it never asks systemd for scopes.
        Ok(Response::new(RuntimeConfigResponse {
            linux: Some(LinuxRuntimeConfiguration {
                cgroup_driver: CgroupDriver::Cgroupfs as i32,
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cni(conf: &std::path::Path, bin: &std::path::Path) -> Cni {
        Cni {
            conf_dir: conf.to_path_buf(),
            runner: berth_cni::PluginRunner {
                plugin_dirs: vec![bin.to_path_buf()],
                ..berth_cni::PluginRunner::default()
            },
            cache_dir: conf.join("cache"),
        }
    }

    #[test]
    fn network_is_ready_only_with_a_config_whose_plugins_exist() {
        let d = tempfile::tempdir().unwrap();
        let c = cni(d.path(), d.path());
        let s = status(&c, true).status.unwrap();
        assert!(s.conditions[0].status, "the runtime is ready regardless");
        let net = &s.conditions[1];
        assert_eq!((net.r#type.as_str(), net.status), ("NetworkReady", false));
        assert_eq!(net.reason, "NetworkPluginNotReady");
        assert!(
            net.message.contains("no network config found"),
            "{}",
            net.message
        );

        std::fs::write(
            d.path().join("10.conflist"),
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"fakeplugin"}]}"#,
        )
        .unwrap();
        let net = status(&c, false).status.unwrap().conditions[1].clone();
        assert!(
            !net.status && net.message.contains("fakeplugin"),
            "{}",
            net.message
        );

        std::fs::write(d.path().join("fakeplugin"), "").unwrap();
        let resp = status(&c, true);
        assert!(resp.status.unwrap().conditions[1].status);
        let info: serde_json::Value = serde_json::from_str(&resp.info["cniconfig"]).unwrap();
        assert_eq!(info["networkName"], "n");
    }
}
