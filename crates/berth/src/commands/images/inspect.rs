//! `image inspect`, `history`, `tag`.

use serde_json::{json, Value};

use super::args::{HistoryArgs, TagArgs};
use super::{enc, fail, short_id};
use crate::client::{Body, Client, ClientError};
use crate::commands::list::render_format;
use crate::table::{ago, ellipsis, human_size};
use crate::Failure;

/// `GET /images/{name}/json`; `None` when there is no such image.
pub fn fetch(c: &Client, name: &str) -> Result<Option<Value>, Failure> {
    match c.json::<Value>("GET", &format!("/images/{}/json", enc(name)), Body::Empty) {
        Ok(v) => Ok(Some(v)),
        Err(ClientError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(fail(e)),
    }
}

/// Print inspect documents as docker does: a JSON array, or a template per document (the
/// exit code: 1 when a document failed to render).
pub fn print_docs(docs: &[Value], format: Option<&str>) -> Result<i32, Failure> {
    match format {
        Some(f) => {
            let t = crate::commands::format::inspect_template(f)?;
            Ok(crate::commands::format::inspect_render(&t, docs, ""))
        }
        None => {
            let s = serde_json::to_string_pretty(&Value::Array(docs.to_vec()))
                .map_err(|e| Failure::daemon(e.to_string()))?;
            println!("{s}");
            Ok(0)
        }
    }
}

/// `berth image inspect [-f F] IMAGE...`: exit 1 if any is missing.
pub fn inspect(c: &Client, format: Option<&str>, names: &[String]) -> Result<i32, Failure> {
    let mut docs = Vec::new();
    let mut code = 0;
    for n in names {
        match fetch(c, n)? {
            Some(v) => docs.push(v),
            None => {
                eprintln!("Error: No such image: {n}");
                code = 1;
            }
        }
    }
    Ok(code.max(print_docs(&docs, format)?))
}

/// `berth tag SOURCE TARGET`.
pub fn tag(c: &Client, a: &TagArgs) -> Result<i32, Failure> {
    let t = &a.target;
    let last_colon = t.rfind(':').filter(|i| !t[*i..].contains('/'));
    let q = match last_colon {
        Some(i) => format!("repo={}&tag={}", enc(&t[..i]), enc(&t[i + 1..])),
        None => format!("repo={}", enc(t)),
    };
    c.request(
        "POST",
        &format!("/images/{}/tag?{q}", enc(&a.source)),
        Body::Empty,
    )
    .map_err(fail)?;
    Ok(0)
}

/// `berth history [-H] [--no-trunc] [-q] [--format] IMAGE`.
pub fn history(c: &Client, a: &HistoryArgs) -> Result<i32, Failure> {
    let list: Vec<Value> = c
        .json(
            "GET",
            &format!("/images/{}/history", enc(&a.image)),
            Body::Empty,
        )
        .map_err(fail)?;
    let rows: Vec<Value> = list
        .iter()
        .map(|v| {
            let id = v["Id"].as_str().unwrap_or_default();
            let id = if a.no_trunc || id == "<missing>" {
                id.to_owned()
            } else {
                short_id(id)
            };
            let created = v["Created"].as_i64().unwrap_or(0);
            let by = v["CreatedBy"]
                .as_str()
                .unwrap_or_default()
                .replace('\t', " ");
            let by = if a.no_trunc { by } else { ellipsis(&by, 45) };
            let size = v["Size"].as_u64().unwrap_or(0);
            json!({
                "ID": id,
                "CreatedSince": if a.human { ago(created) } else { created.to_string() },
                "CreatedAt": created.to_string(),
                "CreatedBy": by,
                "Size": if a.human { human_size(size) } else { size.to_string() },
                "Comment": v["Comment"].as_str().unwrap_or_default(),
            })
        })
        .collect();
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    let headers = json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"});
    render_format(
        a.format.as_deref().unwrap_or(default),
        &rows,
        &headers,
        "*image.historyContext",
    )?;
    Ok(0)
}
