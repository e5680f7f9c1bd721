//! `ps`: the project's containers in docker compose's columns.

use berth_compose::labels;
use serde_json::{json, Value};

use super::args::PsArgs;
use super::project::{self, Target};
use crate::client::Client;
use crate::table::{ago, ellipsis};
use crate::Failure;

pub fn ps(c: &Client, t: &Target, a: &PsArgs) -> Result<i32, Failure> {
    let ctrs = project::select(t, project::containers(c, &t.name)?, &a.service_names)?;
    let ctrs: Vec<_> = ctrs.into_iter().filter(|x| a.all || x.running()).collect();
    if a.services {
        let mut names: Vec<&str> = ctrs.iter().map(|x| x.service.as_str()).collect();
        names.dedup();
        names.iter().for_each(|n| println!("{n}"));
        return Ok(0);
    }
    if a.quiet {
        ctrs.iter().for_each(|x| println!("{}", x.id));
        return Ok(0);
    }
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let rows: Vec<Value> = ctrs
        .iter()
        .map(|x| {
            let v = &x.raw;
            let status = s(&v["Status"]);
            json!({
                "ID": x.id, "Name": x.name, "Image": s(&v["Image"]),
                "Command": format!("\"{}\"", ellipsis(&s(&v["Command"]), 20)),
                "Project": x.label(labels::PROJECT), "Service": x.service,
                "CreatedAt": v["Created"].as_i64().unwrap_or(0).to_string(),
                "RunningFor": ago(v["Created"].as_i64().unwrap_or(0)),
                "State": x.state, "Status": status,
                "Health": health_of(&status),
                "Ports": crate::commands::network::ports_column(&v["Ports"]),
                "Publishers": v["Ports"],
                "Labels": v["Labels"],
            })
        })
        .collect();
    match a.format.as_deref() {
        Some("json") => {
            for r in &rows {
                println!("{r}");
            }
        }
        Some(f) if f != "table" => {
            let headers = json!({"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Command": "COMMAND",
                "Project": "PROJECT", "Service": "SERVICE", "RunningFor": "CREATED", "CreatedAt": "CREATED AT",
                "State": "STATE", "Status": "STATUS", "Health": "HEALTH", "Ports": "PORTS"});
            crate::commands::list::render_format(
                f,
                &rows,
                &headers,
                "*formatter.ContainerContext",
            )?;
        }
        _ => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    [
                        "Name",
                        "Image",
                        "Command",
                        "Service",
                        "RunningFor",
                        "Status",
                        "Ports",
                    ]
                    .iter()
                    .map(|k| s(&r[*k]))
                    .collect()
                })
                .collect();
            print!(
                "{}",
                crate::table::render(
                    &["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"],
                    &cells
                )
            );
        }
    }
    Ok(0)
}

/// The health word docker puts in a status (`Up 3 seconds (healthy)`).
fn health_of(status: &str) -> &'static str {
    ["healthy", "unhealthy", "health: starting"]
        .into_iter()
        .find(|h| status.contains(&format!("({h})")))
        .map(|h| {
            if h == "health: starting" {
                "starting"
            } else {
                h
            }
        })
        .unwrap_or("")
}
