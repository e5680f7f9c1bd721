//! `POST /build`: docker's classic builder API. The body is the context tar (plain or
//! compressed) or a bare Dockerfile; the answer is a JSON stream: `{"stream": "Step 1/N : ..."}`,
//! `{"aux": {"ID": ...}}`, `Successfully built/tagged`, or `{"errorDetail": ..., "error": ...}`.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use berth_engine::build::{BuildError, BuildOptions, Context, Event};
use serde_json::json;

use super::body_io::BodyReader;
use super::{ApiError, ApiResult, AppState, Limits};

/// Decodes `%XX` and `+` in a query component.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// All `key=value` pairs of the query, repeated keys kept (`t=a&t=b`).
fn pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn truthy(v: &str) -> bool {
    v == "1" || v.eq_ignore_ascii_case("true")
}

/// A JSON map query value (`buildargs`, `labels`); null values are dropped.
fn json_map(v: &str, what: &str) -> ApiResult<BTreeMap<String, String>> {
    if v.is_empty() {
        return Ok(BTreeMap::new());
    }
    let m: BTreeMap<String, Option<String>> = serde_json::from_str(v)
        .map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))?;
    Ok(m.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

fn options(q: &[(String, String)]) -> ApiResult<(BuildOptions, bool)> {
    let mut o = BuildOptions {
        network: "default".into(),
        ..Default::default()
    };
    let mut quiet = false;
    let mut seen_dockerfile = false;
    for (k, v) in q {
        match k.as_str() {
            "t" if !v.is_empty() => o.tags.push(v.clone()),
            // Given twice (docker-py does for a Dockerfile outside the context): the first, as
            // Go's `FormValue` in dockerd.
            "dockerfile" if !seen_dockerfile => {
                seen_dockerfile = true;
                o.dockerfile = v.clone();
            }
            "buildargs" => o.build_args = json_map(v, "buildargs")?,
            "labels" => o.labels = json_map(v, "labels")?,
            "target" if !v.is_empty() => o.target = Some(v.clone()),
            "nocache" => o.no_cache = truthy(v),
            "pull" => o.pull = truthy(v),
            "q" => quiet = truthy(v),
            "platform" if !v.is_empty() => o.platform = Some(v.clone()),
            // Docker's classic builder: RUN steps on the default network unless told otherwise;
            // the engine resolves `default` and refuses unknown networks.
            "networkmode" => {
                o.network = match v.as_str() {
                    "" | "default" => "default".into(),
                    other => other.to_owned(),
                }
            }
            "remote" if !v.is_empty() => {
                return Err(ApiError::bad_request(
                    "remote build contexts (URLs) are not supported: send the context as the body",
                ))
            }
            _ => {}
        }
    }
    Ok((o, quiet))
}

/// Spools the body to disk as a build context (see [`Context::spool`]): 413 over a cap, 400
/// for a malformed or interrupted stream. The response has not started, so these are real
/// HTTP statuses that every client reports.
async fn spool_context(
    engine: &AppState,
    limits: &Limits,
    headers: &HeaderMap,
    body: Body,
    dockerfile: String,
) -> ApiResult<Context> {
    limits.check_length(headers)?;
    let reader = BodyReader::new(body, limits.upload);
    let over = reader.over_limit();
    let root = engine.builds().build_context_root();
    let caps = limits.context;
    let spooled =
        tokio::task::spawn_blocking(move || Context::spool(reader, &root, &dockerfile, &caps))
            .await
            .map_err(|e| ApiError::internal(format!("build context task failed: {e}")))?;
    spooled.map_err(|e| {
        let err = match e {
            BuildError::TooLarge(m) => ApiError::too_large(m),
            // The spool directory failing (a full disk) is the daemon's trouble.
            e @ BuildError::Io { .. } => ApiError::internal(e.to_string()),
            e => ApiError::bad_request(e.to_string()),
        };
        limits.or_upload_error(&over, err)
    })
}

fn line(v: serde_json::Value) -> Bytes {
    Bytes::from(v.to_string() + "\r\n")
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// The build handler.
pub async fn build(
    State(engine): State<AppState>,
    Extension(limits): Extension<Limits>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let q = pairs(raw.as_deref());
    let (opts, quiet) = options(&q)?;
    let ctx = spool_context(&engine, &limits, &headers, body, opts.dockerfile.clone()).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    tokio::task::spawn_blocking(move || {
        let send = |v: serde_json::Value| {
            let _ = tx.blocking_send(line(v));
        };
        // The context (and its spool directory) goes when this closure ends, however it ends.
        let result = {
            engine.builds().build(&ctx, &opts, &mut |e| {
                if quiet {
                    return;
                }
                match e {
                    Event::Step { n, total, text } => {
                        send(json!({"stream": format!("Step {n}/{total} : {text}\n")}))
                    }
                    Event::UsingCache => send(json!({"stream": " ---> Using cache\n"})),
                    Event::Output(b) => send(json!({"stream": String::from_utf8_lossy(b)})),
                    Event::StepDone { id, elapsed } => send(json!({"stream": format!(
                        " ---> {} {:.3}s\n",
                        short(id),
                        elapsed.as_secs_f64()
                    )})),
                    Event::Warning(w) => send(json!({"stream": w})),
                }
            })
        };
        drop(ctx);
        match result {
            Ok(r) => {
                send(json!({"aux": {"ID": r.id}}));
                if quiet {
                    send(json!({"stream": format!("{}\n", r.id)}));
                    return;
                }
                send(json!({"stream": format!("Successfully built {}\n", short(&r.id))}));
                for t in &opts.tags {
                    let shown = berth_engine::build::familiar_tag(t);
                    send(json!({"stream": format!("Successfully tagged {shown}\n")}));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let code = match &e {
                    BuildError::Step {
                        exit_code: Some(c), ..
                    } => *c,
                    _ => 1,
                };
                send(json!({"errorDetail": {"message": msg, "code": code}, "error": msg}));
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

/// `POST /build/prune`: the build cache emptied; docker's `BuildCachePruneReport`.
pub async fn prune(State(engine): State<AppState>) -> ApiResult<Response> {
    let (keys, freed) = tokio::task::spawn_blocking(move || engine.builds().build_prune())
        .await
        .map_err(|e| ApiError::internal(format!("build prune task failed: {e}")))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(axum::Json(json!({"CachesDeleted": keys, "SpaceReclaimed": freed})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_repeated_tags_and_decodes() {
        let q = pairs(Some(
            "t=a%3A1&t=b&buildargs=%7B%22X%22%3A%22y+z%22%7D&nocache=1&dockerfile=D1&dockerfile=D2",
        ));
        let (o, quiet) = options(&q).unwrap_or_default();
        assert_eq!(o.tags, vec!["a:1", "b"]);
        assert_eq!(o.build_args.get("X").map(String::as_str), Some("y z"));
        assert!(o.no_cache && !quiet);
        assert_eq!(o.dockerfile, "D1");
    }
}
