//! Docker's event stream (`GET /events`, `docker events`): what happened to containers and
//! images, kept in a bounded in-memory history and pushed to live subscribers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::Engine;

/// How many past events `since` can reach back to.
const HISTORY: usize = 1024;

/// One event, in docker's JSON shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// "container" or "image".
    #[serde(rename = "Type")]
    pub kind: String,
    /// create, start, die, kill, stop, destroy, rename, exec_create, exec_start, exec_die,
    /// import, untag, delete.
    #[serde(rename = "Action")]
    pub action: String,
    /// The object and its attributes (name, image, exitCode, signal, …).
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always "local".
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// Docker's `Actor`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Actor {
    /// Container or image id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Details.
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// History and subscribers.
#[derive(Default)]
pub(crate) struct EventBus {
    history: VecDeque<Event>,
    subscribers: Vec<mpsc::Sender<Event>>,
}

/// A subscription: past events from `since`, then live ones until `until` (if given).
pub struct EventStream {
    backlog: VecDeque<Event>,
    rx: mpsc::Receiver<Event>,
    until: Option<i64>,
    cancelled: Option<Box<dyn Fn() -> bool + Send>>,
}

impl EventStream {
    /// Ends the stream when `cancelled` says so (the client went away).
    pub fn cancel_when(mut self, cancelled: impl Fn() -> bool + Send + 'static) -> EventStream {
        self.cancelled = Some(Box::new(cancelled));
        self
    }
}

impl Iterator for EventStream {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            if self.until.is_some_and(|u| now >= u) {
                return None;
            }
            if self.cancelled.as_ref().is_some_and(|c| c()) {
                return None;
            }
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(e) if self.until.is_some_and(|u| e.time >= u) => return None,
                Ok(e) => return Some(e),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

impl Engine {
    /// Records an event and hands it to every subscriber.
    pub(crate) fn emit(&self, kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let e = Event {
            kind: kind.to_owned(),
            action: action.to_owned(),
            actor: Actor {
                id: id.to_owned(),
                attributes: attrs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
            scope: "local".into(),
            time: d.as_secs() as i64,
            time_nano: d.as_nanos() as i64,
        };
        let mut bus = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if bus.history.len() == HISTORY {
            bus.history.pop_front();
        }
        bus.history.push_back(e.clone());
        bus.subscribers.retain(|s| s.send(e.clone()).is_ok());
    }

    /// Emits a container event with docker's `image` and `name` attributes plus `extra`.
    pub(crate) fn emit_container(&self, id: &str, action: &str, extra: &[(&str, &str)]) {
        let (image, name) = self
            .lock()
            .containers
            .get(id)
            .map(|r| (r.config.image.clone(), r.short_name().to_owned()))
            .unwrap_or_default();
        let mut attrs: Vec<(&str, &str)> = vec![("image", &image), ("name", &name)];
        attrs.extend_from_slice(extra);
        self.emit("container", action, id, &attrs);
    }

    /// `GET /events`: past events at or after `since` (none if not given), then live ones;
    /// ends at `until` if given.
    pub fn events(&self, since: Option<i64>, until: Option<i64>) -> EventStream {
        let (tx, rx) = mpsc::channel();
        let mut bus = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let backlog = match since {
            Some(s) => bus
                .history
                .iter()
                .filter(|e| e.time >= s && until.is_none_or(|u| e.time < u))
                .cloned()
                .collect(),
            None => VecDeque::new(),
        };
        bus.subscribers.push(tx);
        EventStream {
            backlog,
            rx,
            until,
            cancelled: None,
        }
    }
}
