//! Healthchecks as dockerd runs them: `Config.Healthcheck` (from the image, overridden field by
//! field by the create request), probes run as execs in the container, and `State.Health`
//! (`starting` → `healthy`/`unhealthy`, the failing streak and the last five results).
//!
//! The timing lives in one scheduler (`health/scheduler.rs`): a queue of due probes served by
//! a few worker threads, so a thousand containers with healthchecks cost no more threads than
//! one. A probe (`health/probe.rs`) is an exec through the engine's exec path, killed when it
//! outlives its timeout.
//!
//! Hooks elsewhere: `start` arms the container's probes, the exit watcher disarms them,
//! `open` re-arms the running containers' (the health state is in the record, so it
//! survives a daemon restart), `create` merges and checks the config.

mod probe;
mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use super::Containers;
use crate::error::{EngineError, Result};
use crate::model::{
    ContainerRecord, Health, HealthConfig, HealthResult, HEALTHY, STARTING, UNHEALTHY,
};

pub(crate) use scheduler::Scheduler;

/// Docker's defaults (`daemon/health.go`).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Results kept in `State.Health.Log`.
const MAX_LOG_ENTRIES: usize = 5;
/// Bytes of a probe's output kept (more is cut and marked with `...`).
pub(crate) const MAX_OUTPUT: usize = 4096;

/// How a probe runs the test, or `None` when nothing is probed (no test, `NONE`, an unknown
/// kind — docker ignores those with a warning).
pub(crate) fn probe_command(cfg: &HealthConfig) -> Option<Vec<String>> {
    match cfg.test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            let mut cmd = vec!["/bin/sh".to_owned(), "-c".to_owned()];
            cmd.extend(rest.iter().cloned());
            Some(cmd)
        }
        _ => None,
    }
}

fn or_default(ns: i64, default: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns as u64)
    } else {
        default
    }
}

/// A probe's timeout.
pub(crate) fn timeout(cfg: &HealthConfig) -> Duration {
    or_default(cfg.timeout, DEFAULT_TIMEOUT)
}

/// Docker's merge (`daemon/commit.go`): no healthcheck in the request takes the image's whole;
/// otherwise each field left zero takes the image's.
pub(crate) fn merge_image(cfg: &mut Option<HealthConfig>, image: Option<&serde_json::Value>) {
    let Some(img) = image.and_then(|v| serde_json::from_value::<HealthConfig>(v.clone()).ok())
    else {
        return;
    };
    let Some(mine) = cfg else {
        *cfg = Some(img);
        return;
    };
    if mine.test.is_empty() {
        mine.test = img.test;
    }
    for (field, from) in [
        (&mut mine.interval, img.interval),
        (&mut mine.timeout, img.timeout),
        (&mut mine.start_period, img.start_period),
        (&mut mine.start_interval, img.start_interval),
        (&mut mine.retries, img.retries),
    ] {
        if *field == 0 {
            *field = from;
        }
    }
}

