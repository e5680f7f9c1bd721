//! `save`, `load`, `export`: tar archives between the daemon and a file or stdio.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde_json::Value;

use super::args::{ExportArgs, LoadArgs, SaveArgs};
use super::{enc, fail};
use crate::client::{Body, Client};
use crate::Failure;

fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Copy `r` to `output` (written beside it and renamed into place only when complete, so a
/// failed transfer leaves no partial file) or to stdout (refused when it is a terminal).
fn write_out(mut r: impl Read, output: Option<&str>, what: &str) -> Result<(), Failure> {
    let Some(path) = output else {
        if is_tty(1) {
            return Err(Failure {
                code: 1,
                message: format!(
                    "cowardly refusing to {what} to a terminal. Use the -o flag or redirect"
                ),
            });
        }
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut r, &mut out).map_err(|e| fail_io(what, e))?;
        return out.flush().map_err(|e| fail_io(what, e));
    };
    let path = Path::new(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(
        ".{}.berth-tmp-{}",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::copy(&mut r, &mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail_io(&format!("{what} to {}", path.display()), e));
    }
    Ok(())
}

fn fail_io(what: &str, e: std::io::Error) -> Failure {
    Failure {
        code: 1,
        message: format!("failed to {what}: {e}"),
    }
}

/// `berth save [-o FILE] IMAGE...`.
pub fn save(c: &Client, a: &SaveArgs) -> Result<i32, Failure> {
    if a.output.is_none() && is_tty(1) {
        return write_out(std::io::empty(), None, "save").map(|()| 0);
    }
    let path = match a.images.as_slice() {
        [one] => format!("/images/{}/get", enc(one)),
        many => {
            let q: Vec<String> = many.iter().map(|n| format!("names={}", enc(n))).collect();
            format!("/images/get?{}", q.join("&"))
        }
    };
    let resp = c.request("GET", &path, Body::Empty).map_err(fail)?;
    write_out(resp, a.output.as_deref(), "save")?;
    Ok(0)
}

/// `berth export [-o FILE] CONTAINER`.
pub fn export(c: &Client, a: &ExportArgs) -> Result<i32, Failure> {
    if a.output.is_none() && is_tty(1) {
        return write_out(std::io::empty(), None, "export").map(|()| 0);
    }
    let resp = c
        .request(
            "GET",
            &format!("/containers/{}/export", enc(&a.container)),
            Body::Empty,
        )
        .map_err(fail)?;
    write_out(resp, a.output.as_deref(), "export")?;
    Ok(0)
}

/// `berth load [-i FILE] [-q]`: prints docker's `Loaded image: NAME` lines.
pub fn load(c: &Client, a: &LoadArgs) -> Result<i32, Failure> {
    let mut input: Box<dyn Read> = match &a.input {
        Some(f) => Box::new(std::fs::File::open(f).map_err(|e| Failure {
            code: 1,
            message: format!("open {f}: {e}"),
        })?),
        None => {
            if is_tty(0) {
                return Err(Failure {
                    code: 1,
                    message: "requested load from stdin, but stdin is empty".into(),
                });
            }
            Box::new(std::io::stdin().lock())
        }
    };
    let q = if a.quiet { "?quiet=1" } else { "" };
    let resp = c
        .request(
            "POST",
            &format!("/images/load{q}"),
            Body::Stream(&mut input),
        )
        .map_err(fail)?;
    let mut code = 0;
    for line in BufReader::new(resp).lines() {
        let line = line?;
        match serde_json::from_str::<Value>(&line) {
            Ok(v) => {
                if let Some(s) = v["stream"].as_str() {
                    print!("{s}");
                }
                if let Some(e) = v["error"].as_str() {
                    eprintln!("{e}");
                    code = 1;
                }
            }
            Err(_) if !line.trim().is_empty() => println!("{line}"),
            Err(_) => {}
        }
    }
    Ok(code)
}
