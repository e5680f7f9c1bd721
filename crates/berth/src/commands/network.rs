//! `berth network create|ls|inspect|rm|prune|connect|disconnect` and `berth port`: docker's
//! flags, columns, messages and exit codes.

pub mod flags;

use std::io::Read;

use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::enc;
use super::images::{confirm, filters_query};
use super::list::render_format;
use crate::client::{Body, Client, ClientError};
use crate::table::render;
use crate::Failure;

/// `berth network COMMAND`.
#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network.
    Create {
        /// Driver to manage the Network.
        #[arg(short = 'd', long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format that represents a network segment.
        #[arg(long)]
        subnet: Option<String>,
        /// IPv4 Gateway for the master subnet.
        #[arg(long)]
        gateway: Option<String>,
        /// Allocate container ip from a sub-range.
        #[arg(long = "ip-range")]
        ip_range: Option<String>,
        /// Restrict external access to the network.
        #[arg(long)]
        internal: bool,
        /// Set metadata on a network.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Set driver specific options.
        #[arg(short = 'o', long = "opt")]
        opts: Vec<String>,
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Provide filter values (e.g. "driver=bridge").
        #[arg(short = 'f', long = "filter")]
        filters: Vec<String>,
        /// Format output using a Go template.
        #[arg(long)]
        format: Option<String>,
        /// Do not truncate the output.
        #[arg(long)]
        no_trunc: bool,
    },
    /// Display detailed information on one or more networks.
    Inspect {
        /// Format output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        /// Do not error if the network does not exist.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove all unused networks.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Connect a container to a network.
    Connect {
        /// Add network-scoped alias for the container.
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// IPv4 address (e.g., 172.30.100.104).
        #[arg(long)]
        ip: Option<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Force the container to disconnect from a network.
        #[arg(short = 'f', long)]
        force: bool,
        network: String,
        container: String,
    },
}

/// A daemon error (exit 1, like docker's network commands).
fn fail(e: ClientError) -> Failure {
    Failure {
        code: 1,
        message: e.to_string(),
    }
}

fn pairs(items: &[String], flag: &str) -> Result<Map<String, Value>, Failure> {
    let mut m = Map::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                m.insert(k.to_owned(), json!(v));
            }
            None if !i.is_empty() && flag == "label" => {
                m.insert(i.clone(), json!(""));
            }
            _ => {
                return Err(Failure {
                    code: 1,
                    message: format!(
                        "invalid argument {i:?} for \"--{flag}\" flag: expected KEY=VALUE"
                    ),
                })
            }
        }
    }
    Ok(m)
}

/// `berth network …`.
pub fn network(c: &Client, cmd: NetworkCommand) -> Result<i32, Failure> {
    match cmd {
        NetworkCommand::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            internal,
            labels,
            opts,
            name,
        } => {
            let config = ipam_config(subnet, gateway, ip_range)?;
            let body = json!({
                "Name": name,
                "Driver": driver,
                "Internal": internal,
                "IPAM": {"Driver": "default", "Config": config},
                "Options": pairs(&opts, "opt")?,
                "Labels": pairs(&labels, "label")?,
            });
            let v: Value = c
                .json("POST", "/networks/create", Body::Json(body))
                .map_err(fail)?;
            println!("{}", v["Id"].as_str().unwrap_or_default());
            Ok(0)
        }
        NetworkCommand::Ls {
            quiet,
            filters,
            format,
            no_trunc,
        } => ls(c, quiet, &filters, format.as_deref(), no_trunc),
        NetworkCommand::Inspect { format, networks } => inspect(c, format.as_deref(), &networks),
        NetworkCommand::Rm { force, networks } => Ok(rm(c, force, &networks)),
        NetworkCommand::Prune { force } => prune(c, force),
        NetworkCommand::Connect {
            aliases,
            ip,
            network,
            container,
        } => {
            let mut ep = json!({"Aliases": aliases});
            if let Some(ip) = ip {
                ep["IPAMConfig"] = json!({"IPv4Address": ip});
            }
            let body = json!({"Container": container, "EndpointConfig": ep});
            c.request(
                "POST",
                &format!("/networks/{}/connect", enc(&network)),
                Body::Json(body),
            )
            .map_err(fail)?;
            Ok(0)
        }
        NetworkCommand::Disconnect {
            force,
            network,
            container,
        } => {
            let body = json!({"Container": container, "Force": force});
            c.request(
                "POST",
                &format!("/networks/{}/disconnect", enc(&network)),
                Body::Json(body),
            )
            .map_err(fail)?;
            Ok(0)
        }
    }
}

/// The IPAM pool of `network create`: empty (the daemon picks a subnet), or the subnet with
/// the gateway and range inside it, which mean nothing without one.
fn ipam_config(
    subnet: Option<String>,
    gateway: Option<String>,
    ip_range: Option<String>,
) -> Result<Vec<Value>, Failure> {
    let mut pool = Map::new();
    for (k, v) in [
        ("Subnet", subnet),
        ("Gateway", gateway),
        ("IPRange", ip_range),
    ] {
        if let Some(v) = v {
            pool.insert(k.into(), json!(v));
        }
    }
    if !pool.is_empty() && !pool.contains_key("Subnet") {
        return Err(Failure {
            code: 1,
            message: "Error response from daemon: gateway and ip-range need a subnet".into(),
        });
    }
    Ok(if pool.is_empty() {
        vec![]
    } else {
        vec![Value::Object(pool)]
    })
}

