//! `ps` and `images`: docker's columns.

use serde_json::Value;

use crate::client::{Body, Client};
use crate::table::{ago, ellipsis, human_size, render};
use crate::Failure;

fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// `berth ps [-a] [-q] [--no-trunc]`.
pub fn ps(c: &Client, all: bool, quiet: bool, no_trunc: bool) -> Result<i32, Failure> {
    let path = if all {
        "/containers/json?all=1"
    } else {
        "/containers/json"
    };
    let list: Vec<Value> = c.json("GET", path, Body::Empty)?;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    if quiet {
        for v in &list {
            let id = s(&v["Id"]);
            println!("{}", if no_trunc { id } else { short_id(&id) });
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
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
            vec![
                if no_trunc { id.clone() } else { short_id(&id) },
                s(&v["Image"]),
                format!("\"{cmd}\""),
                ago(v["Created"].as_i64().unwrap_or(0)),
                s(&v["Status"]),
                String::new(),
                names.join(","),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES"
            ],
            &rows
        )
    );
    Ok(0)
}

/// `berth images [-q]`.
pub fn images(c: &Client, quiet: bool) -> Result<i32, Failure> {
    let list: Vec<Value> = c.json("GET", "/images/json", Body::Empty)?;
    if quiet {
        for v in &list {
            println!("{}", short_id(v["Id"].as_str().unwrap_or_default()));
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for v in &list {
        let id = short_id(v["Id"].as_str().unwrap_or_default());
        let created = ago(v["Created"].as_i64().unwrap_or(0));
        let size = human_size(v["Size"].as_u64().unwrap_or(0));
        let tags: Vec<String> = v["RepoTags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if tags.is_empty() {
            rows.push(vec!["<none>".into(), "<none>".into(), id, created, size]);
            continue;
        }
        for t in tags {
            let (repo, tag) = match t.rsplit_once(':') {
                Some((r, tg)) if !tg.contains('/') => (r.to_owned(), tg.to_owned()),
                _ => (t.clone(), "<none>".to_owned()),
            };
            rows.push(vec![repo, tag, id.clone(), created.clone(), size.clone()]);
        }
    }
    print!(
        "{}",
        render(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
    );
    Ok(0)
}

/// `berth top CONTAINER`: the container's processes.
pub fn top(c: &Client, name: &str) -> Result<i32, Failure> {
    let v: Value = c.json(
        "GET",
        &format!("/containers/{}/top", super::enc(name)),
        Body::Empty,
    )?;
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
