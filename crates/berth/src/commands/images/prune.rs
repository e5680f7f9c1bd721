//! `berth image prune`: ask, then `POST /images/prune`, and print docker's report.

use serde_json::Value;

use super::args::PruneArgs;
use super::{fail, filters_query};
use crate::client::{Body, Client};
use crate::table::human_size;
use crate::Failure;

/// Asks `[y/N]` on stderr; true only for an explicit yes.
pub fn confirm(warning: &str) -> Result<bool, Failure> {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// `POST /images/prune` with `all` and the `--filter` values; prints `Deleted Images:` and
/// returns the bytes reclaimed.
pub fn prune_images(c: &Client, all: bool, filters: &[String]) -> Result<u64, Failure> {
    let mut f = filters.to_vec();
    if all {
        f.push("dangling=false".into());
    }
    let q = filters_query(&f)?;
    let v: Value = c
        .json("POST", &format!("/images/prune?{q}"), Body::Empty)
        .map_err(fail)?;
    let items = v["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !items.is_empty() {
        println!("Deleted Images:");
        for i in &items {
            if let Some(t) = i["Untagged"].as_str() {
                println!("untagged: {t}");
            }
            if let Some(d) = i["Deleted"].as_str() {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    Ok(v["SpaceReclaimed"].as_u64().unwrap_or(0))
}

/// `berth image prune [-a] [-f] [--filter]`.
pub fn prune(c: &Client, a: &PruneArgs) -> Result<i32, Failure> {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(warning)? {
        return Ok(0);
    }
    let space = prune_images(c, a.all, &a.filters)?;
    println!("Total reclaimed space: {}", human_size(space));
    Ok(0)
}
