//! `berth images` / `berth image ls`: docker's columns, `--digests`, `--filter`, `-q`.

use serde_json::Value;

use super::args::ImagesArgs;
use super::{fail, filters_query, short_id};
use crate::client::{Body, Client};
use crate::commands::list::render_format;
use crate::Failure;

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `repo:tag` → (repo, tag); a colon inside a host:port is not a tag separator.
fn split_tag(t: &str) -> (String, String) {
    match t.rsplit_once(':') {
        Some((r, tg)) if !tg.contains('/') => (r.to_owned(), tg.to_owned()),
        _ => (t.to_owned(), "<none>".to_owned()),
    }
}

/// The digest recorded for `repo` (`repo@sha256:…` in RepoDigests).
fn digest_for(digests: &[String], repo: &str) -> String {
    digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .find(|(r, _)| *r == repo || repo == "<none>")
        .map_or("<none>".to_owned(), |(_, d)| d.to_owned())
}

/// `berth images`.
pub fn images(c: &Client, a: &ImagesArgs) -> Result<i32, Failure> {
    let mut filters = a.filters.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let mut q = filters_query(&filters)?;
    if a.all {
        q.push_str("&all=1");
    }
    let list: Vec<Value> = c
        .json("GET", &format!("/images/json?{q}"), Body::Empty)
        .map_err(fail)?;
    let id_of = |v: &Value| {
        let id = v["Id"].as_str().unwrap_or_default();
        if a.no_trunc {
            id.to_owned()
        } else {
            short_id(id)
        }
    };
    if a.quiet {
        let mut seen = Vec::new();
        for v in &list {
            let id = id_of(v);
            if !seen.contains(&id) {
                println!("{id}");
                seen.push(id);
            }
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for v in &list {
        let id = id_of(v);
        let digests = strs(&v["RepoDigests"]);
        let row = |repo: &str, tag: &str| {
            crate::commands::rows::image(v, repo, tag, &digest_for(&digests, repo), &id)
        };
        let tags = strs(&v["RepoTags"]);
        if tags.is_empty() {
            match digests.first().and_then(|d| d.split_once('@')) {
                Some((repo, _)) => rows.push(row(repo, "<none>")),
                None => rows.push(row("<none>", "<none>")),
            }
        }
        for t in tags {
            let (repo, tag) = split_tag(&t);
            rows.push(row(&repo, &tag));
        }
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let headers = crate::commands::rows::headers(crate::commands::rows::IMAGE_HEADERS);
    render_format(
        a.format.as_deref().unwrap_or(default),
        &rows,
        &headers,
        "*formatter.imageContext",
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_digests() {
        assert_eq!(
            split_tag("localhost:5000/x:1"),
            ("localhost:5000/x".into(), "1".into())
        );
        assert_eq!(
            split_tag("localhost:5000/x"),
            ("localhost:5000/x".into(), "<none>".into())
        );
        let d = vec!["busybox@sha256:ab".to_owned()];
        assert_eq!(digest_for(&d, "busybox"), "sha256:ab");
        assert_eq!(digest_for(&d, "other"), "<none>");
    }
}
