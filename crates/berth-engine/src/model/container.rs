//! Docker's container shapes: `Config`, `HostConfig` (its parts flattened in from the sibling
//! modules), `LogConfig`, `RestartPolicy`, `State`, and the record that holds them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    nullable, ConfigNetworking, Confinement, Health, HealthConfig, HostModes, HostNetworking,
    Resources, StorageConfig,
};
use crate::error::{EngineError, Result};
use crate::time::ZERO_TIME;

/// Docker's container `Config`: what to run and how (from the create request merged with the
/// image's config).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    /// Host name inside the container (default: the short id).
    #[serde(deserialize_with = "nullable")]
    pub hostname: String,
    /// NIS domain name inside the container.
    #[serde(deserialize_with = "nullable")]
    pub domainname: String,
    /// `name|uid[:group|gid]` the process runs as (empty: root).
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    /// Whether the creating client attaches stdin.
    pub attach_stdin: bool,
    /// Whether the creating client attaches stdout.
    pub attach_stdout: bool,
    /// Whether the creating client attaches stderr.
    pub attach_stderr: bool,
    /// Allocate a terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Close stdin after the first attach detaches.
    pub stdin_once: bool,
    /// `KEY=VALUE` environment (image env merged with the request).
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    /// Command (arguments to the entrypoint).
    pub cmd: Option<Vec<String>>,
    /// The image as the user named it (`busybox`).
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    /// Working directory of the process.
    #[serde(deserialize_with = "nullable")]
    pub working_dir: String,
    /// Entrypoint; `Cmd` is appended to it.
    pub entrypoint: Option<Vec<String>>,
    /// Metadata labels.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// Signal `stop` sends first (default SIGTERM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL (default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Paths that get an anonymous volume (`"/data": {}`; the image's `VOLUME`s merged in).
    #[serde(deserialize_with = "nullable")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// `ExposedPorts` and `MacAddress`.
    #[serde(flatten)]
    pub net: ConfigNetworking,
    /// How to probe the container's health (the image's, overridden field by field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
}

/// The part of docker's `HostConfig` this engine honours so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// Remove the container when it exits (`run --rm`).
    pub auto_remove: bool,
    /// `bridge`, `host`, `none`, `container:ID` or a network name.
    #[serde(deserialize_with = "nullable")]
    pub network_mode: String,
    /// What to do when the container exits.
    #[serde(deserialize_with = "nullable")]
    pub restart_policy: RestartPolicy,
    /// The log driver and its options (`json-file` with `max-size`, `max-file`).
    #[serde(deserialize_with = "nullable")]
    pub log_config: LogConfig,
    /// `host` opts out of the daemon's `--userns-remap` (`--userns=host`).
    #[serde(deserialize_with = "nullable")]
    pub userns_mode: String,
    /// Run docker's init as PID 1 (`--init`; unset: no).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Resource limits (docker embeds `Resources` in `HostConfig` the same way).
    #[serde(flatten)]
    pub resources: Resources,
    /// Capabilities, privileged mode, security options, read-only root, groups, sysctls.
    #[serde(flatten)]
    pub confinement: Confinement,
    /// Volumes and mounts: `Binds`, `Mounts`, `Tmpfs`, `VolumesFrom`.
    #[serde(flatten)]
    pub storage: StorageConfig,
    /// Ports, DNS and /etc/hosts entries: `PortBindings`, `PublishAllPorts`, `Dns`, `DnsSearch`,
    /// `DnsOptions`, `ExtraHosts`.
    #[serde(flatten)]
    pub net: HostNetworking,
    /// Namespace modes, runtime, isolation, volume driver, device rules, real-time CPU.
    #[serde(flatten)]
    pub modes: HostModes,
}

/// The log driver that keeps no log (`--log-driver none`).
pub const NO_LOG_DRIVER: &str = "none";

/// Docker's `LogConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// The driver: only `json-file` (or empty) so far.
    #[serde(rename = "Type", deserialize_with = "nullable")]
    pub kind: String,
    /// Driver options.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
}

impl LogConfig {
    /// Validates the driver and options; returns (max size in bytes, 0 = unlimited; max files).
    /// `none` keeps no log and, as dockerd, takes any options.
    pub fn rotation(&self) -> Result<(u64, u32)> {
        if self.kind == NO_LOG_DRIVER {
            return Ok((0, 1));
        }
        if !matches!(self.kind.as_str(), "" | "json-file") {
            return Err(EngineError::InvalidParameter(format!(
                "logger: no log driver named '{}' is registered",
                self.kind
            )));
        }
        let mut size = 0;
        let mut files = 1;
        for (k, v) in &self.config {
            match k.as_str() {
                "max-size" => {
                    size = parse_size(v).ok_or_else(|| {
                        EngineError::InvalidParameter(format!("invalid max-size: {v}"))
                    })?
                }
                "max-file" => {
                    files = v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        EngineError::InvalidParameter(format!(
                            "max-file must be a positive number: {v}"
                        ))
                    })?
                }
                other => {
                    return Err(EngineError::InvalidParameter(format!(
                        "unknown log opt '{other}' for json-file log driver"
                    )))
                }
            }
        }
        // dockerd accepts max-file without max-size (nothing rotates then).
        Ok((size, files))
    }
}

