//! `version`, `info`, `events`, and the `berth system …` group (`df`, `prune` in [`df`]).

mod df;

use std::io::{BufRead, BufReader, Read, Write};

use serde_json::Value;

use crate::client::{Body, Client};
use crate::Failure;

pub use df::SystemCommand;

/// `berth system COMMAND`.
pub fn system(c: &Client, cmd: SystemCommand) -> Result<i32, Failure> {
    match cmd {
        SystemCommand::Df { verbose, format } => df::df(c, verbose, format.as_deref()),
        SystemCommand::Prune {
            all,
            force,
            volumes,
            filters,
        } => df::prune(c, all, force, volumes, &filters),
        SystemCommand::Info { format } => info(c, format.as_deref()),
        SystemCommand::DialStdio => dial_stdio(c),
    }
}

/// `berth system dial-stdio`: one connection to the daemon, relayed to stdin/stdout. Ends
/// when the daemon closes the connection; the end of stdin half-closes it (the HTTP exchange
/// or a hijacked stream may still answer).
fn dial_stdio(c: &Client) -> Result<i32, Failure> {
    let conn = c.connect()?;
    let mut up = conn.try_clone()?;
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut up);
            let _ = up.shutdown(std::net::Shutdown::Write);
        })?;
    let mut down = conn;
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match down.read(&mut buf) {
            Ok(0) => return Ok(0),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::daemon(e)),
        };
        // Stdout is line-buffered: every chunk goes out at once (attach keystrokes).
        if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
            return Ok(0);
        }
    }
}

/// The `Client` part of `version --format` (docker's field names).
fn client_version() -> Value {
    serde_json::json!({
        "Platform": {"Name": ""}, "Version": env!("CARGO_PKG_VERSION"), "ApiVersion": "1.45",
        "DefaultAPIVersion": "1.45", "GitCommit": "", "GoVersion": "", "Os": "linux",
        "Arch": std::env::consts::ARCH, "BuildTime": "", "Context": "default",
    })
}

/// Renders one document with an inspect-style template (docker's `version`/`info -f`).
fn render_one(format: &str, doc: &Value) -> Result<i32, Failure> {
    let t = super::format::inspect_template(format)?;
    Ok(super::format::inspect_render(
        &t,
        std::slice::from_ref(doc),
        "",
    ))
}

/// `berth version [-f FORMAT]`: client and server.
pub fn version(c: &Client, format: Option<&str>) -> Result<i32, Failure> {
    if let Some(f) = format {
        let server: Value = c.json("GET", "/version", Body::Empty)?;
        let doc = serde_json::json!({"Client": client_version(), "Server": server});
        return render_one(f, &doc);
    }
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       1.45");
    println!(" OS/Arch:           linux/{}", std::env::consts::ARCH);
    println!();
    let v: Value = c.json("GET", "/version", Body::Empty)?;
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    println!(
        "Server: {}",
        v["Platform"]["Name"].as_str().unwrap_or("Berth Engine")
    );
    println!(" Engine:");
    println!("  Version:          {}", s("Version"));
    println!(
        "  API version:      {} (minimum version {})",
        s("ApiVersion"),
        s("MinAPIVersion")
    );
    println!("  OS/Arch:          {}/{}", s("Os"), s("Arch"));
    println!("  Kernel version:   {}", s("KernelVersion"));
    Ok(0)
}

/// `berth info [-f FORMAT]`.
pub fn info(c: &Client, format: Option<&str>) -> Result<i32, Failure> {
    let v: Value = c.json("GET", "/info", Body::Empty)?;
    if let Some(f) = format {
        return render_one(f, &v);
    }
    let g = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    println!("Server:");
    println!(" Containers: {}", g("Containers"));
    println!("  Running: {}", g("ContainersRunning"));
    println!("  Paused: {}", g("ContainersPaused"));
    println!("  Stopped: {}", g("ContainersStopped"));
    println!(" Images: {}", g("Images"));
    println!(" Server Version: {}", g("ServerVersion"));
    println!(" Storage Driver: {}", g("Driver"));
    println!(" Logging Driver: {}", g("LoggingDriver"));
    println!(" Cgroup Driver: {}", g("CgroupDriver"));
    println!(" Default Runtime: {}", g("DefaultRuntime"));
    println!(" Kernel Version: {}", g("KernelVersion"));
    println!(" Operating System: {}", g("OperatingSystem"));
    println!(" Architecture: {}", g("Architecture"));
    println!(" CPUs: {}", g("NCPU"));
    println!(" Total Memory: {}", g("MemTotal"));
    println!(" Name: {}", g("Name"));
    println!(" Docker Root Dir: {}", g("DockerRootDir"));
    Ok(0)
}

/// `berth events [--since T] [--until T] [--filter K=V]... [--format F]`: docker's line format
/// `TIME TYPE ACTION ID (k=v, ...)`.
pub fn events(
    c: &Client,
    since: Option<i64>,
    until: Option<i64>,
    filters: &str,
    format: Option<&str>,
) -> Result<i32, Failure> {
    let template = format
        .map(|f| crate::template::Template::parse(&f.replace("\\t", "\t")))
        .transpose()
        .map_err(|e| Failure::daemon(format!("template parsing error: {e}")))?;
    let mut q = Vec::new();
    if let Some(s) = since {
        q.push(format!("since={s}"));
    }
    if let Some(u) = until {
        q.push(format!("until={u}"));
    }
    if !filters.is_empty() {
        q.push(filters.to_owned());
    }
    let path = if q.is_empty() {
        "/events".to_owned()
    } else {
        format!("/events?{}", q.join("&"))
    };
    let resp = c.request("GET", &path, Body::Empty)?;
    let mut out = std::io::stdout();
    for line in BufReader::new(resp).lines() {
        let line = line?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let text = match &template {
            Some(t) => t.render(&v).map_err(|e| Failure {
                code: 1,
                message: e.to_string(),
            })?,
            None => {
                let attrs: Vec<String> = v["Actor"]["Attributes"]
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or_default()))
                            .collect()
                    })
                    .unwrap_or_default();
                let nanos = v["timeNano"].as_i64().unwrap_or(0);
                format!(
                    "{} {} {} {} ({})",
                    rfc3339_nanos(nanos),
                    v["Type"].as_str().unwrap_or_default(),
                    v["Action"].as_str().unwrap_or_default(),
                    v["Actor"]["ID"].as_str().unwrap_or_default(),
                    attrs.join(", ")
                )
            }
        };
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    Ok(0)
}

/// Unix nanoseconds as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (docker's events time column).
fn rfc3339_nanos(nanos: i64) -> String {
    let t =
        jiff::Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{t:.9}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_times() {
        assert_eq!(
            super::rfc3339_nanos(1_704_067_200_000_000_005),
            "2024-01-01T00:00:00.000000005Z"
        );
    }
}
