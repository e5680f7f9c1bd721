//! `commit` and `diff`.

use serde_json::Value;

use super::args::CommitArgs;
use super::{enc, fail};
use crate::client::{Body, Client};
use crate::Failure;

/// `berth commit [-a] [-c] [-m] CONTAINER [REPO[:TAG]]`: prints the new image id.
pub fn commit(c: &Client, a: &CommitArgs) -> Result<i32, Failure> {
    let mut q = vec![format!("container={}", enc(&a.container))];
    if let Some(r) = &a.reference {
        let last_colon = r.rfind(':').filter(|i| !r[*i..].contains('/'));
        match last_colon {
            Some(i) => {
                q.push(format!("repo={}", enc(&r[..i])));
                q.push(format!("tag={}", enc(&r[i + 1..])));
            }
            None => q.push(format!("repo={}", enc(r))),
        }
    }
    if let Some(m) = &a.message {
        q.push(format!("comment={}", enc(m)));
    }
    if let Some(au) = &a.author {
        q.push(format!("author={}", enc(au)));
    }
    for ch in &a.changes {
        q.push(format!("changes={}", enc(ch)));
    }
    q.push(format!("pause={}", a.pause));
    let v: Value = c
        .json("POST", &format!("/commit?{}", q.join("&")), Body::Empty)
        .map_err(fail)?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(0)
}

/// `berth diff CONTAINER`: docker's `A /path`, `C /path`, `D /path` lines.
pub fn diff(c: &Client, container: &str) -> Result<i32, Failure> {
    let v: Value = c
        .json(
            "GET",
            &format!("/containers/{}/changes", enc(container)),
            Body::Empty,
        )
        .map_err(fail)?;
    for ch in v.as_array().into_iter().flatten() {
        let kind = match ch["Kind"].as_u64() {
            Some(0) => 'C',
            Some(1) => 'A',
            Some(2) => 'D',
            _ => '?',
        };
        println!("{kind} {}", ch["Path"].as_str().unwrap_or_default());
    }
    Ok(0)
}
