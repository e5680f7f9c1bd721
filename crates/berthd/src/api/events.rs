//! `GET /events?since=&until=&filters=`: docker's event stream, one JSON object per line.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use berth_engine::EventFilter;

use super::{streams, ApiError, ApiResult, AppState, Query};

fn unix(q: &Query, k: &str) -> ApiResult<Option<i64>> {
    match q.get(k).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .split('.')
            .next()
            .and_then(|s| s.parse::<i64>().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("invalid value for {k}: {v}"))),
    }
}

/// The events handler.
pub async fn events(State(engine): State<AppState>, q: Query) -> ApiResult<Response> {
    let filter = EventFilter::parse(q.get("filters").map(String::as_str))?;
    let (since, until) = (unix(&q, "since")?, unix(&q, "until")?);
    let stream =
        streams::setup(move || Ok(engine.events().subscribe(since, until, filter))).await?;
    // Each line is produced when the client's connection asks for more: an idle subscriber is
    // an awaiting future, not a thread, and a client that goes away drops it.
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        let e = stream.next().await?;
        let line = serde_json::to_string(&e).unwrap_or_default() + "\n";
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(line)), stream))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}
