//! Docker's healthcheck shapes: `Config.Healthcheck` and `State.Health`; the prober lives in
//! `crate::containers::health`.

use serde::{Deserialize, Serialize};

use super::{nullable, ContainerRecord};

/// `Health.Status` values.
pub const STARTING: &str = "starting";
/// The last probe passed.
pub const HEALTHY: &str = "healthy";
/// `Retries` probes in a row failed.
pub const UNHEALTHY: &str = "unhealthy";

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Docker's `HealthConfig`; durations in nanoseconds, 0 meaning "inherit / default".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` off, `["CMD", args…]` or `["CMD-SHELL", command]`.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Time between probes.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Time a probe may run before it counts as failed.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Time after start during which failures do not count.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Time between probes during the start period.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Consecutive failures that make the container unhealthy.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "is_zero")]
    pub retries: i64,
}

/// Docker's `State.Health`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Consecutive failed probes.
    pub failing_streak: i64,
    /// The last results, oldest first.
    #[serde(deserialize_with = "nullable")]
    pub log: Vec<HealthResult>,
}

/// One probe's outcome (`HealthcheckResult`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthResult {
    /// When the probe started (RFC 3339).
    pub start: String,
    /// When it ended.
    pub end: String,
    /// 0 healthy; anything else (-1: timed out or could not run) a failure.
    pub exit_code: i32,
    /// Its stdout and stderr, at most 4 KiB.
    pub output: String,
}

/// The health a container shows to the `health` filter: its status, or `none`.
pub fn filter_status(r: &ContainerRecord) -> &str {
    r.state
        .health
        .as_ref()
        .map_or("none", |h| h.status.as_str())
}

/// The suffix `ps` adds to a running container's status: `(health: starting)`, `(healthy)`.
pub fn ps_suffix(r: &ContainerRecord) -> Option<String> {
    let h = r.state.health.as_ref()?;
    Some(match h.status.as_str() {
        STARTING => " (health: starting)".to_owned(),
        other => format!(" ({other})"),
    })
}
