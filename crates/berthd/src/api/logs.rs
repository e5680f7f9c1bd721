//! `GET /containers/{id}/logs`: docker's multiplexed stream (8-byte frame headers: stream
//! type, 3 zero bytes, big-endian length) for non-tty containers, raw bytes for tty ones.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_engine::{LogOptions, LogStream};

use super::{blocking, flag, ApiError, ApiResult, AppState, Query};

/// Prefixes `data` with docker's multiplexing header for `stream`.
pub fn frame(stream: LogStream, data: &[u8]) -> Vec<u8> {
    let kind = match stream {
        LogStream::Stdout => 1u8,
        LogStream::Stderr => 2u8,
    };
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The logs handler.
pub async fn logs(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("") | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid tail value: {n}")))?,
        ),
    };
    let time = |k: &str| -> ApiResult<Option<i64>> {
        match q.get(k).map(String::as_str) {
            None | Some("") | Some("0") => Ok(None),
            Some(v) => v
                .split('.')
                .next()
                .and_then(|s| s.parse::<i64>().ok())
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("invalid value for {k}: {v}"))),
        }
    };
    let timestamps = flag(&q, "timestamps");
    let opts = LogOptions {
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        follow: flag(&q, "follow"),
        tail,
        since: time("since")?,
        until: time("until")?,
    };
    let eng = engine.clone();
    let key = id.clone();
    let (reader, tty) = blocking(move || {
        let r = eng.logs(&key, opts)?;
        let tty = eng.inspect(&key)?.record.config.tty;
        Ok((r, tty))
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let closed = tx.clone();
    let reader = reader.cancel_when(move || closed.is_closed());
    tokio::task::spawn_blocking(move || {
        for entry in reader {
            let data = if timestamps {
                let mut d = format!("{} ", entry.time).into_bytes();
                d.extend_from_slice(&entry.data);
                d
            } else {
                entry.data
            };
            let chunk = if tty {
                data
            } else {
                frame(entry.stream, &data)
            };
            if tx.blocking_send(Bytes::from(chunk)).is_err() {
                return; // the client went away
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok((
        [(axum::http::header::CONTENT_TYPE, ctype)],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(
            frame(LogStream::Stdout, b"hi\n"),
            b"\x01\0\0\0\0\0\0\x03hi\n"
        );
        assert_eq!(frame(LogStream::Stderr, b""), b"\x02\0\0\0\0\0\0\0");
    }
}