/// Docker's size strings: `100`, `10k`, `10m`, `1g` (binary units, case-insensitive, optional
/// `b`).
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n > 0.0).then_some((n * mult as f64) as u64)
}

/// Docker's `RestartPolicy`: `Name` is "", "no", "always", "on-failure" or "unless-stopped".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// The policy's name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// For on-failure: give up after this many restarts (0: never give up).
    pub maximum_retry_count: i64,
}

impl RestartPolicy {
    /// Checks the name is one docker knows.
    pub fn validate(&self) -> Result<()> {
        match self.name.as_str() {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
            other => {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
                )))
            }
        }
        if self.maximum_retry_count < 0 {
            return Err(EngineError::InvalidParameter(
                "invalid restart policy: maximum retry count cannot be negative".into(),
            ));
        }
        if self.maximum_retry_count > 0 && self.name != "on-failure" {
            return Err(EngineError::InvalidParameter(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether a container that exited with `exit_code` after `restarts` policy restarts should
    /// be started again (`manually_stopped`: the user stopped it).
    pub fn should_restart(&self, exit_code: i32, restarts: i64, manually_stopped: bool) -> bool {
        if manually_stopped {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                exit_code != 0
                    && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

/// Docker's `State` object of `inspect`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// created, running, exited (docker also knows paused, restarting, removing, dead).
    pub status: String,
    /// Whether the container runs now.
    pub running: bool,
    /// Whether it is frozen.
    pub paused: bool,
    /// Whether a restart policy is restarting it.
    pub restarting: bool,
    /// Whether the OOM killer ended the last run.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Whether it is unusable (failed removal).
    pub dead: bool,
    /// Host pid of the init while running, else 0.
    pub pid: i32,
    /// Exit code of the last run (128+N for signal N).
    pub exit_code: i32,
    /// Why the last start failed.
    pub error: String,
    /// RFC 3339 start time of the last run.
    pub started_at: String,
    /// RFC 3339 exit time of the last run.
    pub finished_at: String,
    /// Healthcheck state (only with a healthcheck that probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: "created".into(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            health: None,
        }
    }
}

/// Everything the engine keeps about one container; serialised, it is the core of docker's
/// `inspect` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerRecord {
    /// Full id.
    pub id: String,
    /// Creation time.
    pub created: String,
    /// The program (first of Entrypoint+Cmd).
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Current state.
    pub state: ContainerState,
    /// The image id (`sha256:…`).
    pub image: String,
    /// `/name`, as docker shows it.
    pub name: String,
    /// Restarts by the restart policy.
    pub restart_count: i64,
    /// Storage driver of the container root.
    pub driver: String,
    /// Operating system.
    pub platform: String,
    /// What to run.
    pub config: ContainerConfig,
    /// How to run it on this host.
    pub host_config: HostConfig,
    /// Whether the user stopped it (restart policies then leave it alone).
    #[serde(default)]
    pub manually_stopped: bool,
}

impl ContainerRecord {
    /// The name without docker's leading slash.
    pub fn short_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn config_accepts_nulls() {
        let c: ContainerConfig = serde_json::from_str(
            r#"{"Image":"busybox","Env":null,"Cmd":["echo","hi"],"Labels":null,"Entrypoint":null,"Tty":false}"#,
        )
        .unwrap();
        assert_eq!(c.image, "busybox");
        assert!(c.env.is_empty());
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["echo".to_owned(), "hi".to_owned()][..])
        );
    }

    #[test]
    fn log_options() {
        let lc = |pairs: &[(&str, &str)]| LogConfig {
            kind: "json-file".into(),
            config: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        assert_eq!(lc(&[]).rotation().unwrap(), (0, 1));
        assert_eq!(
            lc(&[("max-size", "10m"), ("max-file", "3")])
                .rotation()
                .unwrap(),
            (10 << 20, 3)
        );
        assert_eq!(lc(&[("max-size", "1k")]).rotation().unwrap(), (1024, 1));
        assert_eq!(lc(&[("max-file", "3")]).rotation().unwrap(), (0, 3));
        assert!(lc(&[("max-size", "lots")]).rotation().is_err());
        assert!(lc(&[("compress", "true")]).rotation().is_err());
        let mut other = lc(&[]);
        other.kind = "syslog".into();
        assert!(other.rotation().is_err());
    }

    #[test]
    fn restart_policies() {
        let p = |name: &str, max| RestartPolicy {
            name: name.into(),
            maximum_retry_count: max,
        };
        assert!(!p("", 0).should_restart(1, 0, false));
        assert!(!p("no", 0).should_restart(1, 0, false));
        assert!(p("always", 0).should_restart(0, 5, false));
        assert!(!p("always", 0).should_restart(0, 5, true));
        assert!(p("unless-stopped", 0).should_restart(0, 0, false));
        assert!(!p("on-failure", 0).should_restart(0, 0, false));
        assert!(p("on-failure", 0).should_restart(2, 100, false));
        assert!(p("on-failure", 2).should_restart(2, 1, false));
        assert!(!p("on-failure", 2).should_restart(2, 2, false));
        assert!(p("sometimes", 0).validate().is_err());
        assert!(p("always", 3).validate().is_err());
        assert!(p("on-failure", 3).validate().is_ok());
    }
}
