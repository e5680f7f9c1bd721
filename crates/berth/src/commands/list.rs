//! `ps` and `top`: docker's columns (`images` is in `images/list.rs`).

use serde_json::{json, Value};

use crate::client::{Body, Client};
use crate::Failure;

/// Renders `rows` with a user `--format` as docker's formatter for `type_name`.
pub(crate) fn render_format(
    format: &str,
    rows: &[Value],
    headers: &Value,
    type_name: &str,
) -> Result<(), Failure> {
    super::format::render_rows(format, rows, headers, type_name)
}

/// The query string of `GET /containers/json` for `ps`'s flags (`--filter k=v` → docker's
/// `filters` JSON).
pub fn ps_query(
    all: bool,
    size: bool,
    filters: &[String],
    limit: Option<i64>,
) -> Result<String, Failure> {
    let mut q = vec![];
    if all {
        q.push("all=1".to_owned());
    }
    if size {
        q.push("size=1".to_owned());
    }
    if let Some(n) = limit {
        q.push(format!("limit={n}"));
    }
    if !filters.is_empty() {
        let mut map = serde_json::Map::new();
        for f in filters {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Failure::daemon(format!("bad format of filter (expected name=value): {f}"))
            })?;
            let e = map.entry(k.to_owned()).or_insert_with(|| json!([]));
            if let Some(a) = e.as_array_mut() {
                a.push(json!(v));
            }
        }
        q.push(format!(
            "filters={}",
            super::enc(&Value::Object(map).to_string())
        ));
    }
    Ok(if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    })
}

/// `berth ps [-a] [-q] [-s] [--no-trunc] [--format T] [--filter F] [-n N] [-l]`.
pub fn ps(
    c: &Client,
    query: &str,
    quiet: bool,
    no_trunc: bool,
    size: bool,
    format: Option<&str>,
) -> Result<i32, Failure> {
    if let Some(f) = format {
        let empty = super::rows::container(&Value::Null, true);
        super::format::validate(f, &empty, "*formatter.ContainerContext")?;
    }
    // docker ps exits 1 on a daemon error (a bad filter), not 125.
    let list: Vec<Value> = c
        .json("GET", &format!("/containers/json{query}"), Body::Empty)
        .map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })?;
    let rows: Vec<Value> = list
        .iter()
        .map(|v| super::rows::container(v, !no_trunc))
        .collect();
    if quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let default = if size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let format = format.unwrap_or(default);
    let headers = super::rows::headers(super::rows::CONTAINER_HEADERS);
    render_format(format, &rows, &headers, "*formatter.ContainerContext")?;
    Ok(0)
}

/// `berth top CONTAINER`: the container's processes.
pub fn top(c: &Client, name: &str, ps_args: &str) -> Result<i32, Failure> {
    let mut path = format!("/containers/{}/top", super::enc(name));
    if !ps_args.is_empty() {
        path.push_str(&format!("?ps_args={}", super::enc(ps_args)));
    }
    let v: Value = c.json("GET", &path, Body::Empty)?;
    let titles: Vec<String> = v["Titles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = v["Processes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    r.as_array()
                        .map(|c| {
                            c.iter()
                                .map(|x| x.as_str().unwrap_or_default().to_owned())
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    // docker top's tabwriter has a minimum column width of 20.
    let mut text = titles.join("\t") + "\n";
    for r in &rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    print!("{}", crate::table::tabwrite(&text, 20, 3));
    Ok(0)
}
