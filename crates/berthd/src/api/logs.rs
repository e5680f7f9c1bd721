//! `GET /containers/{id}/logs`: docker's multiplexed stream (8-byte frame headers: stream
//! type, 3 zero bytes, big-endian length) for non-tty containers, raw bytes for tty ones.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use berth_engine::{LogEntry, LogOptions, LogPoll, LogReader, LogStream};

use super::{flag, streams, ApiError, ApiResult, AppState, Query};

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

/// First wait between two looks at a followed log that had nothing new.
const FOLLOW_MIN: Duration = Duration::from_millis(50);
/// Longest wait: an idle follower looks a few times a second, on a timer, not a thread.
const FOLLOW_MAX: Duration = Duration::from_millis(400);
/// Most bytes read in one go before the client gets them.
const CHUNK: usize = 256 << 10;

/// How entries are written out.
#[derive(Clone, Copy)]
struct Format {
    timestamps: bool,
    tty: bool,
}

impl Format {
    fn write(self, entry: LogEntry, out: &mut Vec<u8>) {
        let mut data = entry.data;
        if self.timestamps {
            let mut d = format!("{} ", entry.time).into_bytes();
            d.append(&mut data);
            data = d;
        }
        if self.tty {
            out.append(&mut data);
        } else {
            out.append(&mut frame(entry.stream, &data));
        }
    }
}

/// Reads what the log has now on one of the streams' blocking slots: the bytes, and whether
/// there may be more (`None`: the end).
fn read_some(reader: &mut LogReader, fmt: Format) -> (Vec<u8>, Option<bool>) {
    let mut out = Vec::new();
    while out.len() < CHUNK {
        match reader.poll_entry() {
            LogPoll::Entry(e) => fmt.write(e, &mut out),
            LogPoll::Pending => return (out, Some(false)),
            LogPoll::End => return (out, None),
        }
    }
    (out, Some(true))
}

/// The next bytes for the client, waiting on a timer (backing off while the log is quiet) when
/// a followed log has nothing new; `None` at the end. The state that comes back is `None`
/// once the last bytes are out.
async fn next_chunk(
    mut reader: LogReader,
    mut idle: Duration,
    fmt: Format,
) -> Option<(Bytes, Option<(LogReader, Duration)>)> {
    loop {
        let (r, out, more) = streams::run(move || {
            let (out, more) = read_some(&mut reader, fmt);
            (reader, out, more)
        })
        .await?;
        reader = r;
        match (out.is_empty(), more) {
            (true, None) => return None,
            (false, None) => return Some((Bytes::from(out), None)),
            (false, Some(_)) => return Some((Bytes::from(out), Some((reader, FOLLOW_MIN)))),
            (true, Some(_)) => {
                tokio::time::sleep(idle).await;
                idle = (idle * 2).min(FOLLOW_MAX);
            }
        }
    }
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
    let (reader, tty) = streams::setup(move || {
        let r = eng.containers().logs(&key, opts)?;
        let tty = eng.containers().inspect(&key)?.record.config.tty;
        Ok((r, tty))
    })
    .await?;
    let fmt = Format { timestamps, tty };
    let body = futures_util::stream::unfold(Some((reader, FOLLOW_MIN)), move |state| async move {
        let (reader, idle) = state?;
        let (chunk, next) = next_chunk(reader, idle, fmt).await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), next))
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

/// Writes container `id`'s log (not followed) to `out` in chunks, for attach's `logs=1`.
pub async fn copy_log<W>(
    engine: AppState,
    id: String,
    opts: LogOptions,
    tty: bool,
    out: &mut W,
) -> ApiResult<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let opts = LogOptions {
        follow: false,
        ..opts
    };
    let reader = streams::setup(move || engine.containers().logs(&id, opts)).await?;
    let fmt = Format {
        timestamps: false,
        tty,
    };
    let mut state = Some((reader, FOLLOW_MIN));
    while let Some((reader, idle)) = state {
        let Some((chunk, next)) = next_chunk(reader, idle, fmt).await else {
            break;
        };
        out.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        state = next;
    }
    out.flush()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
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
