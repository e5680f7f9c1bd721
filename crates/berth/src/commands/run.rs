//! `run` and `create`: build docker's create request from the flags, handle "image not found",
//! then (for `run`) start, stream the output and propagate the exit code.

use std::io::Write;

use serde_json::{json, Value};

use super::{containers, enc, CreateFlags};
use crate::client::{Body, Client, ClientError};
use crate::Failure;

/// `busybox` → `busybox:latest`, as docker names the image in "Unable to find image".
pub fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Parses `--restart` into docker's `RestartPolicy`.
pub fn restart_policy(s: &str) -> Result<Value, Failure> {
    let (name, max) = match s.split_once(':') {
        Some((n, m)) => {
            let m: i64 = m
                .parse()
                .map_err(|_| Failure::daemon(format!("invalid restart policy format: {s}")))?;
            (n, m)
        }
        None => (s, 0),
    };
    match name {
        "" | "no" | "always" | "unless-stopped" | "on-failure" => {
            Ok(json!({"Name": name, "MaximumRetryCount": max}))
        }
        _ => Err(Failure::daemon(format!(
            "invalid restart policy format: {s}"
        ))),
    }
}

fn request_body(f: &CreateFlags, detach: bool, auto_remove: bool) -> Result<Value, Failure> {
    let mut env: Vec<String> = super::envfile::read(&f.env_file)?;
    env.extend(f.env.iter().filter_map(|e| {
        if e.contains('=') {
            Some(e.clone())
        } else {
            std::env::var(e).ok().map(|v| format!("{e}={v}"))
        }
    }));
    let labels: serde_json::Map<String, Value> = f
        .labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_owned(), json!(v)),
            None => (l.clone(), json!("")),
        })
        .collect();
    // `-a` picks the streams; without it, all of them (stdin with -i).
    let picked = |s: &str| !detach && (f.attach.is_empty() || f.attach.iter().any(|a| a == s));
    let attach_stdin = !detach && (f.interactive || f.attach.iter().any(|a| a == "stdin"));
    let mut body = json!({
        "Image": f.image,
        "Env": env,
        "Labels": labels,
        "Tty": f.tty,
        "OpenStdin": f.interactive,
        "AttachStdin": attach_stdin,
        "StdinOnce": attach_stdin,
        "AttachStdout": picked("stdout"),
        "AttachStderr": picked("stderr"),
        "HostConfig": {"Init": f.init, "AutoRemove": auto_remove, "RestartPolicy": restart_policy(&f.restart)?},
    });
    if !f.command.is_empty() {
        body["Cmd"] = json!(f.command);
    }
    if let Some(ep) = &f.entrypoint {
        body["Entrypoint"] = if ep.is_empty() {
            json!([])
        } else {
            json!([ep])
        };
    }
    if let Some(w) = &f.workdir {
        body["WorkingDir"] = json!(w);
    }
    if let Some(u) = &f.user {
        body["User"] = json!(u);
    }
    if let Some(u) = &f.userns {
        body["HostConfig"]["UsernsMode"] = json!(u);
    }
    if let Some(h) = &f.hostname {
        body["Hostname"] = json!(h);
    }
    if f.log_driver.is_some() || !f.log_opt.is_empty() {
        let mut opts = serde_json::Map::new();
        for o in &f.log_opt {
            let (k, v) = o.split_once('=').ok_or_else(|| {
                Failure::daemon(format!("invalid log opt {o:?}: expected KEY=VALUE"))
            })?;
            opts.insert(k.to_owned(), json!(v));
        }
        body["HostConfig"]["LogConfig"] = json!({
            "Type": f.log_driver.clone().unwrap_or_else(|| "json-file".into()),
            "Config": opts,
        });
    }
    if let Some(s) = &f.stop_signal {
        body["StopSignal"] = json!(s);
    }
    if let Some(t) = f.stop_timeout {
        body["StopTimeout"] = json!(t);
    }
    for (k, v) in f
        .limits
        .resources()?
        .into_iter()
        .chain(f.confine.host_config()?)
    {
        body["HostConfig"][k] = v;
    }
    for (k, v) in f.storage.host_config()? {
        body["HostConfig"][k] = v;
    }
    f.net.apply(&mut body)?;
    if let Some(hc) = f.health.config()? {
        body["Healthcheck"] = hc;
    }
    Ok(body)
}

