//! `run`/`create` healthcheck flags (`--health-cmd`, `--health-interval`, …,
//! `--no-healthcheck`) into docker's `Config.Healthcheck`, with the CLI's own checks.

use clap::Args;
use serde_json::{json, Value};

use crate::Failure;

/// The healthcheck flags.
#[derive(Args, Debug, Clone, Default)]
pub struct HealthFlags {
    /// Command to run to check health.
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s).
    #[arg(long, value_parser = parse_duration_arg, allow_hyphen_values = true)]
    pub health_interval: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s).
    #[arg(long, value_parser = parse_duration_arg, allow_hyphen_values = true)]
    pub health_timeout: Option<i64>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long, allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown
    /// (ms|s|m|h) (default 0s).
    #[arg(long, value_parser = parse_duration_arg, allow_hyphen_values = true)]
    pub health_start_period: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s).
    #[arg(long, value_parser = parse_duration_arg, allow_hyphen_values = true)]
    pub health_start_interval: Option<i64>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    pub no_healthcheck: bool,
}

impl HealthFlags {
    /// `Config.Healthcheck` as the docker CLI builds it, or `None` when no flag was given.
    pub fn config(&self) -> Result<Option<Value>, Failure> {
        let durations = [
            ("interval", self.health_interval),
            ("timeout", self.health_timeout),
            ("start-period", self.health_start_period),
            ("start-interval", self.health_start_interval),
        ];
        let have = self.health_cmd.as_deref().is_some_and(|c| !c.is_empty())
            || durations.iter().any(|(_, d)| d.unwrap_or(0) != 0)
            || self.health_retries.unwrap_or(0) != 0;
        if self.no_healthcheck {
            if have {
                return Err(Failure::daemon(
                    "--no-healthcheck conflicts with --health-* options",
                ));
            }
            return Ok(Some(json!({"Test": ["NONE"]})));
        }
        if !have {
            return Ok(None);
        }
        for (name, d) in durations {
            if d.unwrap_or(0) < 0 {
                return Err(Failure::daemon(format!(
                    "--health-{name} cannot be negative"
                )));
            }
        }
        if self.health_retries.unwrap_or(0) < 0 {
            return Err(Failure::daemon("--health-retries cannot be negative"));
        }
        let mut hc = json!({
            "Interval": self.health_interval.unwrap_or(0),
            "Timeout": self.health_timeout.unwrap_or(0),
            "StartPeriod": self.health_start_period.unwrap_or(0),
            "StartInterval": self.health_start_interval.unwrap_or(0),
            "Retries": self.health_retries.unwrap_or(0),
        });
        if let Some(cmd) = self.health_cmd.as_deref().filter(|c| !c.is_empty()) {
            hc["Test"] = json!(["CMD-SHELL", cmd]);
        }
        Ok(Some(hc))
    }
}

fn parse_duration_arg(s: &str) -> Result<i64, String> {
    parse_go_duration(s).ok_or_else(|| format!("time: invalid duration \"{s}\""))
}

/// Go's `time.ParseDuration` (what the docker CLI's duration flags take): a signed sequence
/// of decimal numbers with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; `0` alone. Returns
/// nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += num * mult;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let ns = total as i64;
    Some(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1s"), Some(1_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_go_duration("-2s"), Some(-2_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("1x"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn flags_build_docker_config() {
        let f = HealthFlags {
            health_cmd: Some("true".into()),
            health_interval: Some(1_000_000_000),
            ..Default::default()
        };
        let hc = f.config().unwrap().unwrap();
        assert_eq!(hc["Test"], json!(["CMD-SHELL", "true"]));
        assert_eq!(hc["Interval"], json!(1_000_000_000i64));
        let none = HealthFlags {
            no_healthcheck: true,
            ..Default::default()
        };
        assert_eq!(none.config().unwrap().unwrap()["Test"], json!(["NONE"]));
        let both = HealthFlags {
            no_healthcheck: true,
            health_retries: Some(2),
            ..Default::default()
        };
        assert!(both.config().is_err());
        assert!(HealthFlags::default().config().unwrap().is_none());
    }
}
