//! `ps` and `top`: docker's columns (`images` is in `images/list.rs`).

use serde_json::{json, Value};

use crate::client::{Body, Client};
use crate::table::{ago, ellipsis, human_size, render};
use crate::template::Template;
use crate::Failure;

fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// Renders `rows` (JSON objects) with a user template; a `table` prefix adds a header made
/// from `headers` and aligns the tab-separated columns.
pub(crate) fn render_format(format: &str, rows: &[Value], headers: &Value) -> Result<(), Failure> {
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_owned()),
        None => (false, format.to_owned()),
    };
    let t = Template::parse(&body.replace("\\t", "\t"))
        .map_err(|e| Failure::daemon(format!("template parsing error: {e}")))?;
    let render_row = |v: &Value| {
        t.render(v).map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })
    };
    if !table {
        for r in rows {
            println!("{}", render_row(r)?);
        }
        return Ok(());
    }
    let cells = |s: String| s.split('\t').map(str::to_owned).collect::<Vec<_>>();
    let header = cells(render_row(headers)?);
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| render_row(r).map(cells))
        .collect::<Result<_, _>>()?;
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    print!("{}", render(&h, &body));
    Ok(())
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
    let list: Vec<Value> = c.json("GET", &format!("/containers/json{query}"), Body::Empty)?;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    // docker's `ps --format` fields.
    let rows: Vec<Value> = list
        .iter()
        .map(|v| {
            let id = s(&v["Id"]);
            let cmd = s(&v["Command"]);
            let cmd = if no_trunc { cmd } else { ellipsis(&cmd, 20) };
            let names: Vec<String> = v["Names"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|n| s(n).trim_start_matches('/').to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let labels: Vec<String> = v["Labels"]
                .as_object()
                .map(|o| o.iter().map(|(k, v)| format!("{k}={}", s(v))).collect())
                .unwrap_or_default();
            json!({
                "ID": if no_trunc { id.clone() } else { short_id(&id) },
                "Image": s(&v["Image"]),
                "Command": format!("\"{cmd}\""),
                "CreatedAt": v["Created"].as_i64().unwrap_or(0).to_string(),
                "RunningFor": ago(v["Created"].as_i64().unwrap_or(0)),
                "Ports": super::network::ports_column(&v["Ports"]),
                "State": s(&v["State"]),
                "Status": s(&v["Status"]),
                "Names": names.join(","),
                "Labels": labels.join(","),
                "Size": size_column(v),
                "Mounts": "",
                "Networks": "",
            })
        })
        .collect();
    if quiet {
        for r in &rows {
            println!("{}", s(&r["ID"]));
        }
        return Ok(0);
    }
    let default = if size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let format = format.unwrap_or(default);
    let headers = json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
        "Names": "NAMES", "Labels": "LABELS", "Size": "SIZE", "Mounts": "MOUNTS",
        "Networks": "NETWORKS",
    });
    render_format(format, &rows, &headers)?;
    Ok(0)
}

/// docker's SIZE cell: the writable layer, and the whole root as "virtual" (empty when the
/// daemon was not asked for sizes).
fn size_column(v: &Value) -> String {
    match (v["SizeRw"].as_u64(), v["SizeRootFs"].as_u64()) {
        (Some(rw), Some(root)) => format!("{} (virtual {})", human_size(rw), human_size(root)),
        _ => String::new(),
    }
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
    let header: Vec<&str> = titles.iter().map(String::as_str).collect();
    print!("{}", render(&header, &rows));
    Ok(0)
}
