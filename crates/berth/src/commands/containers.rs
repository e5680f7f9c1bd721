//! Commands on existing containers: `start`, `attach`, `exec`, `stop`, `kill`, `rm`, `logs`,
//! `inspect`, `wait`.

use std::io::Read;

use serde_json::Value;

use super::run::start_failure;
use super::{enc, stream};
use crate::client::{demux, Body, Client};
use crate::Failure;

/// Runs `op` for each container like docker does: prints the name on success, the error
/// otherwise, and exits 1 if any failed.
fn each(names: &[String], mut op: impl FnMut(&str) -> Result<(), Failure>) -> Result<i32, Failure> {
    let mut code = 0;
    for n in names {
        match op(n) {
            Ok(()) => println!("{n}"),
            Err(f) => {
                eprintln!("{}", f.message);
                code = 1;
            }
        }
    }
    Ok(code)
}

/// What an attached session relays.
#[derive(Debug, Clone, Copy, Default)]
pub struct Io {
    /// The container has a terminal: raw mode, one raw stream, window size follows ours.
    pub tty: bool,
    /// Our stdin goes to the container.
    pub stdin: bool,
    /// `run -a` without `stdout`: the container's stdout is not relayed.
    pub no_stdout: bool,
    /// `run -a` without `stderr`.
    pub no_stderr: bool,
}

/// Attaches (stdin too when `io.stdin`), runs `start` if given, relays until the container
/// exits (its exit code) or the user detaches (0).
pub fn attach_session(
    c: &Client,
    id: &str,
    io: Io,
    start: Option<impl FnOnce() -> Result<(), Failure>>,
) -> Result<i32, Failure> {
    stream::check_tty(io.tty, io.stdin)?;
    if io.tty {
        stream::block_winch();
    }
    let stdin = if io.stdin { "&stdin=1" } else { "" };
    let (out, err) = (u8::from(!io.no_stdout), u8::from(!io.no_stderr));
    let (resp, writer) = c.hijack_duplex(
        &format!(
            "/containers/{}/attach?stream=1&stdout={out}&stderr={err}{stdin}",
            enc(id)
        ),
        None,
    )?;
    // Docker proxies signals only without a terminal (on one, ^C is a byte for the container).
    if !io.tty {
        crate::sigproxy::start(c, id);
    }
    if let Some(start) = start {
        start()?;
    }
    if io.tty {
        stream::follow_window_size(c, &format!("/containers/{}/resize", enc(id)));
    }
    match stream::pump(resp, writer, io.tty, io.stdin)? {
        stream::Outcome::Detached => Ok(0),
        stream::Outcome::Ended => wait_one(c, id),
    }
}

/// The container's `Config.Tty`, `Config.OpenStdin` and `State.Running`.
fn stdio_config(c: &Client, name: &str) -> Result<(bool, bool, bool), Failure> {
    let v: Value = c.json(
        "GET",
        &format!("/containers/{}/json", enc(name)),
        Body::Empty,
    )?;
    Ok((
        v["Config"]["Tty"].as_bool().unwrap_or(false),
        v["Config"]["OpenStdin"].as_bool().unwrap_or(false),
        v["State"]["Running"].as_bool().unwrap_or(false),
    ))
}

/// `berth attach [--no-stdin]`: relays a running container's stdio until it exits (its exit
/// code) or the user detaches.
pub fn attach(c: &Client, name: &str, no_stdin: bool) -> Result<i32, Failure> {
    let (tty, open_stdin, running) = stdio_config(c, name)?;
    if !running {
        return Err(Failure {
            code: 1,
            message: "You cannot attach to a stopped container, start it first".into(),
        });
    }
    let io = Io {
        tty,
        stdin: open_stdin && !no_stdin,
        ..Io::default()
    };
    attach_session(c, name, io, None::<fn() -> Result<(), Failure>>)
}

fn wait_one(c: &Client, id: &str) -> Result<i32, Failure> {
    let v: Value = c.json(
        "POST",
        &format!("/containers/{}/wait", enc(id)),
        Body::Empty,
    )?;
    Ok(v["StatusCode"].as_i64().unwrap_or(-1) as i32)
}

