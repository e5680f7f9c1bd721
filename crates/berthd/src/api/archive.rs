//! `/containers/{id}/archive` (`docker cp`): `HEAD` stats a path (the
//! `X-Docker-Container-Path-Stat` header), `GET` streams it as a tar, `PUT` extracts a tar
//! into a directory.

use std::io::{Read, Write};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_engine::archive::UnpackOptions;
use futures_util::StreamExt;

use super::{blocking, flag, ApiError, ApiResult, AppState, Query};

const STAT_HEADER: &str = "x-docker-container-path-stat";

fn path_param(q: &Query) -> ApiResult<String> {
    q.get("path")
        .filter(|p| !p.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("path is required"))
}

fn stat_header(value: String) -> ApiResult<(HeaderName, HeaderValue)> {
    let v = HeaderValue::from_str(&value).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((HeaderName::from_static(STAT_HEADER), v))
}

/// `HEAD /containers/{id}/archive?path=`.
pub async fn head(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let path = path_param(&q)?;
    let st = blocking(move || engine.archive_stat(&id, &path)).await?;
    Ok(([stat_header(st.header_value())?], StatusCode::OK).into_response())
}

/// The async side of a tar being written on a blocking thread.
struct ChannelWriter(tokio::sync::mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /containers/{id}/archive?path=`: the stat header, then the tar stream.
pub async fn get(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let path = path_param(&q)?;
    let st = {
        let (engine, id, path) = (engine.clone(), id.clone(), path.clone());
        blocking(move || engine.archive_stat(&id, &path)).await?
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(tx));
        let r = engine.archive_get(&id, &path, &mut w).and_then(|()| {
            w.flush()
                .map_err(|e| berth_engine::EngineError::Internal(e.to_string()))
        });
        if let Err(e) = r {
            // The status is sent: a truncated tar is how the client learns of it.
            tracing::warn!("archive of {path} in {id}: {e}");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
    });
    Ok((
        [
            stat_header(st.header_value())?,
            (CONTENT_TYPE, HeaderValue::from_static("application/x-tar")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The request body as a blocking reader (the tar streams, it is not held in memory).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: extracts the body
/// (a tar) into the directory `path`. Without `copyUIDGID` the files belong to root.
pub async fn put(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    body: Body,
) -> ApiResult<StatusCode> {
    let path = path_param(&q)?;
    let opts = UnpackOptions {
        no_overwrite_dir_non_dir: flag(&q, "noOverwriteDirNonDir"),
        chown: if flag(&q, "copyUIDGID") {
            None
        } else {
            Some((0, 0))
        },
    };
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let item = chunk.map_err(std::io::Error::other);
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    let mut reader = ChannelReader {
        rx,
        cur: Bytes::new(),
    };
    blocking(move || {
        let r = engine.archive_put(&id, &path, opts, &mut reader);
        // Drain what the client still sends, so it sees our answer rather than a reset.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        r
    })
    .await?;
    Ok(StatusCode::OK)
}
