//! Docker's image filters (`images --filter`, `image prune --filter`): `dangling`,
//! `reference`, `label`, `before`, `since`, `until`.

use std::collections::BTreeMap;

use berth_image::store::ImageInfo;

use crate::error::{EngineError, Result};
use crate::time::{now_unix, parse_rfc3339};

/// Parsed `filters` JSON for images.
#[derive(Debug, Clone, Default)]
pub struct ImageFilters {
    /// `dangling=true|false`.
    pub dangling: Option<bool>,
    /// `reference=PATTERN` (any may match).
    pub reference: Vec<String>,
    /// `label=KEY`, `label=KEY=VALUE` (all must match); `label!=…` (none may match).
    pub label: Vec<String>,
    /// `label!=…`.
    pub label_not: Vec<String>,
    /// `before=IMAGE`: created before that image.
    pub before: Option<String>,
    /// `since=IMAGE`: created after that image.
    pub since: Option<String>,
    /// `until=TIME`: created before this unix time.
    pub until: Option<i64>,
}

fn bad(m: String) -> EngineError {
    EngineError::InvalidParameter(m)
}

/// A docker time value: unix seconds (with optional fraction), RFC 3339, or a duration
/// (`10m`, `24h`, `1h30m`) before now.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        return Some(f as i64);
    }
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    let mut total = 0f64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
    }
    num.is_empty().then(|| now_unix() - total as i64)
}

impl ImageFilters {
    /// From docker's `filters` JSON (`{"dangling":["true"]}` or `{"dangling":{"true":true}}`).
    pub fn parse(json: Option<&str>) -> Result<ImageFilters> {
        let mut f = ImageFilters::default();
        let Some(json) = json.filter(|s| !s.is_empty()) else {
            return Ok(f);
        };
        let v: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| bad(format!("invalid filter: {e}")))?;
        for (k, vals) in v {
            let vals: Vec<String> = match vals {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                serde_json::Value::Object(o) => o.keys().cloned().collect(),
                _ => Vec::new(),
            };
            for val in vals {
                match k.as_str() {
                    "dangling" => {
                        f.dangling = Some(match val.to_ascii_lowercase().as_str() {
                            "true" | "1" => true,
                            "false" | "0" => false,
                            _ => return Err(bad(format!("invalid filter 'dangling={val}'"))),
                        })
                    }
                    "reference" => f.reference.push(val),
                    "label" => f.label.push(val),
                    "label!" => f.label_not.push(val),
                    "before" => f.before = Some(val),
                    "since" => f.since = Some(val),
                    "until" => {
                        f.until = Some(
                            parse_time(&val)
                                .ok_or_else(|| bad(format!("invalid filter 'until={val}'")))?,
                        )
                    }
                    other => return Err(bad(format!("invalid filter '{other}'"))),
                }
            }
        }
        Ok(f)
    }

    /// Whether `label` filters are satisfied by `labels`.
    fn labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        let has = |l: &String| match l.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(l),
        };
        self.label.iter().all(has) && !self.label_not.iter().any(has)
    }

    /// Whether one image passes. `created` is unix seconds; `bounds` are the creation times
    /// of the `before`/`since` images.
    pub(crate) fn matches(
        &self,
        info: &ImageInfo,
        created: i64,
        labels: &BTreeMap<String, String>,
        bounds: (Option<i64>, Option<i64>),
    ) -> bool {
        self.dangling.is_none_or(|d| d == info.is_dangling())
            && (self.reference.is_empty()
                || self.reference.iter().any(|r| info.matches_reference(r)))
            && self.labels_match(labels)
            && bounds.0.is_none_or(|b| created < b)
            && bounds.1.is_none_or(|s| created > s)
            && self.until.is_none_or(|u| created < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_both_shapes() {
        let f = ImageFilters::parse(Some(r#"{"dangling":["true"],"label":{"a=b":true}}"#));
        let f = f.unwrap_or_default();
        assert_eq!(f.dangling, Some(true));
        assert_eq!(f.label, vec!["a=b".to_owned()]);
        assert!(ImageFilters::parse(Some(r#"{"bogus":["x"]}"#)).is_err());
        assert!(ImageFilters::parse(Some(r#"{"dangling":["maybe"]}"#)).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        let t = parse_time("1h30m").unwrap_or_default();
        assert!((now_unix() - t - 5400).abs() < 5);
        assert_eq!(parse_time("10x"), None);
    }
}