/// `berth start [-a [-i]]`.
pub fn start(
    c: &Client,
    attach: bool,
    interactive: bool,
    names: &[String],
) -> Result<i32, Failure> {
    if attach || interactive {
        let [one] = names else {
            return Err(Failure::daemon(
                "you cannot start and attach multiple containers at once",
            ));
        };
        let (tty, open_stdin, _) = stdio_config(c, one)?;
        let io = Io {
            tty,
            stdin: interactive && open_stdin,
            ..Io::default()
        };
        let start = || {
            c.request(
                "POST",
                &format!("/containers/{}/start", enc(one)),
                Body::Empty,
            )
            .map(drop)
            .map_err(start_failure)
        };
        return attach_session(c, one, io, Some(start));
    }
    each(names, |n| {
        c.request(
            "POST",
            &format!("/containers/{}/start", enc(n)),
            Body::Empty,
        )
        .map(drop)
        .map_err(start_failure)
    })
}

/// `berth stop [-t N]`.
pub fn stop(c: &Client, time: Option<i64>, names: &[String]) -> Result<i32, Failure> {
    let q = time.map(|t| format!("?t={t}")).unwrap_or_default();
    each(names, |n| {
        c.request(
            "POST",
            &format!("/containers/{}/stop{q}", enc(n)),
            Body::Empty,
        )
        .map(drop)
        .map_err(Failure::from)
    })
}

/// `berth restart [-t N]`.
pub fn restart(c: &Client, time: Option<i64>, names: &[String]) -> Result<i32, Failure> {
    let q = time.map(|t| format!("?t={t}")).unwrap_or_default();
    each(names, |n| {
        c.request(
            "POST",
            &format!("/containers/{}/restart{q}", enc(n)),
            Body::Empty,
        )
        .map(drop)
        .map_err(Failure::from)
    })
}

/// `berth kill [-s SIGNAL]`.
pub fn kill(c: &Client, signal: Option<&str>, names: &[String]) -> Result<i32, Failure> {
    let q = signal
        .map(|s| format!("?signal={}", enc(s)))
        .unwrap_or_default();
    each(names, |n| {
        c.request(
            "POST",
            &format!("/containers/{}/kill{q}", enc(n)),
            Body::Empty,
        )
        .map(drop)
        .map_err(Failure::from)
    })
}

/// `berth rm [-f]`.
pub fn rm(c: &Client, force: bool, names: &[String]) -> Result<i32, Failure> {
    let q = if force { "?force=1" } else { "" };
    each(names, |n| {
        c.request("DELETE", &format!("/containers/{}{q}", enc(n)), Body::Empty)
            .map(drop)
            .map_err(Failure::from)
    })
}

/// Docker's `--since`/`--until` values as unix seconds: unix seconds, RFC 3339, or a
/// duration before now (`10s`, `42m`, `2h`).
pub fn unix_time(s: &str) -> Result<i64, Failure> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let bad = || Failure::daemon(format!("invalid time value {s:?}"));
    if let Ok(n) = s.split('.').next().unwrap_or("").parse::<i64>() {
        if !s.ends_with(|c: char| c.is_ascii_alphabetic()) {
            return Ok(n);
        }
    }
    let unit = |u: char| match u {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        _ => None,
    };
    if let Some(u) = s.chars().last().and_then(unit) {
        let n: i64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
        return Ok(now - n * u);
    }
    parse_rfc3339(s).ok_or_else(bad)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to unix seconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// `berth logs [-f] [-n N] [-t] [--since T] [--until T]`.
pub fn logs(
    c: &Client,
    follow: bool,
    tail: Option<&str>,
    extra_query: &str,
    name: &str,
) -> Result<i32, Failure> {
    let mut path = format!(
        "/containers/{}/logs?stdout=1&stderr=1{extra_query}",
        enc(name)
    );
    if follow {
        path.push_str("&follow=1");
    }
    if let Some(t) = tail {
        path.push_str(&format!("&tail={}", enc(t)));
    }
    let mut resp = c.request("GET", &path, Body::Empty)?;
    // A tty container's log is one raw stream.
    if resp.content_type.contains("raw-stream") {
        std::io::copy(&mut resp, &mut std::io::stdout())?;
    } else {
        demux(resp, &mut std::io::stdout(), &mut std::io::stderr())?;
    }
    Ok(0)
}

