//! Progress of a pull or push, as events shaped after docker's JSON progress messages
//! (`{"status":..,"id":..,"progressDetail":{..}}`), so the daemon forwards them as they are
//! and the CLI can draw docker's per-layer lines.

use std::time::{Duration, Instant};

/// One progress message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// docker's status text: `Pulling fs layer`, `Downloading`, `Pull complete`, ...
    pub status: String,
    /// Short layer id (12 hex digits) or the tag; `None` for whole-image lines.
    pub id: Option<String>,
    /// Bytes done and total, for `Downloading`/`Pushing`.
    pub detail: Option<(u64, u64)>,
}

impl Progress {
    /// A whole-image line (`Digest: sha256:…`, `Status: …`).
    pub fn line(status: impl Into<String>) -> Self {
        Progress {
            status: status.into(),
            id: None,
            detail: None,
        }
    }

    /// A line about one layer or tag.
    pub fn item(id: impl Into<String>, status: impl Into<String>) -> Self {
        Progress {
            status: status.into(),
            id: Some(id.into()),
            detail: None,
        }
    }

    /// A byte-count update for one layer.
    pub fn bytes(id: impl Into<String>, status: &str, current: u64, total: u64) -> Self {
        Progress {
            status: status.into(),
            id: Some(id.into()),
            detail: Some((current, total)),
        }
    }
}

/// Where progress goes; called from several download threads at once.
pub type Sink<'a> = &'a (dyn Fn(Progress) + Sync);

/// The short id docker shows for a layer: the first 12 hex digits of its digest.
pub fn short_id(digest: &berth_image::Digest) -> String {
    digest.hex().chars().take(12).collect()
}

/// Rate-limits byte-count updates to one every 100 ms per layer (plus the last one).
#[derive(Debug)]
pub(crate) struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    pub(crate) fn new() -> Self {
        Throttle { last: None }
    }

    /// Whether an update for `current` of `total` should be sent now.
    pub(crate) fn due(&mut self, current: u64, total: u64) -> bool {
        let now = Instant::now();
        let due = current >= total
            || self
                .last
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        if due {
            self.last = Some(now);
        }
        due
    }
}
