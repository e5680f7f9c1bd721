//! `/images/...`: list, import (`create?fromSrc=-`), remove.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use berth_engine::ImageDeleteItem;
use futures_util::StreamExt;
use serde_json::json;

use super::{blocking, flag, ApiError, ApiResult, AppState, Query};

/// `GET /images/json`.
pub async fn list(State(engine): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(blocking(move || Ok(engine.images())).await?))
}

/// `POST /images/create?fromSrc=-&repo=&tag=`: import the request body as a rootfs tarball.
/// Pulls (`fromImage=`) need the registry client, which is not there yet.
pub async fn create(
    State(engine): State<AppState>,
    q: Query,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    if q.contains_key("fromImage") {
        return Err(ApiError::internal(
            "pulling images is not supported yet: import a rootfs with `berth import`",
        ));
    }
    match q.get("fromSrc").map(String::as_str) {
        Some("-") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
            "importing from {other:?} is not supported: send the tarball as the body (fromSrc=-)"
        )))
        }
        None => return Err(ApiError::bad_request("fromSrc or fromImage is required")),
    }
    let repo_tag = match (q.get("repo").filter(|r| !r.is_empty()), q.get("tag")) {
        (Some(r), Some(t)) if !t.is_empty() => Some(format!("{r}:{t}")),
        (Some(r), _) => Some(r.clone()),
        (None, _) => None,
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
    let reader = ChannelReader {
        rx,
        cur: Bytes::new(),
    };
    let id = blocking(move || engine.import_image(reader, repo_tag.as_deref())).await?;
    Ok(Json(json!({"status": id})))
}

/// The request body as a blocking reader, so a large tarball streams into the store instead of
/// being held in memory.
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

/// `DELETE /images/{name}?force=`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<impl IntoResponse> {
    let force = flag(&q, "force");
    let items = blocking(move || engine.remove_image(&name, force)).await?;
    let v: Vec<serde_json::Value> = items
        .into_iter()
        .map(|i| match i {
            ImageDeleteItem::Untagged(t) => json!({"Untagged": t}),
            ImageDeleteItem::Deleted(d) => json!({"Deleted": d}),
        })
        .collect();
    Ok(Json(v))
}