/// `network rm`: each network in turn; a missing one is an error unless `--force`.
fn rm(c: &Client, force: bool, networks: &[String]) -> i32 {
    let mut code = 0;
    for n in networks {
        match c.request("DELETE", &format!("/networks/{}", enc(n)), Body::Empty) {
            Ok(_) => println!("{n}"),
            Err(ClientError::Api { status: 404, .. }) if force => {}
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}

/// `network prune`, after docker's confirmation prompt unless `--force`.
fn prune(c: &Client, force: bool) -> Result<i32, Failure> {
    if !force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )?
    {
        return Ok(0);
    }
    let v: Value = c
        .json("POST", "/networks/prune", Body::Empty)
        .map_err(fail)?;
    let deleted = v["NetworksDeleted"].as_array().cloned().unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for d in &deleted {
            println!("{}", d.as_str().unwrap_or_default());
        }
    }
    Ok(0)
}

fn ls(
    c: &Client,
    quiet: bool,
    filters: &[String],
    format: Option<&str>,
    no_trunc: bool,
) -> Result<i32, Failure> {
    let q = filters_query(filters)?;
    let mut nets: Vec<Value> = c
        .json("GET", &format!("/networks?{q}"), Body::Empty)
        .map_err(fail)?;
    nets.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    let id = |n: &Value| {
        let id = n["Id"].as_str().unwrap_or_default();
        if no_trunc {
            id.to_owned()
        } else {
            id.chars().take(12).collect()
        }
    };
    if quiet {
        for n in &nets {
            println!("{}", id(n));
        }
        return Ok(0);
    }
    if let Some(f) = format {
        let rows: Vec<Value> = nets
            .iter()
            .map(|n| super::rows::network(n, !no_trunc))
            .collect();
        let headers = super::rows::headers(super::rows::NETWORK_HEADERS);
        render_format(f, &rows, &headers, "*network.networkContext")?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|n| {
            vec![
                id(n),
                n["Name"].as_str().unwrap_or_default().to_owned(),
                n["Driver"].as_str().unwrap_or_default().to_owned(),
                n["Scope"].as_str().unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        render(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows)
    );
    Ok(0)
}

fn inspect(c: &Client, format: Option<&str>, names: &[String]) -> Result<i32, Failure> {
    let template = format.map(super::format::inspect_template).transpose()?;
    let mut found = Vec::new();
    let mut code = 0;
    for n in names {
        match c.request("GET", &format!("/networks/{}", enc(n)), Body::Empty) {
            Ok(mut r) => {
                let mut s = String::new();
                r.read_to_string(&mut s)?;
                found.push(
                    serde_json::from_str::<Value>(&s)
                        .map_err(|e| Failure::daemon(e.to_string()))?,
                );
            }
            Err(ClientError::Api { status: 404, .. }) => {
                eprintln!("Error response from daemon: network {n} not found");
                code = 1;
            }
            Err(e) => return Err(fail(e)),
        }
    }
    if let Some(t) = template {
        return Ok(code.max(super::format::inspect_render(&t, &found, "")));
    }
    let out = serde_json::to_string_pretty(&found).map_err(|e| Failure::daemon(e.to_string()))?;
    println!("{out}");
    Ok(code)
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(c: &Client, container: &str, private: Option<&str>) -> Result<i32, Failure> {
    let v: Value = c
        .json(
            "GET",
            &format!("/containers/{}/json", enc(container)),
            Body::Empty,
        )
        .map_err(fail)?;
    let ports = v["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let want = private.map(|p| {
        if p.contains('/') {
            p.to_owned()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut found = false;
    for (key, binds) in &ports {
        if want.as_ref().is_some_and(|w| w != key) {
            continue;
        }
        for b in binds.as_array().into_iter().flatten() {
            found = true;
            let hp = format!(
                "{}:{}",
                b["HostIp"].as_str().unwrap_or_default(),
                b["HostPort"].as_str().unwrap_or_default()
            );
            if want.is_some() {
                println!("{hp}");
            } else {
                println!("{key} -> {hp}");
            }
        }
    }
    if let (Some(w), false) = (want, found) {
        return Err(Failure {
            code: 1,
            message: format!("Error: No public port '{w}' published for {container}"),
        });
    }
    Ok(0)
}

/// `ps`'s PORTS column from the API's `Ports` list: `127.0.0.1:18080->80/tcp, 53/udp`.
pub fn ports_column(ports: &Value) -> String {
    let mut out: Vec<String> = ports
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let private = format!(
                "{}/{}",
                p["PrivatePort"].as_u64().unwrap_or(0),
                p["Type"].as_str().unwrap_or("tcp")
            );
            match p["PublicPort"].as_u64() {
                Some(public) => format!(
                    "{}:{public}->{private}",
                    p["IP"].as_str().unwrap_or("0.0.0.0")
                ),
                None => private,
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out.join(", ")
}
