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
    fn missing_default_file_is_empty_but_missing_explicit_file_fails() {
        assert!(DaemonConfig::load(Some(Path::new("/nonexistent/daemon.json"))).is_err());
    }
}
