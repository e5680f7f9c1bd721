//! `start`/`stop`/`restart`/`kill`/`pause`/`unpause`, `rm`, `top`, `port`, `events`.

use std::io::{BufRead, BufReader, Write};

use berth_compose::labels;
use serde_json::{json, Value};

use super::args::{EventsArgs, PortArgs, RmArgs};
use super::project::{self, fail, progress, Ctr, Target};
use crate::client::{Body, Client, ClientError};
use crate::commands::enc;
use crate::Failure;

/// A lifecycle verb over the project's containers.
#[derive(Debug, Clone)]
pub enum Verb {
    Start,
    Stop(Option<i64>),
    Restart(Option<i64>),
    Kill(Option<String>),
    Pause,
    Unpause,
}

impl Verb {
    /// The API path suffix, the progress words, and whether it goes in reverse start order.
    fn parts(&self) -> (String, &'static str, &'static str, bool) {
        let t = |t: &Option<i64>| t.map(|t| format!("?t={t}")).unwrap_or_default();
        match self {
            Verb::Start => ("start".into(), "Starting", "Started", false),
            Verb::Stop(x) => (format!("stop{}", t(x)), "Stopping", "Stopped", true),
            Verb::Restart(x) => (format!("restart{}", t(x)), "Restarting", "Started", false),
            Verb::Kill(s) => (
                format!("kill?signal={}", enc(s.as_deref().unwrap_or("SIGKILL"))),
                "Killing",
                "Killed",
                true,
            ),
            Verb::Pause => ("pause".into(), "Pausing", "Paused", true),
            Verb::Unpause => ("unpause".into(), "Unpausing", "Unpaused", false),
        }
    }

    /// Whether a container in `state` is one the verb applies to.
    fn applies(&self, state: &str) -> bool {
        match self {
            Verb::Start => state != "running",
            Verb::Stop(_) | Verb::Kill(_) | Verb::Pause => state == "running",
            Verb::Unpause => state == "paused",
            Verb::Restart(_) => true,
        }
    }
}

/// Containers in start order (dependencies first), or reversed.
fn ordered(t: &Target, mut ctrs: Vec<Ctr>, reverse: bool) -> Vec<Ctr> {
    let order: Vec<String> = t
        .loaded
        .as_ref()
        .and_then(|l| berth_compose::plan::order(&l.project).ok())
        .unwrap_or_default();
    ctrs.sort_by_key(|c| (order.iter().position(|s| *s == c.service), c.number));
    if reverse {
        ctrs.reverse();
    }
    ctrs
}

pub fn lifecycle(c: &Client, t: &Target, verb: Verb, services: &[String]) -> Result<i32, Failure> {
    let (path, doing, done, reverse) = verb.parts();
    let ctrs = project::select(t, project::containers(c, &t.name)?, services)?;
    let ctrs: Vec<Ctr> = ctrs
        .into_iter()
        .filter(|x| !x.oneoff && verb.applies(&x.state))
        .collect();
    for x in ordered(t, ctrs, reverse) {
        progress("Container", &x.name, doing);
        match c.request("POST", &format!("/containers/{}/{path}", x.id), Body::Empty) {
            Ok(_) | Err(ClientError::Api { status: 304, .. }) => {}
            Err(e) => return Err(e.into()),
        }
        progress("Container", &x.name, done);
    }
    Ok(0)
}

