//! `import` and `rmi`.

use std::io::Read;

use serde_json::Value;

use super::enc;
use crate::client::{Body, Client};
use crate::Failure;

/// `berth import FILE|- [REPOSITORY[:TAG]]`: streams the tarball to the daemon.
pub fn import(c: &Client, file: &str, reference: Option<&str>) -> Result<i32, Failure> {
    let mut q = String::from("fromSrc=-");
    if let Some(r) = reference {
        let last_colon = r.rfind(':').filter(|i| !r[*i..].contains('/'));
        match last_colon {
            Some(i) => q.push_str(&format!("&repo={}&tag={}", enc(&r[..i]), enc(&r[i + 1..]))),
            None => q.push_str(&format!("&repo={}", enc(r))),
        }
    }
    let mut input: Box<dyn Read> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(file).map_err(|e| Failure::daemon(format!("open {file}: {e}")))?,
        )
    };
    let v: Value = c.json(
        "POST",
        &format!("/images/create?{q}"),
        Body::Stream(&mut input),
    )?;
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
