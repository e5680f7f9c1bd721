//! `GET /containers/json` filters as dockerd 20.10 applies them (`daemon/list.go`): the
//! values of one key are alternatives, except `label`, whose values must all hold; different
//! keys must all hold.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::model::ContainerRecord;

/// The filter keys dockerd accepts on `GET /containers/json`.
const ACCEPTED: &[&str] = &[
    "ancestor",
    "before",
    "expose",
    "exited",
    "health",
    "id",
    "isolation",
    "is-task",
    "label",
    "label!",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
];

/// Docker's container state names (`container.IsValidStateString`).
const STATES: &[&str] = &[
    "paused",
    "restarting",
    "running",
    "removing",
    "dead",
    "created",
    "exited",
];

/// Docker's health state names (`container.IsValidHealthString`).
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// `docker ps --filter` and `-n`, parsed and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilters {
    /// Raw values by key.
    fields: BTreeMap<String, Vec<String>>,
    /// Exit codes of `exited=`.
    exited: Vec<i32>,
    /// `publish=` ports, normalised to `port/proto`.
    publish: BTreeSet<String>,
    /// `expose=` ports, normalised to `port/proto`.
    expose: BTreeSet<String>,
    /// `is-task=`.
    is_task: Option<bool>,
    /// Only the newest N.
    pub limit: Option<usize>,
}

fn bad(msg: String) -> EngineError {
    EngineError::InvalidParameter(msg)
}

/// Docker's filter JSON: `{"key":["v"]}` or the older `{"key":{"v":true}}`, with keys from
/// `accepted` only.
pub fn parse_fields(json: &str, accepted: &[&str]) -> Result<BTreeMap<String, Vec<String>>> {
    let v: Value = serde_json::from_str(json).map_err(|e| bad(format!("invalid filter: {e}")))?;
    let Some(map) = v.as_object() else {
        return Err(bad("invalid filter: not an object".into()));
    };
    let mut out = BTreeMap::new();
    for (k, vals) in map {
        let vals: Vec<String> = match vals {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Value::Object(o) => o.keys().cloned().collect(),
            _ => Vec::new(),
        };
        if !accepted.contains(&k.as_str()) {
            return Err(bad(format!("invalid filter '{k}'")));
        }
        out.insert(k.clone(), vals);
    }
    Ok(out)
}

/// `80`, `80/udp` or `8000-8010/tcp` to the set of `port/proto` keys (docker's `portOp`).
fn parse_ports(key: &str, value: &str, into: &mut BTreeSet<String>) -> Result<()> {
    if value.contains(':') {
        return Err(bad(format!(
            "filter for '{key}' should not contain ':': {value}"
        )));
    }
    let (port, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    let proto = if proto.is_empty() { "tcp" } else { proto };
    let lookup_err = || bad(format!("error while looking up for {key} {value}"));
    let (start, end) = match port.split_once('-') {
        Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
        None => (port.parse::<u16>(), port.parse::<u16>()),
    };
    let (start, end) = (
        start.map_err(|_| lookup_err())?,
        end.map_err(|_| lookup_err())?,
    );
    if end < start {
        return Err(lookup_err());
    }
    for p in start..=end {
        into.insert(format!("{p}/{proto}"));
    }
    Ok(())
}

impl ListFilters {
    /// Builds filters from docker's `filters` JSON and `limit`, rejecting what dockerd
    /// rejects with its wording.
    pub fn parse(filters: Option<&str>, limit: Option<i64>) -> Result<ListFilters> {
        let mut f = ListFilters {
            limit: limit.filter(|n| *n > 0).map(|n| n as usize),
            ..Default::default()
        };
        let Some(json) = filters.filter(|s| !s.is_empty()) else {
            return Ok(f);
        };
        f.fields = parse_fields(json, ACCEPTED)?;
        let mut exited = Vec::new();
        for v in f.values("exited") {
            let code = v
                .parse::<i32>()
                .map_err(|_| bad(format!("invalid filter 'exited={v}'")))?;
            exited.push(code);
        }
        f.exited = exited;
        if let Some(s) = f
            .values("status")
            .iter()
            .find(|s| !STATES.contains(&s.as_str()))
        {
            return Err(bad(format!("invalid filter 'status={s}'")));
        }
        if let Some(h) = f
            .values("health")
            .iter()
            .find(|h| !HEALTH.contains(&h.as_str()))
        {
            return Err(bad(format!("Unrecognised filter value for health: {h}")));
        }
        let task = f.values("is-task");
        if !task.is_empty() {
            f.is_task = match task {
                [t] if t == "true" => Some(true),
                [t] if t == "false" => Some(false),
                _ => return Err(bad(format!("invalid filter 'is-task={}'", task.join(",")))),
            };
        }
        let (mut publish, mut expose) = (BTreeSet::new(), BTreeSet::new());
        for v in f.values("publish") {
            parse_ports("publish", v, &mut publish)?;
        }
        for v in f.values("expose") {
            parse_ports("expose", v, &mut expose)?;
        }
        (f.publish, f.expose) = (publish, expose);
        Ok(f)
    }

    /// The values given for `key` (empty if none).
    pub fn values(&self, key: &str) -> &[String] {
        self.fields.get(key).map_or(&[], Vec::as_slice)
    }

    /// Whether stopped containers are looked at whatever `all` says (a status filter or a
    /// limit, as in docker).
    pub fn implies_all(&self) -> bool {
        !self.values("status").is_empty() || self.limit.is_some()
    }

    /// Whether the record and its `ps` row pass every filter but `ancestor`, `before` and
    /// `since` (which need the image store and the list order: the engine applies those).
    pub fn matches(&self, r: &ContainerRecord, mounts: &[Value], settings: &Value) -> bool {
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            let vals = self.values(key);
            vals.is_empty() || vals.iter().any(|v| pred(v))
        };
        any("status", &|s| s == r.state.status)
            && any("name", &|n| {
                r.short_name().contains(n.trim_start_matches('/'))
            })
            && any("id", &|i| r.id.starts_with(i))
            && self.labels_match(r)
            && self.exit_matches(r)
            && any("health", &|h| h == crate::model::filter_status(r))
            && any("isolation", &|i| i == "default" || i.is_empty())
            && self.is_task != Some(true)
            && any("volume", &|v| volume_matches(mounts, v))
            && any("network", &|n| network_matches(settings, n))
            && ports_match(&self.publish, r.host_config.net.port_bindings.keys())
            && ports_match(&self.expose, r.config.net.exposed_ports.keys())
    }

    /// Every `label` value must hold (`MatchKVList`): `key` present, `key=value` equal; no
    /// `label!` value may hold (`--filter label!=key[=value]` excludes those containers).
    fn labels_match(&self, r: &ContainerRecord) -> bool {
        let holds = |l: &String| match l.split_once('=') {
            Some((k, v)) => r.config.labels.get(k).is_some_and(|x| x == v),
            None => r.config.labels.contains_key(l),
        };
        self.values("label").iter().all(holds) && !self.values("label!").iter().any(holds)
    }

    /// `exited=N` matches containers that ran and stopped with code N.
    fn exit_matches(&self, r: &ContainerRecord) -> bool {
        self.exited.is_empty()
            || (!r.state.running
                && r.state.started_at != crate::time::ZERO_TIME
                && !r.state.started_at.is_empty()
                && self.exited.contains(&r.state.exit_code))
    }
}

