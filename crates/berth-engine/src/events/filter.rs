//! `GET /events?filters=`: which events a subscriber gets, as dockerd 20.10's
//! `daemon/events/filter.go` decides it. The values of one key are alternatives; different
//! keys must all hold; `label` values must all hold.

use std::collections::BTreeMap;

use berth_image::Reference;

use super::Event;
use crate::error::Result;

/// The keys docker's event filter knows.
const ACCEPTED: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Object kinds swarm and plugins own: Berth emits none of these, so a filter on them lets
/// no event through (as on a docker node without swarm or plugins).
const NEVER: &[&str] = &["config", "node", "plugin", "secret", "service"];

/// A parsed event filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    fields: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    /// Parses docker's `filters` JSON (`{"type":["container"]}` or `{"type":{"container":true}}`).
    pub fn parse(raw: Option<&str>) -> Result<EventFilter> {
        let fields = match raw.filter(|s| !s.is_empty()) {
            Some(json) => crate::list_filters::parse_fields(json, ACCEPTED)?,
            None => BTreeMap::new(),
        };
        Ok(EventFilter { fields })
    }

    fn values(&self, key: &str) -> &[String] {
        self.fields.get(key).map_or(&[], Vec::as_slice)
    }

    /// No value for `key`, or one equal to `source`.
    fn exact(&self, key: &str, source: &str) -> bool {
        let v = self.values(key);
        v.is_empty() || v.iter().any(|x| x == source)
    }

    /// No value for `key`, or one equal to or a prefix of `source` (docker's `FuzzyMatch`).
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        let v = self.values(key);
        v.is_empty() || v.iter().any(|x| source.starts_with(x.as_str()))
    }

    /// The actor's id or `name` attribute matches the `key` filter.
    fn by_name(&self, key: &str, e: &Event) -> bool {
        let name = e.actor.attributes.get("name").map_or("", String::as_str);
        self.fuzzy(key, &e.actor.id) || (!name.is_empty() && self.fuzzy(key, name))
    }

    /// Whether `e` passes.
    pub fn includes(&self, e: &Event) -> bool {
        self.matches_action(e)
            && self.exact("type", &e.kind)
            && self.exact("scope", &e.scope)
            && ["daemon", "container", "volume", "network"]
                .iter()
                .all(|k| self.by_name(k, e))
            && NEVER.iter().all(|k| self.values(k).is_empty())
            && self.matches_image(e)
            && self.matches_labels(e)
    }

    /// `event=`: exact, except that `exec_create`, `exec_start` and `health_status` also
    /// match their `: command` suffixed forms (docker #25798).
    fn matches_action(&self, e: &Event) -> bool {
        let fuzzy = self
            .values("event")
            .iter()
            .any(|v| matches!(v.as_str(), "exec_create" | "exec_start" | "health_status"));
        if fuzzy {
            self.fuzzy("event", &e.action)
        } else {
            self.exact("event", &e.action)
        }
    }

    /// `image=`: the image id or name of an image event, the image of a container event,
    /// each also without its tag.
    fn matches_image(&self, e: &Event) -> bool {
        if self.values("image").is_empty() {
            return true;
        }
        let attr = if e.kind == "image" { "name" } else { "image" };
        let name = e.actor.attributes.get(attr).map_or("", String::as_str);
        [
            e.actor.id.clone(),
            name.to_owned(),
            strip_tag(&e.actor.id),
            strip_tag(name),
        ]
        .iter()
        .any(|s| !s.is_empty() && self.exact("image", s))
    }

    /// Every `label=key` or `label=key=value` holds on the actor's attributes.
    fn matches_labels(&self, e: &Event) -> bool {
        let attrs = &e.actor.attributes;
        self.values("label")
            .iter()
            .all(|l| match l.split_once('=') {
                Some((k, v)) => attrs.get(k).is_some_and(|x| x == v),
                None => attrs.contains_key(l),
            })
    }
}

/// `busybox:latest` → `busybox` (docker's `stripTag`: the familiar name without tag or
/// digest); what does not parse stays as it is.
fn strip_tag(image: &str) -> String {
    let Ok(r) = Reference::parse_normalized_named(image) else {
        return image.to_owned();
    };
    let shown = r.familiar();
    let shown = shown.split('@').next().unwrap_or_default();
    match r.tag() {
        Some(t) => shown
            .strip_suffix(&format!(":{t}"))
            .unwrap_or(shown)
            .to_owned(),
        None => shown.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Actor;

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attrs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
            scope: "local".into(),
            time: 0,
            time_nano: 0,
        }
    }

    #[test]
    fn filters_like_docker() {
        let f = |s: &str| EventFilter::parse(Some(s)).unwrap();
        let start = ev(
            "container",
            "start",
            "abcdef",
            &[("name", "web"), ("image", "busybox:latest"), ("p", "1")],
        );
        assert!(f(r#"{"type":["container"],"event":["start","die"]}"#).includes(&start));
        assert!(!f(r#"{"type":["image"]}"#).includes(&start));
        assert!(f(r#"{"container":["web"]}"#).includes(&start));
        assert!(f(r#"{"container":["abc"]}"#).includes(&start));
        assert!(!f(r#"{"container":["db"]}"#).includes(&start));
        assert!(f(r#"{"image":["busybox"]}"#).includes(&start));
        assert!(f(r#"{"label":["p=1"]}"#).includes(&start));
        assert!(!f(r#"{"label":["p=1","q"]}"#).includes(&start));
        assert!(!f(r#"{"service":["x"]}"#).includes(&start));
        let exec = ev("container", "exec_start: sh -c true", "abcdef", &[]);
        assert!(f(r#"{"event":["exec_start"]}"#).includes(&exec));
        assert!(EventFilter::parse(Some(r#"{"bogus":["x"]}"#)).is_err());
    }
}
