//! Request size limits: JSON routes take small bodies; streaming routes (build context, image
//! load and import, archive PUT) stream to disk under a cap an operator can raise. Axum's own
//! rejections (plain text) are turned into docker's `{"message": ...}` bodies here too.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_engine::build::ContextLimits;

use super::ApiError;

/// The largest body of a JSON route (`/containers/create`, `/exec/{id}/start`, ...).
pub const JSON_BODY: usize = 4 << 20;

/// What a daemon accepts from a request (`--max-upload-size`, `--build-context-max-size`,
/// `--build-context-max-files`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a streamed body as sent (a compressed build context counts compressed).
    pub upload: u64,
    /// The build context once decompressed.
    pub context: ContextLimits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            upload: DEFAULT_UPLOAD,
            context: ContextLimits::default(),
        }
    }
}

/// The default `--max-upload-size`: big enough for large images to load, small enough that one
/// request cannot fill a disk unnoticed.
pub const DEFAULT_UPLOAD: u64 = 64 << 30;

impl ApiError {
    /// A 413 with `message`.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: message.into(),
        }
    }
}

impl Limits {
    pub fn upload_error(&self) -> ApiError {
        ApiError::too_large(format!(
            "the request body is larger than this daemon accepts ({} bytes; raise it with \
             berthd --max-upload-size)",
            self.upload
        ))
    }

    /// A declared length over the upload cap is refused before anything is read.
    pub fn check_length(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(n) if n > self.upload => Err(self.upload_error()),
            _ => Ok(()),
        }
    }

    /// `e` as the answer, unless the body reader failed on the cap: then that is the answer.
    pub fn or_upload_error(&self, over: &AtomicBool, e: ApiError) -> ApiError {
        if over.load(Ordering::SeqCst) {
            self.upload_error()
        } else {
            e
        }
    }
}

/// Axum's extractor rejections are plain text; docker clients show `message` of a JSON body.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_text = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_text {
        return resp;
    }
    let text = match axum::body::to_bytes(resp.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("request body too large: JSON requests are limited to {JSON_BODY} bytes")
    } else if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    ApiError { status, message }.into_response()
}
