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

/// Stream `engine.save_images(names)` as the response (names checked first, so a missing
/// image is a 404 and not a truncated archive).
pub async fn save_names(engine: AppState, names: Vec<String>) -> ApiResult<Response> {
    let e = engine.clone();
    let checked = names.clone();
    blocking(move || e.check_images(&checked)).await?;
    let (mut w, body) = BodyWriter::new();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.save_images(&names, &mut w) {
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
/// JSON message stream (`{"stream":"Loaded image: NAME\n"}` per image).
pub async fn load(
    State(engine): State<AppState>,
    Extension(limits): Extension<Limits>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    limits.check_length(&headers)?;
    let reader = BodyReader::new(body, limits.upload);
    let over = reader.over_limit();
    let lines = blocking(move || engine.load_images(reader))
        .await
        .map_err(|e| limits.or_upload_error(&over, e))?;
    let mut out = String::new();
    for l in lines {
        out.push_str(&serde_json::json!({ "stream": format!("{l}\n") }).to_string());
        out.push('\n');
    }
    Ok(([(CONTENT_TYPE, "application/json")], out).into_response())
}

/// `GET /containers/{id}/export`.
pub async fn export(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let e = engine.clone();
    let id = blocking(move || e.export_target(&id)).await?;
    let (mut w, body) = BodyWriter::new();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = engine.export_container(&id, &mut w) {
            tracing::warn!("export failed mid-stream: {e}");
            w.fail(e);
        }
    });
    Ok(tar_response(body))
}