/// dockerd's checks at create (`verifyContainerSettings`): durations are 0 or at least 1 ms,
/// retries not negative.
pub(crate) fn validate(cfg: Option<&HealthConfig>) -> Result<()> {
    let Some(c) = cfg else { return Ok(()) };
    const MIN: i64 = 1_000_000;
    for (name, v) in [
        ("Interval", c.interval),
        ("Timeout", c.timeout),
        ("StartPeriod", c.start_period),
        ("StartInterval", c.start_interval),
    ] {
        if v != 0 && v < MIN {
            return Err(EngineError::InvalidParameter(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if c.retries < 0 {
        return Err(EngineError::InvalidParameter(
            "Retries in Healthcheck cannot be negative".into(),
        ));
    }
    Ok(())
}

/// Time since the container's start, from its record.
fn since_start(r: &ContainerRecord, at: &str) -> Duration {
    let parse = |s: &str| s.parse::<jiff::Timestamp>().ok();
    match (parse(at), parse(&r.state.started_at)) {
        (Some(a), Some(s)) => {
            let ns = a.as_nanosecond() - s.as_nanosecond();
            Duration::from_nanos(ns.clamp(0, u64::MAX as i128) as u64)
        }
        _ => Duration::MAX,
    }
}

/// The wait before the next probe (docker 26's `getInterval`): `StartInterval` while the
/// container is still starting within its start period, `Interval` otherwise.
fn next_delay(r: &ContainerRecord, cfg: &HealthConfig) -> Duration {
    let interval = or_default(cfg.interval, DEFAULT_INTERVAL);
    let start_period = or_default(cfg.start_period, Duration::ZERO);
    let now = crate::time::now_rfc3339();
    if since_start(r, &now) >= start_period {
        return interval;
    }
    match r.state.health.as_ref() {
        Some(h) if h.status == STARTING => or_default(cfg.start_interval, DEFAULT_START_INTERVAL),
        _ => interval,
    }
}

/// Applies one result (docker's `handleProbeResult`); returns the new status if it changed.
fn apply_result(r: &mut ContainerRecord, cfg: &HealthConfig, res: HealthResult) -> Option<String> {
    let retries = if cfg.retries > 0 {
        cfg.retries
    } else {
        DEFAULT_RETRIES
    };
    let start_period = or_default(cfg.start_period, Duration::ZERO);
    let in_start_period = since_start(r, &res.start) < start_period;
    let h = r.state.health.get_or_insert_with(|| Health {
        status: STARTING.into(),
        ..Health::default()
    });
    let old = h.status.clone();
    let passed = res.exit_code == 0;
    if h.log.len() >= MAX_LOG_ENTRIES {
        h.log.drain(..=h.log.len() - MAX_LOG_ENTRIES);
    }
    h.log.push(res);
    if passed {
        h.failing_streak = 0;
        h.status = HEALTHY.into();
    } else if !(h.status == STARTING && in_start_period) {
        // Failures during the start period do not count until a probe has passed.
        h.failing_streak += 1;
        if h.failing_streak >= retries {
            h.status = UNHEALTHY.into();
        }
    }
    (h.status != old).then(|| h.status.clone())
}

impl Containers {
    /// At start: the health state restarts at `starting` (the log is kept, as docker keeps
    /// it) and the first probe is scheduled.
    pub(crate) fn health_started(&self, id: &str) {
        self.arm_health(id, true);
    }

    /// At exit or removal: no more probes (the last state stays visible).
    pub(crate) fn health_stopped(&self, id: &str) {
        self.health.disarm(id);
    }

    /// At open: running containers' probes resume where the previous daemon left them.
    pub(crate) fn health_resume(&self) {
        let running = self.running_ids();
        for id in running {
            self.arm_health(&id, false);
        }
    }

    fn arm_health(&self, id: &str, reset: bool) {
        let Some(me) = self.me.get().and_then(std::sync::Weak::upgrade) else {
            return;
        };
        let mut inner = self.lock();
        let Some(rec) = inner.containers.get_mut(id) else {
            return;
        };
        let Some(cfg) = rec.config.healthcheck.clone() else {
            return;
        };
        if probe_command(&cfg).is_none() {
            return;
        }
        let h = rec.state.health.get_or_insert_with(Health::default);
        if reset || h.status.is_empty() {
            h.status = STARTING.into();
            h.failing_streak = 0;
        }
        let delay = next_delay(rec, &cfg);
        drop(inner);
        self.health.arm(&me, id, delay);
    }

    /// Runs one due probe of container `id` (on a scheduler worker) and schedules the next.
    pub(crate) fn health_probe(self: &Arc<Self>, id: &str, generation: u64) {
        let (cfg, paused) = {
            let inner = self.lock();
            let Some(rec) = inner.containers.get(id).filter(|r| r.state.running) else {
                return;
            };
            let Some(cfg) = rec.config.healthcheck.clone() else {
                return;
            };
            (cfg, rec.state.paused)
        };
        // A frozen container cannot run a probe; docker stops probing while paused.
        if paused {
            let delay = or_default(cfg.interval, DEFAULT_INTERVAL);
            self.health.reschedule(id, generation, delay);
            return;
        }
        let result = probe::run(self, id, &cfg);
        self.health_record(id, generation, &cfg, result);
    }

    fn health_record(&self, id: &str, generation: u64, cfg: &HealthConfig, res: HealthResult) {
        let changed = {
            let mut inner = self.lock();
            if !self.health.is_current(id, generation) {
                return;
            }
            let Some(rec) = inner.containers.get_mut(id).filter(|r| r.state.running) else {
                return;
            };
            let changed = apply_result(rec, cfg, res);
            if changed.is_some() {
                // Status changes are kept (a restarted daemon shows them); the log alone is
                // not worth a disk write per probe, as in docker.
                if let Err(e) = self.records.save_state(rec) {
                    tracing::warn!("saving container {id}: {e}");
                }
            }
            self.health.reschedule(id, generation, next_delay(rec, cfg));
            changed
        };
        if let Some(status) = changed {
            self.emit_container(id, &format!("health_status: {status}"), &[]);
        }
    }
}

/// Go's `time.Duration.String()`, which docker's timeout message uses (`30s`, `1m30s`,
/// `500ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |n: u128, unit: u128, suffix: &str| {
        let (whole, rest) = (n / unit, n % unit);
        if rest == 0 {
            return format!("{whole}{suffix}");
        }
        let digits = unit.ilog10() as usize;
        let s = format!("{rest:0digits$}");
        format!("{whole}.{}{suffix}", s.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return frac(ns, 1_000, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, "ms");
    }
    let secs = ns / 1_000_000_000;
    let (h, m) = (secs / 3600, secs / 60 % 60);
    let s = frac(ns % 60_000_000_000, 1_000_000_000, "s");
    match (h, m) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn merge_and_validate_follow_docker() {
        let img = serde_json::json!({"Test": ["CMD", "true"], "Interval": 5_000_000_000i64, "Retries": 2});
        let mut none = None;
        merge_image(&mut none, Some(&img));
        assert_eq!(none.as_ref().unwrap().test, ["CMD", "true"]);
        let mut mine = Some(HealthConfig {
            interval: 1_000_000_000,
            ..Default::default()
        });
        merge_image(&mut mine, Some(&img));
        let m = mine.unwrap();
        assert_eq!((m.test.len(), m.interval, m.retries), (2, 1_000_000_000, 2));
        let bad = HealthConfig {
            interval: 10,
            ..Default::default()
        };
        let e = validate(Some(&bad)).unwrap_err().to_string();
        assert!(
            e.contains("Interval in Healthcheck cannot be less than 1ms"),
            "{e}"
        );
        let neg = HealthConfig {
            retries: -1,
            ..Default::default()
        };
        assert!(validate(Some(&neg)).is_err());
        let none_test = HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert!(probe_command(&none_test).is_none());
        let shell = HealthConfig {
            test: vec!["CMD-SHELL".into(), "exit 1".into()],
            ..Default::default()
        };
        assert_eq!(probe_command(&shell).unwrap(), ["/bin/sh", "-c", "exit 1"]);
    }

    #[test]
    fn results_follow_handle_probe_result() {
        let mut r: ContainerRecord = serde_json::from_value(serde_json::json!({
            "Id": "x", "Created": "2024-01-01T00:00:00Z", "Path": "sh", "Args": [],
            "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
                "OOMKilled": false, "Dead": false, "Pid": 1, "ExitCode": 0, "Error": "",
                "StartedAt": "2024-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"},
            "Image": "sha256:0", "Name": "/x", "RestartCount": 0, "Driver": "overlay",
            "Platform": "linux", "Config": {}, "HostConfig": {}
        }))
        .unwrap();
        let cfg = HealthConfig {
            retries: 2,
            ..Default::default()
        };
        let res = |code| HealthResult {
            start: "2024-01-01T00:01:00Z".into(),
            end: "2024-01-01T00:01:00Z".into(),
            exit_code: code,
            output: String::new(),
        };
        assert_eq!(apply_result(&mut r, &cfg, res(1)), None);
        assert_eq!(
            apply_result(&mut r, &cfg, res(1)).as_deref(),
            Some(UNHEALTHY)
        );
        assert_eq!(apply_result(&mut r, &cfg, res(0)).as_deref(), Some(HEALTHY));
        for _ in 0..6 {
            apply_result(&mut r, &cfg, res(0));
        }
        let h = r.state.health.as_ref().unwrap();
        assert_eq!((h.log.len(), h.failing_streak), (MAX_LOG_ENTRIES, 0));
        // Within the start period, failures of a starting container do not count.
        let mut r2 = r.clone();
        r2.state.health = None;
        let slow = HealthConfig {
            retries: 1,
            start_period: 3_600_000_000_000,
            ..Default::default()
        };
        assert_eq!(apply_result(&mut r2, &slow, res(1)), None);
        assert_eq!(r2.state.health.as_ref().unwrap().failing_streak, 0);
    }
}
