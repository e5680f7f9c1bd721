//! `GET /events?since=&until=`: docker's event stream, one JSON object per line.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{blocking, ApiError, ApiResult, AppState, Query};

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
    if q.get("filters").is_some_and(|f| !f.is_empty() && f != "{}") {
        return Err(ApiError::bad_request("event filters are not supported yet"));
    }
    let (since, until) = (unix(&q, "since")?, unix(&q, "until")?);
    let stream = blocking(move || Ok(engine.events(since, until))).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let closed = tx.clone();
    let stream = stream.cancel_when(move || closed.is_closed());
    tokio::task::spawn_blocking(move || {
        for e in stream {
            let line = serde_json::to_string(&e).unwrap_or_default() + "\n";
            if tx.blocking_send(Bytes::from(line)).is_err() {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}
