//! Time stamps as docker shows them: RFC 3339 strings in records, unix seconds in lists, and
//! "Up 3 seconds" style human durations in `ps`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Go's zero time, which docker prints for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Now, RFC 3339 with nanoseconds, UTC.
pub fn now_rfc3339() -> String {
    berth_image::config::now_rfc3339()
}

/// Now as unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to unix seconds; `None` if malformed.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Docker's `units.HumanDuration`: "Less than a second", "5 seconds", "About a minute", …
pub fn human_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    let (mins, hours) = (secs / 60, secs / 3600);
    if secs < 1 {
        "Less than a second".into()
    } else if secs < 60 {
        plural(secs, "second")
    } else if mins == 1 {
        "About a minute".into()
    } else if mins < 60 {
        plural(mins, "minute")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        plural(hours, "hour")
    } else if hours < 24 * 14 {
        plural(hours / 24, "day")
    } else if hours < 24 * 90 {
        plural(hours / 24 / 7, "week")
    } else if hours < 24 * 365 * 2 {
        plural(hours / 24 / 30, "month")
    } else {
        plural(hours / 24 / 365, "year")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-01-01T00:00:00.123456789Z"),
            Some(1_704_067_200)
        );
        assert_eq!(
            parse_rfc3339("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200)
        );
        let now = now_unix();
        assert!((parse_rfc3339(&now_rfc3339()).unwrap_or(0) - now).abs() <= 1);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn human() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }
}
