//! Archives: `GET /images/get`, `GET /images/{name}/get` (save), `POST /images/load`,
//! `GET /containers/{id}/export`. Tars stream through in both directions.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::api::body_io::{BodyReader, BodyWriter};
use crate::api::{blocking, ApiResult, AppState, Limits};

/// All values of a repeated query parameter (`names=a&names=b`).
pub type PairsQuery = axum::extract::Query<Vec<(String, String)>>;

fn tar_response(body: Body) -> Response {
    ([(CONTENT_TYPE, "application/x-tar")], body).into_response()
}

/// Stream `engine.images().save(names)` as the response (names checked first, so a missing
/// image is a 404 and not a truncated archive).
pub async fn save_names(engine: AppState, names: Vec<String>) -> ApiResult<Response> {
    let e = engine.clone();
    let checked = names.clone();
    blocking(move || e.images().check(&checked)).await?;
    let (mut w, body) = BodyWriter::new();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.images().save(&names, &mut w) {
            tracing::warn!("save failed mid-stream: {e}");
            w.fail(e);
        }
    });
    Ok(tar_response(body))
}

/// `GET /images/get?names=A&names=B`.
pub async fn save(State(engine): State<AppState>, q: PairsQuery) -> ApiResult<Response> {
    let names: Vec<String> =
        q.0.into_iter()
            .filter(|(k, _)| k == "names")
            .map(|(_, v)| v)
            .collect();
    save_names(engine, names).await
}

/// `POST /images/load?quiet=`: a docker-save or OCI archive as the body; answers docker's
/// JSON message stream, chunked, one message a chunk (`{"stream":"Loaded image: NAME\n"}` per
/// image). As dockerd, a bad archive is an error message in that stream (docker-py raises
/// `ImageLoadError` from it), not an HTTP error; only an upload over the size cap is refused
/// with a status.
pub async fn load(
    State(engine): State<AppState>,
    Extension(limits): Extension<Limits>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    limits.check_length(&headers)?;
    let reader = BodyReader::new(body, limits.upload);
    let over = reader.over_limit();
    let messages: Vec<serde_json::Value> =
        match blocking(move || engine.images().load(reader)).await {
            Ok(lines) => lines
                .into_iter()
                .map(|l| serde_json::json!({ "stream": format!("{l}\n") }))
                .collect(),
            Err(_) if over.load(std::sync::atomic::Ordering::SeqCst) => {
                return Err(limits.upload_error())
            }
            Err(e) => vec![serde_json::json!({
                "errorDetail": {"message": e.message},
                "error": e.message,
            })],
        };
    // A stream body: hyper sends it chunked (no Content-Length), as docker-py's JSON stream
    // decoder needs.
    let chunks = messages
        .into_iter()
        .map(|m| Ok::<_, std::convert::Infallible>(format!("{m}\n")));
    Ok((
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response())
}

/// `GET /containers/{id}/export`.
pub async fn export(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let e = engine.clone();
    let id = blocking(move || e.containers().export_target(&id)).await?;
    let (mut w, body) = BodyWriter::new();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.containers().export_container(&id, &mut w) {
            tracing::warn!("export failed mid-stream: {e}");
            w.fail(e);
        }
    });
    Ok(tar_response(body))
}
