//! `berth update [flags] CONTAINER...`: docker's live resource changes.

use serde_json::Value;

use super::enc;
use super::limits::LimitFlags;
use crate::client::{Body, Client};
use crate::Failure;

/// Sends the limits (and restart policy) to each container; prints each name that was
/// updated, the error for each that was not, and exits 1 if any failed.
pub fn update(
    c: &Client,
    flags: &LimitFlags,
    restart: Option<&str>,
    names: &[String],
) -> Result<i32, Failure> {
    if !flags.any() && restart.is_none() {
        return Err(Failure::daemon(
            "You must provide one or more flags when using this command.",
        ));
    }
    let mut body = flags.resources()?;
    if let Some(r) = restart {
        body.insert("RestartPolicy".into(), super::run::restart_policy(r)?);
    }
    let body = Value::Object(body);
    let mut code = 0;
    for n in names {
        let res = c.json::<Value>(
            "POST",
            &format!("/containers/{}/update", enc(n)),
            Body::Json(body.clone()),
        );
        match res {
            Ok(v) => {
                for w in v["Warnings"].as_array().into_iter().flatten() {
                    eprintln!("WARNING: {}", w.as_str().unwrap_or_default());
                }
                println!("{n}");
            }
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