/// Creates the container; returns its id.
fn create(c: &Client, f: &CreateFlags, detach: bool, auto_remove: bool) -> Result<String, Failure> {
    let path = match &f.name {
        Some(n) => format!("/containers/create?name={}", enc(n)),
        None => "/containers/create".to_owned(),
    };
    if f.rm && !matches!(f.restart.as_str(), "" | "no") {
        return Err(Failure::daemon("Conflicting options: --restart and --rm"));
    }
    match f.pull.as_str() {
        "missing" | "never" => {}
        "always" => {
            super::registry::pull_before_run(c, &with_default_tag(&f.image)).map_err(|e| {
                Failure {
                    code: 125,
                    message: e.message,
                }
            })?
        }
        other => {
            let allowed = r#"must be one of "always", "missing" or "never""#;
            return Err(Failure::daemon(format!(
                "invalid pull option: '{other}': {allowed}"
            )));
        }
    }
    let body = request_body(f, detach, auto_remove)?;
    match c.json::<Value>("POST", &path, Body::Json(body)) {
        Ok(v) => Ok(v["Id"].as_str().unwrap_or_default().to_owned()),
        Err(ClientError::Api {
            status: 404,
            message,
        }) if message.starts_with("No such image") && f.pull == "missing" => {
            super::registry::pull_for_run(c, &with_default_tag(&f.image)).map_err(|e| Failure {
                code: 125,
                message: e.message,
            })?;
            let body = request_body(f, detach, auto_remove)?;
            let v = c.json::<Value>("POST", &path, Body::Json(body))?;
            Ok(v["Id"].as_str().unwrap_or_default().to_owned())
        }
        Err(e) => Err(e.into()),
    }
}

/// Docker's exit code for a failed start: 127 when the program is missing, 126 when it cannot
/// be executed, else 125.
pub fn start_failure(e: ClientError) -> Failure {
    let msg = e.to_string();
    let lower = msg.to_ascii_lowercase();
    let code = if lower.contains("permission denied") || lower.contains("is a directory") {
        126
    } else if lower.contains("not found") || lower.contains("no such file") {
        127
    } else {
        125
    };
    Failure { code, message: msg }
}

/// `berth create`: prints the new container's id. Like docker's, the container is recorded
/// as attached (`-i`: stdin too, closed when that attach ends), for a later `start -a -i`.
pub fn create_only(c: &Client, f: &CreateFlags) -> Result<i32, Failure> {
    let id = create(c, f, false, f.rm)?;
    println!("{id}");
    Ok(0)
}

/// `berth run`.
pub fn run(c: &Client, f: &CreateFlags, detach: bool) -> Result<i32, Failure> {
    if detach && !f.attach.is_empty() {
        return Err(Failure {
            code: 1,
            message: "conflicting options: cannot specify both --attach and --detach".into(),
        });
    }
    // Detached --rm is the daemon's job; in the foreground the CLI removes after the wait, so
    // the exit code is read before the container disappears.
    let id = create(c, f, detach, f.rm && detach)?;
    let start = || {
        let started = c.request("POST", &format!("/containers/{id}/start"), Body::Empty);
        if let Err(e) = started {
            if f.rm {
                let _ = c.request(
                    "DELETE",
                    &format!("/containers/{id}?force=1&v=1"),
                    Body::Empty,
                );
            }
            return Err(start_failure(e));
        }
        Ok(())
    };
    if detach {
        start()?;
        println!("{id}");
        let _ = std::io::stdout().flush();
        return Ok(0);
    }
    let only = |s: &str| f.attach.is_empty() || f.attach.iter().any(|a| a == s);
    let io = containers::Io {
        tty: f.tty,
        stdin: f.interactive || f.attach.iter().any(|a| a == "stdin"),
        no_stdout: !only("stdout"),
        no_stderr: !only("stderr"),
    };
    let code = containers::attach_session(c, &id, io, Some(start))?;
    if f.rm {
        c.request(
            "DELETE",
            &format!("/containers/{id}?force=1&v=1"),
            Body::Empty,
        )?;
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!(
            restart_policy("on-failure:3").ok(),
            Some(json!({"Name": "on-failure", "MaximumRetryCount": 3}))
        );
        assert_eq!(
            restart_policy("always").ok(),
            Some(json!({"Name": "always", "MaximumRetryCount": 0}))
        );
        assert!(restart_policy("sometimes").is_err());
        assert!(restart_policy("on-failure:x").is_err());
    }

    #[test]
    fn default_tags() {
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(with_default_tag("busybox:1"), "busybox:1");
        assert_eq!(
            with_default_tag("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(with_default_tag("x@sha256:00"), "x@sha256:00");
    }
}
