//! Docker's event stream (`GET /events`, `docker events`): what happened to containers and
//! images, kept in a bounded in-memory history and pushed to live subscribers.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

mod filter;

pub use filter::EventFilter;
use std::sync::Mutex;

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

/// How many live events a slow subscriber may fall behind before it misses some (docker's
/// publisher drops events for a subscriber whose buffer of 1024 is full, too).
const LIVE_BUFFER: usize = 1024;

/// History and the live feed. The feed is a broadcast channel so that a subscriber is an
/// awaitable receiver (no thread parked per `GET /events`) and a client that stops reading
/// costs a bounded ring, not an ever-growing queue.
pub(crate) struct EventBus {
    history: VecDeque<Event>,
    live: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> EventBus {
        EventBus {
            history: VecDeque::new(),
            live: broadcast::channel(LIVE_BUFFER).0,
        }
    }
}

/// A subscription: past events from `since`, then live ones until `until` (if given).
pub struct EventStream {
    backlog: VecDeque<Event>,
    rx: broadcast::Receiver<Event>,
    until: Option<i64>,
    filter: EventFilter,
}

impl EventStream {
    /// The next event; `None` once `until` has passed or the engine is gone. Waits without
    /// holding a thread.
    pub async fn next(&mut self) -> Option<Event> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        loop {
            let got = match self.until {
                None => self.rx.recv().await,
                Some(u) => {
                    let end = UNIX_EPOCH + Duration::from_secs(u64::try_from(u).unwrap_or(0));
                    let left = end.duration_since(SystemTime::now()).ok()?;
                    tokio::time::timeout(left, self.rx.recv()).await.ok()?
                }
            };
            match got {
                Ok(e) if self.until.is_some_and(|u| e.time >= u) => return None,
                Ok(e) if self.filter.includes(&e) => return Some(e),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("events subscriber fell behind: {n} events dropped");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// The events service: history and live feed, behind its own lock.
#[derive(Default)]
pub struct Events {
    bus: Mutex<EventBus>,
}

impl Events {
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
        let mut bus = self.bus.lock().unwrap_or_else(|p| p.into_inner());
        if bus.history.len() == HISTORY {
            bus.history.pop_front();
        }
        bus.history.push_back(e.clone());
        // No subscriber is not an error.
        let _ = bus.live.send(e);
    }

    /// `GET /events`: past events at or after `since` (none if not given), then live ones,
    /// those `filter` lets through; ends at `until` if given.
    pub fn subscribe(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        filter: EventFilter,
    ) -> EventStream {
        // Subscribed under the lock that `emit` takes: no event falls between backlog and feed.
        let bus = self.bus.lock().unwrap_or_else(|p| p.into_inner());
        let rx = bus.live.subscribe();
        let backlog = match since {
            Some(s) => bus
                .history
                .iter()
                .filter(|e| e.time >= s && until.is_none_or(|u| e.time < u))
                .filter(|e| filter.includes(e))
                .cloned()
                .collect(),
            None => VecDeque::new(),
        };
        EventStream {
            backlog,
            rx,
            until,
            filter,
        }
    }
}
