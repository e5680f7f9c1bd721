//! Image commands: `images`, `import`, `rmi`, `tag`, `history`, `commit`, `diff`, `export`,
//! `save`, `load`, `image inspect|prune` and the `berth image …` group (which also
//! forwards `pull`, `push`, `build`).

mod archive;
mod args;
mod commit;
mod inspect;
mod list;
mod prune;

use std::io::Read;

use serde_json::{json, Value};

pub use super::enc;
pub use archive::{export, load, save};
pub use args::{
    CommitArgs, ExportArgs, HistoryArgs, ImageCommand, ImagesArgs, ImportArgs, LoadArgs, SaveArgs,
    TagArgs,
};
pub use commit::{commit, diff};
pub use inspect::{fetch as fetch_inspect, history, inspect, tag};
pub use list::images;
pub use prune::{confirm, prune_images};

use crate::client::{Body, Client, ClientError};
use crate::Failure;

/// A daemon error as docker reports it for image commands (exit 1).
pub fn fail(e: ClientError) -> Failure {
    Failure {
        code: 1,
        message: e.to_string(),
    }
}

/// `sha256:abcdef…` → `abcdef012345`.
pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// `--filter k=v` values → `filters=<docker's JSON>` (empty string when none).
pub fn filters_query(filters: &[String]) -> Result<String, Failure> {
    if filters.is_empty() {
        return Ok(String::new());
    }
    let mut map = serde_json::Map::new();
    for f in filters {
        let (k, v) = f.split_once('=').ok_or_else(|| Failure {
            code: 1,
            message: format!("bad format of filter (expected name=value): {f}"),
        })?;
        // `label!=x` splits as ("label!", "x"), docker's negated label filter.
        let e = map.entry(k.to_owned()).or_insert_with(|| json!([]));
        if let Some(a) = e.as_array_mut() {
            a.push(json!(v));
        }
    }
    Ok(format!("filters={}", enc(&Value::Object(map).to_string())))
}

/// `berth import [-c] [-m] FILE|- [REPOSITORY[:TAG]]`: streams the tarball to the daemon.
pub fn import(c: &Client, a: &ImportArgs) -> Result<i32, Failure> {
    let mut q = String::from("fromSrc=-");
    if let Some(r) = &a.reference {
        let last_colon = r.rfind(':').filter(|i| !r[*i..].contains('/'));
        match last_colon {
            Some(i) => q.push_str(&format!("&repo={}&tag={}", enc(&r[..i]), enc(&r[i + 1..]))),
            None => q.push_str(&format!("&repo={}", enc(r))),
        }
    }
    for ch in &a.changes {
        q.push_str(&format!("&changes={}", enc(ch)));
    }
    if let Some(m) = &a.message {
        q.push_str(&format!("&message={}", enc(m)));
    }
    let file = &a.file;
    let mut input: Box<dyn Read> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(file).map_err(|e| Failure {
            code: 1,
            message: format!("open {file}: {e}"),
        })?)
    };
    let v: Value = c
        .json(
            "POST",
            &format!("/images/create?{q}"),
            Body::Stream(&mut input),
        )
        .map_err(fail)?;
    println!("{}", v["status"].as_str().unwrap_or_default());
    Ok(0)
}

/// `berth rmi [-f]`.
pub fn rmi(c: &Client, force: bool, images: &[String]) -> Result<i32, Failure> {
    let q = if force { "?force=1" } else { "" };
    let mut code = 0;
    for name in images {
        match c.json::<Vec<Value>>("DELETE", &format!("/images/{}{q}", enc(name)), Body::Empty) {
            Ok(items) => {
                for i in items {
                    if let Some(t) = i["Untagged"].as_str() {
                        println!("Untagged: {t}");
                    }
                    if let Some(d) = i["Deleted"].as_str() {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `berth image COMMAND`.
pub fn image(c: &Client, cmd: ImageCommand) -> Result<i32, Failure> {
    match cmd {
        ImageCommand::Ls(a) => images(c, &a),
        ImageCommand::Rm(a) => rmi(c, a.force, &a.images),
        ImageCommand::Tag(a) => tag(c, &a),
        ImageCommand::History(a) => history(c, &a),
        ImageCommand::Inspect(a) => inspect(c, a.format.as_deref(), &a.images),
        ImageCommand::Save(a) => save(c, &a),
        ImageCommand::Load(a) => load(c, &a),
        ImageCommand::Import(a) => import(c, &a),
        ImageCommand::Prune(a) => prune::prune(c, &a),
        ImageCommand::Pull(a) => super::registry::pull(c, &a),
        ImageCommand::Push(a) => super::registry::push(c, &a),
        ImageCommand::Build(a) => super::build::build(c, &a),
    }
}