/// `berth inspect [-f FORMAT]`: a JSON array of the containers (or, failing that, images)
/// found (or the template rendered for each); exit 1 if any was not found.
pub fn inspect(
    c: &Client,
    format: Option<&str>,
    kind: Option<&str>,
    names: &[String],
) -> Result<i32, Failure> {
    let template = format.map(super::format::inspect_template).transpose()?;
    // Without --type, docker looks for a container, then an image, a network, a volume.
    const KINDS: [&str; 4] = ["container", "image", "network", "volume"];
    let kinds: Vec<&str> = match kind {
        None => KINDS.to_vec(),
        Some(k) if KINDS.contains(&k) => vec![k],
        Some(other) => {
            return Err(Failure {
                code: 1,
                message: format!("\"{other}\" is not a valid value for --type"),
            })
        }
    };
    let mut found = Vec::new();
    let mut code = 0;
    for n in names {
        let mut hit = None;
        for k in &kinds {
            hit = fetch_object(c, k, n)?;
            if hit.is_some() {
                break;
            }
        }
        match hit {
            Some(v) => found.push(v),
            None => {
                eprintln!("Error: No such {}: {n}", kind.unwrap_or("object"));
                code = 1;
            }
        }
    }
    if let Some(t) = template {
        return Ok(code.max(super::format::inspect_render(&t, &found, "")));
    }
    let out = serde_json::to_string_pretty(&found).map_err(|e| Failure::daemon(e.to_string()))?;
    println!("{out}");
    Ok(code)
}

/// One object of `kind` by name or id; `None` when the daemon has none.
fn fetch_object(c: &Client, kind: &str, name: &str) -> Result<Option<Value>, Failure> {
    let path = match kind {
        "image" => return super::images::fetch_inspect(c, name),
        "container" => format!("/containers/{}/json", enc(name)),
        "network" => format!("/networks/{}", enc(name)),
        _ => format!("/volumes/{}", enc(name)),
    };
    match c.request("GET", &path, Body::Empty) {
        Ok(mut r) => {
            let mut s = String::new();
            r.read_to_string(&mut s)?;
            let v = serde_json::from_str(&s).map_err(|e| Failure::daemon(e.to_string()))?;
            Ok(Some(v))
        }
        Err(crate::client::ClientError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `berth wait`: prints each exit code.
pub fn wait(c: &Client, names: &[String]) -> Result<i32, Failure> {
    let mut code = 0;
    for n in names {
        match wait_one(c, n) {
            Ok(status) => println!("{status}"),
            Err(f) => {
                eprintln!("{}", f.message);
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `berth rename OLD NEW`.
pub fn rename(c: &Client, container: &str, new_name: &str) -> Result<i32, Failure> {
    c.request(
        "POST",
        &format!(
            "/containers/{}/rename?name={}",
            enc(container),
            enc(new_name)
        ),
        Body::Empty,
    )?;
    Ok(0)
}

/// `berth container prune [-f]`: without `-f` asks on the terminal first, as docker does.
pub fn prune(c: &Client, force: bool) -> Result<i32, Failure> {
    if !force {
        eprint!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let v: Value = c.json("POST", "/containers/prune", Body::Empty)?;
    let ids: Vec<&str> = v["ContainersDeleted"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for id in ids {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: 0B");
    Ok(0)
}

/// `berth exec [-i] [-t]`: creates the exec, relays its stdio (or detaches), returns its
/// exit code.
pub fn exec(
    c: &Client,
    container: &str,
    body: Value,
    detach: bool,
    io: Io,
) -> Result<i32, Failure> {
    if !detach {
        stream::check_tty(io.tty, io.stdin)?;
        if io.tty {
            stream::block_winch();
        }
    }
    let v: Value = c.json(
        "POST",
        &format!("/containers/{}/exec", enc(container)),
        Body::Json(body),
    )?;
    let id = v["Id"].as_str().unwrap_or_default().to_owned();
    if detach {
        c.request(
            "POST",
            &format!("/exec/{id}/start"),
            Body::Json(serde_json::json!({"Detach": true})),
        )?;
        return Ok(0);
    }
    let (resp, writer) = c.hijack_duplex(
        &format!("/exec/{id}/start"),
        Some(&serde_json::json!({"Detach": false, "Tty": io.tty})),
    )?;
    if io.tty {
        stream::follow_window_size(c, &format!("/exec/{id}/resize"));
    }
    if stream::pump(resp, writer, io.tty, io.stdin)? == stream::Outcome::Detached {
        return Ok(0);
    }
    let v: Value = c.json("GET", &format!("/exec/{id}/json"), Body::Empty)?;
    Ok(v["ExitCode"].as_i64().unwrap_or(126) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_values() {
        assert_eq!(unix_time("1700000000").ok(), Some(1_700_000_000));
        assert_eq!(unix_time("2024-01-01T00:00:00Z").ok(), Some(1_704_067_200));
        assert_eq!(
            unix_time("2024-01-01T00:00:00.5Z").ok(),
            Some(1_704_067_200)
        );
        let now = unix_time("0s").unwrap_or(0);
        let two_min = unix_time("2m").unwrap_or(0);
        assert!(
            (now - 120..=now - 119).contains(&two_min),
            "{now} {two_min}"
        );
        assert!(unix_time("yesterday").is_err());
    }
}