/// `rm [-f] [-s] [-v] [SVC...]`: stopped containers (with `-s`, stopped first).
pub fn rm(c: &Client, t: &Target, a: &RmArgs) -> Result<i32, Failure> {
    if a.stop {
        lifecycle(c, t, Verb::Stop(None), &a.services)?;
    }
    let ctrs = project::select(t, project::containers(c, &t.name)?, &a.services)?;
    let gone: Vec<Ctr> = ctrs.into_iter().filter(|x| !x.running()).collect();
    if gone.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    if !a.force {
        let names: Vec<&str> = gone.iter().map(|x| x.name.as_str()).collect();
        eprint!(
            "Going to remove {}\n? Are you sure? (y/N) ",
            names.join(", ")
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let v = if a.volumes { "?v=1" } else { "" };
    for x in gone {
        progress("Container", &x.name, "Removing");
        c.request("DELETE", &format!("/containers/{}{v}", x.id), Body::Empty)?;
        progress("Container", &x.name, "Removed");
    }
    Ok(0)
}

/// `top [SVC...]`: each running container's processes under its name.
pub fn top(c: &Client, t: &Target, services: &[String]) -> Result<i32, Failure> {
    let ctrs = project::select(t, project::containers(c, &t.name)?, services)?;
    for x in ctrs.iter().filter(|x| x.state == "running") {
        let v: Value = c.json("GET", &format!("/containers/{}/top", x.id), Body::Empty)?;
        println!("{}", x.name);
        let header: Vec<String> = v["Titles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let rows: Vec<Vec<String>> = v["Processes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        r.as_array()
                            .map(|c| {
                                c.iter()
                                    .map(|s| s.as_str().unwrap_or_default().to_owned())
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let h: Vec<&str> = header.iter().map(String::as_str).collect();
        print!("{}", crate::table::render(&h, &rows));
        println!();
    }
    Ok(0)
}

/// `port [--protocol P] [--index N] SVC PRIVATE_PORT`: `HOST_IP:HOST_PORT`.
pub fn port(c: &Client, t: &Target, a: &PortArgs) -> Result<i32, Failure> {
    let ctrs = project::select(
        t,
        project::containers(c, &t.name)?,
        std::slice::from_ref(&a.service),
    )?;
    let x = ctrs
        .iter()
        .find(|x| x.number == a.index && !x.oneoff)
        .ok_or_else(|| {
            fail(format!(
                "service \"{}\" is not running container #{}",
                a.service, a.index
            ))
        })?;
    let v: Value = c.json("GET", &format!("/containers/{}/json", x.id), Body::Empty)?;
    let key = format!("{}/{}", a.private_port, a.protocol);
    let b = &v["NetworkSettings"]["Ports"][&key][0];
    if b.is_null() {
        return Err(fail(format!("no port {key} for container {}", x.name)));
    }
    println!(
        "{}:{}",
        b["HostIp"].as_str().unwrap_or_default(),
        b["HostPort"].as_str().unwrap_or_default()
    );
    Ok(0)
}

/// `events [--json] [SVC...]`: the daemon's container events for this project.
pub fn events(c: &Client, t: &Target, a: &EventsArgs) -> Result<i32, Failure> {
    let filters =
        json!({"type": ["container"], "label": [format!("{}={}", labels::PROJECT, t.name)]});
    let resp = c.request(
        "GET",
        &format!("/events?filters={}", enc(&filters.to_string())),
        Body::Empty,
    )?;
    let mut out = std::io::stdout();
    for line in BufReader::new(resp).lines() {
        let Ok(v) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        let attrs = &v["Actor"]["Attributes"];
        let service = attrs[labels::SERVICE]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !a.services.is_empty() && !a.services.contains(&service) {
            continue;
        }
        let nanos = v["timeNano"].as_i64().unwrap_or(0);
        let time = jiff::Timestamp::from_nanosecond(i128::from(nanos))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let id = v["Actor"]["ID"].as_str().unwrap_or_default();
        let action = v["Action"].as_str().unwrap_or_default();
        let text = if a.json {
            json!({"time": format!("{time:.6}"), "type": "container", "action": action, "id": id,
                   "service": service, "attributes": attrs})
            .to_string()
        } else {
            let list: Vec<String> = attrs
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| !k.starts_with("com.docker.compose"))
                        .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            format!("{time:.6} container {action} {id} ({})", list.join(", "))
        };
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    Ok(0)
}
