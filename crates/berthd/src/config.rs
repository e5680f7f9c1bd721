//! The daemon's configuration file (dockerd's `daemon.json`): settings an operator keeps in one
//! place rather than on the command line. Flags given explicitly win over the file.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

/// Where berthd looks when `--config-file` is not given (used only if it exists).
pub const DEFAULT_PATH: &str = "/etc/berth/daemon.json";

/// The keys berthd understands, named as in dockerd's `daemon.json`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DaemonConfig {
    /// Docker Hub mirrors, tried before registry-1.docker.io.
    #[serde(default)]
    pub registry_mirrors: Vec<String>,
    /// Registries reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// The default bridge's device, or `none`.
    pub bridge: Option<String>,
    /// The default bridge's address and prefix.
    pub bip: Option<String>,
    /// Log level.
    pub log_level: Option<String>,
    /// Persistent state directory.
    pub data_root: Option<String>,
    /// Runtime state directory.
    pub exec_root: Option<String>,
    /// Upstream resolvers of the embedded DNS servers.
    #[serde(default)]
    pub dns: Vec<String>,
    /// Remap containers' root to subordinate ids (`default`, `USER[:GROUP]`, `UID:GID`).
    pub userns_remap: Option<String>,
    /// Where to listen (`unix://PATH`, `tcp://ADDR:PORT`), as `-H`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// TLS on tcp:// hosts (`false`: plain HTTP, loopback only).
    pub tls: Option<bool>,
    /// TLS with client certificates checked against `tlscacert`.
    pub tlsverify: Option<bool>,
    /// The CA that signs client certificates.
    pub tlscacert: Option<String>,
    /// The server's certificate.
    pub tlscert: Option<String>,
    /// The server's private key.
    pub tlskey: Option<String>,
    /// Berth's own (dockerd has no such key): the largest streamed request body (a build
    /// context as sent, `docker load`, `docker import`, `docker cp` into a container).
    pub max_upload_size: Option<Size>,
    /// Berth's own: the largest build context once decompressed.
    pub build_context_max_size: Option<Size>,
    /// Berth's own: the most entries (files, directories, links) a build context may hold.
    pub build_context_max_files: Option<usize>,
    /// Berth's own: `false` turns the CRI endpoint off.
    pub cri: Option<bool>,
    /// Berth's own: the CRI socket's path.
    pub cri_socket: Option<String>,
    /// The CNI config directory of the CRI's pods (containerd's `conf_dir`).
    pub cni_conf_dir: Option<String>,
    /// The CNI plugin directories of the CRI's pods (containerd's `bin_dir`, as a list).
    pub cni_bin_dirs: Option<Vec<String>>,
}

/// A size as a number of bytes (`1073741824`) or a docker size string (`"1g"`, `"512m"`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Size {
    /// Bytes.
    Bytes(u64),
    /// Docker's units.
    Text(String),
}

impl Size {
    /// The number of bytes; `key` names the setting in the error.
    pub fn bytes(&self, key: &str) -> Result<u64> {
        match self {
            Size::Bytes(n) => Ok(*n),
            Size::Text(t) => parse_size(t, key),
        }
    }
}

/// A docker size string (`64g`, `512m`, `100`) for the setting `key`.
pub fn parse_size(text: &str, key: &str) -> Result<u64> {
    berth_engine::model::parse_size(text)
        .ok_or_else(|| anyhow::anyhow!("invalid {key} {text:?}: a size such as 512m or 2g"))
}

impl DaemonConfig {
    /// Reads `path`; a missing default file is an empty config, a missing explicit one an error.
    pub fn load(path: Option<&Path>) -> Result<DaemonConfig> {
        let (path, explicit) = match path {
            Some(p) => (p, true),
            None => (Path::new(DEFAULT_PATH), false),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DaemonConfig::default())
            }
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))
    }
}

/// Resolves the `--userns-remap` setting against the host's id files; a user or range that
/// is missing stops the daemon here, before anything is created.
pub fn userns_remap(
    setting: Option<&str>,
) -> Result<Option<std::sync::Arc<berth_engine::userns::Remap>>> {
    let Some(setting) = setting.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    // Idmapped layers need the host's root; a daemon in a user namespace (rootless) has not.
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    if uid_map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"] {
        anyhow::bail!("--userns-remap needs a daemon running as root on the host, not in a user namespace (rootless)");
    }
    if setting.trim() == "default" {
        berth_engine::userns::default_user::ensure()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("--userns-remap")?;
    }
    let files = berth_engine::userns::HostIdFiles::default();
    let remap = berth_engine::userns::Remap::resolve(setting, &files)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("--userns-remap")?;
    let (uid, gid) = remap.root();
    tracing::info!("userns-remap {setting}: container root is {uid}:{gid} on the host");
    Ok(Some(std::sync::Arc::new(remap)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn docker_keys_parse_and_unknown_keys_are_refused() {
        let c: DaemonConfig = serde_json::from_str(
            r#"{"registry-mirrors": ["http://m:5000"], "insecure-registries": ["r:5000"],
                "bip": "10.9.0.1/24", "bridge": "none"}"#,
        )
        .unwrap();
        assert_eq!(c.registry_mirrors, ["http://m:5000"]);
        assert_eq!(c.insecure_registries, ["r:5000"]);
        assert_eq!(c.bip.as_deref(), Some("10.9.0.1/24"));
        assert!(serde_json::from_str::<DaemonConfig>(r#"{"no-such-key": 1}"#).is_err());
    }

    #[test]
    fn remote_api_keys_are_dockerds() {
        let c: DaemonConfig = serde_json::from_str(
            r#"{"hosts": ["unix:///run/b.sock", "tcp://0.0.0.0:2376"], "tls": true,
                "tlsverify": true, "tlscacert": "/c/ca.pem", "tlscert": "/c/cert.pem",
                "tlskey": "/c/key.pem"}"#,
        )
        .unwrap();
        assert_eq!(c.hosts, ["unix:///run/b.sock", "tcp://0.0.0.0:2376"]);
        assert_eq!((c.tls, c.tlsverify), (Some(true), Some(true)));
        assert_eq!(c.tlscacert.as_deref(), Some("/c/ca.pem"));
        assert_eq!(c.tlskey.as_deref(), Some("/c/key.pem"));
    }

    #[test]
    fn limit_keys_take_numbers_and_size_strings() {
        let c: DaemonConfig = serde_json::from_str(
            r#"{"max-upload-size": "1g", "build-context-max-size": 4096,
                "build-context-max-files": 10}"#,
        )
        .unwrap();
        let up = c.max_upload_size.unwrap().bytes("max-upload-size").unwrap();
        assert_eq!(up, 1 << 30);
        let ctx = c.build_context_max_size.unwrap();
        assert_eq!(ctx.bytes("build-context-max-size").unwrap(), 4096);
        assert_eq!(c.build_context_max_files, Some(10));
        assert!(parse_size("lots", "max-upload-size").is_err());
    }

    #[test]
    fn missing_default_file_is_empty_but_missing_explicit_file_fails() {
        assert!(DaemonConfig::load(Some(Path::new("/nonexistent/daemon.json"))).is_err());
    }
}
