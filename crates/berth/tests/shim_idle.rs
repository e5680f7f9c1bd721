//! End-to-end: the monitor drops its code's page mappings after 200 ms of quiet (berth-shim's
//! `trim.rs`); a container that is quiet longer than that and then talks must still be logged,
//! attached and reaped exactly as before. (The memory itself is measured by
//! bench/engine-rss.sh: the figure depends on the page cache's folio sizes.)
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bin_dir, stderr, stdout, Daemon};

#[test]
fn quiet_container_after_trim_is_logged_attached_and_reaped() {
    let d = Daemon::start();
    d.import_busybox();
    let id = d.ok(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "sleep 1.5; echo late; echo err >&2; sleep 0.3; exit 4",
    ]);
    let id = id.trim().to_owned();
    // Attach while the monitor is trimmed (the attach code comes back on demand).
    std::thread::sleep(Duration::from_millis(700));
    let mut attach = Command::new(bin_dir().join("berth"))
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(["attach", &id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let wait = d.berth(&["wait", &id]);
    assert_eq!(stdout(&wait).trim(), "4", "{}", stderr(&wait));
    let status = attach.wait().unwrap();
    let mut out = String::new();
    attach
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "late\n", "attach: {status:?}");
    assert_eq!(d.ok(&["logs", &id]), "late\n");
    let o = d.berth(&["logs", &id]);
    assert_eq!(stderr(&o), "err\n");
}