/// A mount named (volume name, or bind source) or mounted at `v`.
fn volume_matches(mounts: &[Value], v: &str) -> bool {
    mounts.iter().any(|m| {
        let name = m["Name"].as_str().filter(|n| !n.is_empty());
        let key = name.or_else(|| m["Source"].as_str()).unwrap_or_default();
        key == v || m["Destination"].as_str() == Some(v)
    })
}

/// Attached to the network named `n`, or whose id starts with `n`.
fn network_matches(settings: &Value, n: &str) -> bool {
    let Some(nets) = settings["Networks"].as_object() else {
        return false;
    };
    nets.contains_key(n)
        || nets.values().any(|e| {
            e["NetworkID"]
                .as_str()
                .is_some_and(|id| !id.is_empty() && id.starts_with(n))
        })
}

/// No filter, or one of the container's ports (`80/tcp` keys) is in it.
fn ports_match<'a>(filter: &BTreeSet<String>, mut ports: impl Iterator<Item = &'a String>) -> bool {
    filter.is_empty()
        || ports.any(|p| {
            let key = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            };
            filter.contains(&key)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_docker_rejects() {
        let e = |s: &str| ListFilters::parse(Some(s), None).unwrap_err().to_string();
        assert!(e(r#"{"bogus":["x"]}"#).contains("invalid filter 'bogus'"));
        assert!(e(r#"{"status":["sleeping"]}"#).contains("invalid filter 'status=sleeping'"));
        assert!(e(r#"{"exited":["x"]}"#).contains("invalid filter 'exited=x'"));
        assert!(e(r#"{"health":["ok"]}"#).contains("Unrecognised filter value for health: ok"));
        assert!(e(r#"{"is-task":["maybe"]}"#).contains("invalid filter 'is-task=maybe'"));
        assert!(e(r#"{"publish":["1:2"]}"#).contains("should not contain ':'"));
        let f = ListFilters::parse(Some(r#"{"publish":["80-81/udp"]}"#), None).unwrap();
        assert_eq!(f.publish.iter().collect::<Vec<_>>(), ["80/udp", "81/udp"]);
    }

    #[test]
    fn labels_are_anded() {
        let mut r = ContainerRecord {
            id: "abc".into(),
            created: crate::time::ZERO_TIME.into(),
            path: "sh".into(),
            args: vec![],
            state: crate::model::ContainerState::default(),
            image: "sha256:00".into(),
            name: "/x".into(),
            restart_count: 0,
            driver: "overlay".into(),
            platform: "linux".into(),
            config: crate::model::ContainerConfig::default(),
            host_config: crate::model::HostConfig::default(),
            manually_stopped: false,
        };
        r.config.labels.insert("p".into(), "1".into());
        r.config.labels.insert("s".into(), "web".into());
        let f = |s: &str| ListFilters::parse(Some(s), None).unwrap();
        let none = Value::Null;
        assert!(f(r#"{"label":["p=1","s=web"]}"#).matches(&r, &[], &none));
        assert!(!f(r#"{"label":["p=1","s=db"]}"#).matches(&r, &[], &none));
        assert!(f(r#"{"label":["p","s"]}"#).matches(&r, &[], &none));
        assert!(!f(r#"{"label":["p=1","q"]}"#).matches(&r, &[], &none));
        assert!(!f(r#"{"label!":["p"]}"#).matches(&r, &[], &none));
        assert!(!f(r#"{"label!":["s=web"]}"#).matches(&r, &[], &none));
        assert!(f(r#"{"label!":["s=db","q"]}"#).matches(&r, &[], &none));
    }
}
