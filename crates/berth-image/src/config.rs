//! The image config (OCI `config.json` / Docker image JSON) as Berth reads and writes it.
//!
//! Docker's config carries fields oci-spec does not model (Healthcheck, Shell, OnBuild,
//! ArgsEscaped, ...), and a config is identified by the digest of its bytes. So configs received
//! from elsewhere are stored byte for byte; this struct is used to read them and to build new
//! ones (commit, import), and it round-trips every unknown field through `extra`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

type Extra = serde_json::Map<String, serde_json::Value>;

/// A whole image config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Defaults for containers run from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layer diff ids.
    #[serde(default)]
    pub rootfs: RootFs,
    /// One entry per build step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Everything else (docker's `container`, `container_config`, `docker_version`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Run-time defaults (`config` object of the image config).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// Default user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Exposed ports as `"80/tcp": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Volumes as `"/data": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Stop signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Docker healthcheck (kept opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    /// Docker SHELL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Docker ONBUILD triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Docker ArgsEscaped (Windows legacy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// Fields this struct does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `rootfs` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Digests of the uncompressed layer tars, base first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".to_owned(),
            diff_ids: Vec::new(),
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comment (commit message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True if the step produced no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
    /// Fields this struct does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Errors from config handling.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Malformed JSON.
    #[error("invalid image config: {0}")]
    Json(#[from] serde_json::Error),
}

impl ImageConfig {
    /// Parse config bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ConfigError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Serialise a config Berth created (never used for configs received from elsewhere).
    pub fn to_vec(&self) -> Result<Vec<u8>, ConfigError> {
        Ok(serde_json::to_vec(self)?)
    }
}

/// Current time as RFC 3339 UTC with nanoseconds, like docker writes `created`.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// Format a unix time as RFC 3339 UTC, the fraction as Go's RFC3339Nano (what docker writes):
/// only the digits it needs, none when zero.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    i32::try_from(nanos)
        .ok()
        .and_then(|n| jiff::Timestamp::new(secs, n).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_docker_only_fields() {
        let raw = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Healthcheck":{"Test":["CMD","true"]},
            "Shell":["/bin/sh","-c"],"OnBuild":null,"ArgsEscaped":true,"Domainname":""},
            "rootfs":{"type":"layers","diff_ids":[]},"docker_version":"24.0","container_config":{"Cmd":["x"]}}"#;
        let c = ImageConfig::from_slice(raw.as_bytes()).unwrap();
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.args_escaped, Some(true));
        assert!(cc.healthcheck.is_some());
        assert!(cc.extra.contains_key("Domainname"));
        assert!(c.extra.contains_key("docker_version"));
        let again = ImageConfig::from_slice(&c.to_vec().unwrap()).unwrap();
        assert_eq!(again, c);
        let v: serde_json::Value = serde_json::from_slice(&c.to_vec().unwrap()).unwrap();
        assert_eq!(v["container_config"]["Cmd"][0], "x");
        assert_eq!(v["config"]["Shell"][1], "-c");
    }

    #[test]
    fn formats_time() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(
            rfc3339(951_782_400, 126_568_600),
            "2000-02-29T00:00:00.1265686Z"
        );
        assert_eq!(rfc3339(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        assert!(now_rfc3339().ends_with('Z'));
    }
}
