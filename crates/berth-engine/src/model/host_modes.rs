//! The namespace, runtime and isolation settings of docker's `HostConfig` (`CgroupnsMode`,
//! `PidMode`, `IpcMode`, `UTSMode`, `Isolation`, `Runtime`, `VolumeDriver`,
//! `DeviceCgroupRules`, `CpuRealtime*`): kept and shown as dockerd shows them, and every
//! value Berth cannot honour refused at create with a clear error rather than ignored.

use serde::{Deserialize, Serialize};

use super::nullable;
use crate::error::{EngineError, Result};

/// The runtime every container runs under (`info`'s `DefaultRuntime`).
pub const DEFAULT_RUNTIME: &str = "berth-runtime";

/// Docker's namespace-mode fields of `HostConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostModes {
    /// `private` (every container gets a cgroup namespace) or `host`.
    #[serde(deserialize_with = "nullable")]
    pub cgroupns_mode: String,
    /// `host`, `container:ID`, or empty for a private PID namespace.
    #[serde(deserialize_with = "nullable")]
    pub pid_mode: String,
    /// `private`, `shareable`, `host`, `none`, `container:ID`.
    #[serde(deserialize_with = "nullable")]
    pub ipc_mode: String,
    /// `host`, or empty for a private UTS namespace.
    #[serde(rename = "UTSMode", deserialize_with = "nullable")]
    pub uts_mode: String,
    /// Only `default` (or empty) on Linux.
    #[serde(deserialize_with = "nullable")]
    pub isolation: String,
    /// The OCI runtime.
    #[serde(deserialize_with = "nullable")]
    pub runtime: String,
    /// The driver of volumes the container creates (`local`).
    #[serde(deserialize_with = "nullable")]
    pub volume_driver: String,
    /// Extra device cgroup rules (`c 1:3 mr`).
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Real-time scheduler period (µs).
    pub cpu_realtime_period: i64,
    /// Real-time scheduler runtime (µs).
    pub cpu_realtime_runtime: i64,
}

fn unsupported(what: &str, value: &str) -> EngineError {
    EngineError::InvalidParameter(format!("{what} \"{value}\" is not supported by Berth"))
}

impl HostModes {
    /// Checks a create request and fills dockerd's defaults (what `inspect` then shows).
    pub fn normalize(&mut self) -> Result<()> {
        match self.cgroupns_mode.as_str() {
            "" | "private" => self.cgroupns_mode = "private".into(),
            "host" => return Err(unsupported("cgroup namespace mode", "host")),
            other => {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid cgroup namespace mode: {other}"
                )))
            }
        }
        match self.ipc_mode.as_str() {
            "" | "private" => self.ipc_mode = "private".into(),
            other => return Err(unsupported("IPC mode", other)),
        }
        if !self.pid_mode.is_empty() {
            return Err(unsupported("PID mode", &self.pid_mode));
        }
        if !self.uts_mode.is_empty() {
            return Err(unsupported("UTS mode", &self.uts_mode));
        }
        if !matches!(self.isolation.as_str(), "" | "default") {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid isolation: \"{}\" - linux only supports 'default'",
                self.isolation
            )));
        }
        match self.runtime.as_str() {
            "" | DEFAULT_RUNTIME => self.runtime = DEFAULT_RUNTIME.into(),
            other => {
                return Err(EngineError::InvalidParameter(format!(
                    "unknown or invalid runtime name: {other}"
                )))
            }
        }
        if !matches!(self.volume_driver.as_str(), "" | "local") {
            return Err(EngineError::NotFound(format!(
                "error looking up volume plugin {0}: plugin \"{0}\" not found",
                self.volume_driver
            )));
        }
        if self
            .device_cgroup_rules
            .as_ref()
            .is_some_and(|r| !r.is_empty())
        {
            return Err(EngineError::InvalidParameter(
                "device cgroup rules are not supported by Berth".into(),
            ));
        }
        if self.cpu_realtime_period != 0 || self.cpu_realtime_runtime != 0 {
            return Err(EngineError::InvalidParameter(
                "Your kernel does not support CPU real-time scheduler".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        let mut m = HostModes::default();
        m.normalize().unwrap();
        assert_eq!(
            (
                m.cgroupns_mode.as_str(),
                m.ipc_mode.as_str(),
                m.runtime.as_str()
            ),
            ("private", "private", DEFAULT_RUNTIME)
        );
        let refused = |f: &dyn Fn(&mut HostModes)| {
            let mut m = HostModes::default();
            f(&mut m);
            m.normalize().unwrap_err().to_string()
        };
        assert!(refused(&|m| m.pid_mode = "host".into()).contains("PID mode \"host\""));
        assert!(refused(&|m| m.runtime = "crun".into()).contains("unknown or invalid runtime"));
        assert!(refused(&|m| m.isolation = "hyperv".into()).contains("Invalid isolation"));
    }
}
