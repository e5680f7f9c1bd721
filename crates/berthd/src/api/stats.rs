//! `GET /containers/{id}/stats?stream=&one-shot=` (docker's stats documents, one per second
//! when streaming) and `POST /containers/{id}/update` (live resource changes).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::model::UpdateConfig;
use berth_engine::stats::with_previous;
use serde_json::json;

use super::{blocking, flag, streams, ApiError, ApiResult, AppState, Query};

/// Time between two readings (docker's collector interval).
const INTERVAL: Duration = Duration::from_secs(1);

mod feed {
    //! One sampler per container with stats streams open (like dockerd's stats collector):
    //! a thousand `docker stats` clients on one container cost one cgroup reading a second,
    //! not a thousand.

    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};

    use serde_json::Value;
    use tokio::sync::watch;

    use super::{streams, AppState, INTERVAL};

    /// The latest reading (`None` before the first).
    pub type Feed = watch::Receiver<Option<Arc<Value>>>;
    type Publisher = Arc<watch::Sender<Option<Arc<Value>>>>;

    /// Container id → its sampler's channel. Process-wide: berthd serves one engine.
    static FEEDS: LazyLock<Mutex<HashMap<String, Publisher>>> = LazyLock::new(Mutex::default);

    /// Joins container `id`'s feed, starting its sampler if none runs.
    pub fn subscribe(engine: &AppState, id: &str) -> Feed {
        let mut feeds = FEEDS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = feeds.get(id) {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(None);
        let tx = Arc::new(tx);
        feeds.insert(id.to_owned(), tx.clone());
        tokio::spawn(sample(engine.clone(), id.to_owned(), tx));
        rx
    }

    /// Removes the feed if nobody listens any more (under the lock `subscribe` takes, so no
    /// subscriber joins a sampler that is ending).
    fn retire_if_unused(id: &str, tx: &Publisher, force: bool) -> bool {
        let mut feeds = FEEDS.lock().unwrap_or_else(|p| p.into_inner());
        if force || tx.receiver_count() == 0 {
            feeds.remove(id);
            return true;
        }
        false
    }

    /// Reads the container's counters each interval while someone listens; ends (closing the
    /// streams) when the container is gone.
    async fn sample(engine: AppState, id: String, tx: Publisher) {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; the streams start with their own reading.
        tick.tick().await;
        loop {
            tick.tick().await;
            if retire_if_unused(&id, &tx, false) {
                return;
            }
            let (e, key) = (engine.clone(), id.clone());
            match streams::run(move || e.containers().stats(&key, None)).await {
                Some(Ok(v)) => {
                    tx.send_replace(Some(Arc::new(v)));
                }
                _ => {
                    retire_if_unused(&id, &tx, true);
                    return;
                }
            }
        }
    }
}

/// The stats handler: streaming (the default), a single reading with `precpu_stats` one
/// interval earlier (`stream=false`), or a single immediate reading (`one-shot=true`).
pub async fn stats(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let stream = q.get("stream").is_none_or(|_| flag(&q, "stream"));
    let one_shot = flag(&q, "one-shot");
    // The first reading here, so a missing container is a 404 rather than an empty stream.
    let first = {
        let (engine, id) = (engine.clone(), id.clone());
        streams::setup(move || engine.containers().stats(&id, None)).await?
    };
    if !stream {
        if one_shot {
            return Ok(Json(first).into_response());
        }
        tokio::time::sleep(INTERVAL).await;
        let doc = streams::setup(move || engine.containers().stats(&id, Some(&first))).await?;
        return Ok(Json(doc).into_response());
    }
    let full_id = first["id"].as_str().unwrap_or(&id).to_owned();
    let feed = feed::subscribe(&engine, &full_id);
    // A reading each time the container's feed publishes one; the stream keeps its own
    // previous reading for `precpu_stats`. Idle between readings, it holds no thread.
    let body = futures_util::stream::unfold(
        (Some(first.clone()), first, feed),
        |(pending, prev, mut feed)| async move {
            let doc = match pending {
                Some(doc) => doc,
                None => {
                    feed.changed().await.ok()?;
                    let sample = feed.borrow_and_update().clone()?;
                    with_previous((*sample).clone(), Some(&prev))
                }
            };
            let line = serde_json::to_string(&doc).unwrap_or_default() + "\n";
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(line)),
                (None, doc, feed),
            ))
        },
    );
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `POST /containers/{id}/update`: `{"Warnings": [...]}`.
pub async fn update(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let cfg: UpdateConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let warnings = blocking(move || engine.containers().update(&id, cfg)).await?;
    Ok(Json(json!({ "Warnings": warnings })))
}
