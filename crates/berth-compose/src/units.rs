//! Go durations (`1m30s`) and byte sizes (`512m`) as compose files write them.

use serde_json::Value;

/// A Go duration (`1h2m3s`, `500ms`, `10s`, a bare number is seconds) in nanoseconds.
pub fn duration_ns(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {s:?}");
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Ok(total as i64)
}

/// A byte size: a number, or `<n>[b|k|m|g][b]` (binary units, as docker's `units`).
pub fn bytes(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("invalid size {n}")),
        Value::String(s) => {
            let t = s.trim().to_ascii_lowercase();
            let t = t.strip_suffix('b').filter(|x| !x.is_empty()).unwrap_or(&t);
            let (num, mult) = match t.chars().last() {
                Some('k') => (&t[..t.len() - 1], 1i64 << 10),
                Some('m') => (&t[..t.len() - 1], 1 << 20),
                Some('g') => (&t[..t.len() - 1], 1 << 30),
                _ => (t, 1),
            };
            let n: f64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
            Ok((n * mult as f64) as i64)
        }
        other => Err(format!("invalid size {other}")),
    }
}

/// CPUs (`0.5`, `"1.5"`) in nano CPUs.
pub fn nano_cpus(v: &Value) -> Result<i64, String> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    f.map(|f| (f * 1e9) as i64)
        .ok_or_else(|| format!("invalid cpus {v}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn units() {
        assert_eq!(duration_ns("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration_ns("500ms").unwrap(), 500_000_000);
        assert_eq!(duration_ns("10").unwrap(), 10_000_000_000);
        assert!(duration_ns("10x").is_err());
        assert!(duration_ns("").is_err());
        assert_eq!(bytes(&json!("512m")).unwrap(), 512 << 20);
        assert_eq!(bytes(&json!("1gb")).unwrap(), 1 << 30);
        assert_eq!(bytes(&json!(1024)).unwrap(), 1024);
        assert!(bytes(&json!("lots")).is_err());
        assert_eq!(nano_cpus(&json!("0.5")).unwrap(), 500_000_000);
    }
}
