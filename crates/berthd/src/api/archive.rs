//! `/containers/{id}/archive` (`docker cp`): `HEAD` stats a path (the
//! `X-Docker-Container-Path-Stat` header), `GET` streams it as a tar, `PUT` extracts a tar
//! into a directory.

use std::io::Write;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use berth_engine::archive::UnpackOptions;

use super::body_io::{BodyReader, BodyWriter};
use super::{blocking, flag, ApiError, ApiResult, AppState, Limits, Query};

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
    let st = blocking(move || engine.containers().archive_stat(&id, &path)).await?;
    Ok(([stat_header(st.header_value())?], StatusCode::OK).into_response())
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
        blocking(move || engine.containers().archive_stat(&id, &path)).await?
    };
    let (mut w, body) = BodyWriter::new();
    tokio::task::spawn_blocking(move || {
        let r = engine
            .containers()
            .archive_get(&id, &path, &mut w)
            .and_then(|()| {
                w.flush()
                    .map_err(|e| berth_engine::EngineError::Internal(e.to_string()))
            });
        if let Err(e) = r {
            // The status is sent: the body is aborted (no final chunk), so the client sees a
            // broken transfer and fails, rather than a well-formed but truncated tar.
            tracing::warn!("archive of {path} in {id} failed mid-stream: {e}");
            w.fail(e);
        }
    });
    Ok((
        [
            stat_header(st.header_value())?,
            (CONTENT_TYPE, HeaderValue::from_static("application/x-tar")),
        ],
        body,
    )
        .into_response())
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: extracts the body
/// (a tar) into the directory `path`. Without `copyUIDGID` the files belong to root.
pub async fn put(
    State(engine): State<AppState>,
    Extension(limits): Extension<Limits>,
    headers: HeaderMap,
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
    limits.check_length(&headers)?;
    let mut reader = BodyReader::new(body, limits.upload);
    let over = reader.over_limit();
    blocking(move || {
        let r = engine
            .containers()
            .archive_put(&id, &path, opts, &mut reader);
        // Drain what the client still sends (up to the cap), so it sees our answer rather
        // than a reset.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        r
    })
    .await
    .map_err(|e| limits.or_upload_error(&over, e))?;
    Ok(StatusCode::OK)
}
