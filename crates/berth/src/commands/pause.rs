//! `berth pause` / `berth unpause`: freeze or thaw every process of containers.

use super::enc;
use crate::client::{Body, Client};
use crate::Failure;

/// Pauses (`pause` true) or unpauses each container; prints each name done, the error for each
/// that failed, and exits 1 if any failed.
pub fn pause(c: &Client, pause: bool, names: &[String]) -> Result<i32, Failure> {
    let verb = if pause { "pause" } else { "unpause" };
    let mut code = 0;
    for n in names {
        match c.request(
            "POST",
            &format!("/containers/{}/{verb}", enc(n)),
            Body::Empty,
        ) {
            Ok(_) => println!("{n}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
