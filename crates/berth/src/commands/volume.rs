//! `berth volume create|ls|inspect|rm|prune`: docker's flags, columns and messages.

use std::io::Read;

use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::enc;
use super::images::{confirm, filters_query};
use super::list::render_format;
use crate::client::{Body, Client, ClientError};
use crate::table::human_size;
use crate::Failure;

/// `berth volume COMMAND`.
#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume.
    Create {
        /// Volume driver name.
        #[arg(short = 'd', long, default_value = "local")]
        driver: String,
        /// Set metadata for a volume (KEY=VALUE).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Driver specific options (type=tmpfs|none, device=..., o=...).
        #[arg(short = 'o', long = "opt")]
        opts: Vec<String>,
        /// The volume's name (default: a random one).
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Provide filter values (dangling=true, name=..., label=..., driver=...).
        #[arg(short = 'f', long = "filter")]
        filters: Vec<String>,
        /// Format output using a Go template ("table" prefix: with a header).
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        /// Format output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        /// Do not fail for a volume that does not exist.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove unused local volumes (anonymous ones unless -a).
    Prune {
        /// Remove all unused volumes, not just anonymous ones.
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
        /// Provide filter values (label=..., label!=...).
        #[arg(long = "filter")]
        filters: Vec<String>,
    },
}

/// A daemon error for volume commands (exit 1, like docker).
fn fail(e: ClientError) -> Failure {
    Failure {
        code: 1,
        message: e.to_string(),
    }
}

fn pairs(items: &[String], what: &str) -> Result<Map<String, Value>, Failure> {
    let mut m = Map::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                m.insert(k.to_owned(), json!(v));
            }
            None if what == "label" && !i.is_empty() => {
                m.insert(i.clone(), json!(""));
            }
            _ => {
                return Err(Failure {
                    code: 1,
                    message: format!(
                        "invalid argument {i:?} for \"--{what}\" flag: expected KEY=VALUE"
                    ),
                })
            }
        }
    }
    Ok(m)
}

/// `berth volume …`.
pub fn volume(c: &Client, cmd: VolumeCommand) -> Result<i32, Failure> {
    match cmd {
        VolumeCommand::Create {
            driver,
            labels,
            opts,
            name,
        } => {
            let body = json!({
                "Name": name.unwrap_or_default(),
                "Driver": driver,
                "DriverOpts": pairs(&opts, "opt")?,
                "Labels": pairs(&labels, "label")?,
            });
            let v: Value = c
                .json("POST", "/volumes/create", Body::Json(body))
                .map_err(fail)?;
            println!("{}", v["Name"].as_str().unwrap_or_default());
            Ok(0)
        }
        VolumeCommand::Ls {
            quiet,
            filters,
            format,
        } => ls(c, quiet, &filters, format.as_deref()),
        VolumeCommand::Inspect { format, volumes } => inspect(c, format.as_deref(), &volumes),
        VolumeCommand::Rm { force, volumes } => {
            let q = if force { "?force=1" } else { "" };
            let mut code = 0;
            for n in &volumes {
                match c.request("DELETE", &format!("/volumes/{}{q}", enc(n)), Body::Empty) {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        VolumeCommand::Prune {
            all,
            force,
            filters,
        } => prune(c, all, force, &filters),
    }
}

fn ls(c: &Client, quiet: bool, filters: &[String], format: Option<&str>) -> Result<i32, Failure> {
    let q = filters_query(filters)?;
    let v: Value = c
        .json("GET", &format!("/volumes?{q}"), Body::Empty)
        .map_err(fail)?;
    let mut vols = v["Volumes"].as_array().cloned().unwrap_or_default();
    vols.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    if quiet {
        for vol in &vols {
            println!("{}", vol["Name"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    if let Some(f) = format {
        let headers = super::rows::headers(super::rows::VOLUME_HEADERS);
        let vols: Vec<Value> = vols.iter().map(super::rows::volume).collect();
        render_format(f, &vols, &headers, "*formatter.volumeContext")?;
        return Ok(0);
    }
    // Docker's table: columns at least 10 wide, 3 spaces of padding.
    let drivers: Vec<&str> = vols
        .iter()
        .map(|v| v["Driver"].as_str().unwrap_or_default())
        .collect();
    let width = drivers.iter().map(|d| d.len()).max().unwrap_or(0).max(6) + 3;
    let width = width.max(10);
    println!("{:width$}VOLUME NAME", "DRIVER");
    for (vol, driver) in vols.iter().zip(drivers) {
        println!(
            "{driver:width$}{}",
            vol["Name"].as_str().unwrap_or_default()
        );
    }
    Ok(0)
}

fn inspect(c: &Client, format: Option<&str>, names: &[String]) -> Result<i32, Failure> {
    let template = format.map(super::format::inspect_template).transpose()?;
    let mut found = Vec::new();
    let mut code = 0;
    for n in names {
        match c.request("GET", &format!("/volumes/{}", enc(n)), Body::Empty) {
            Ok(mut r) => {
                let mut s = String::new();
                r.read_to_string(&mut s)?;
                found.push(
                    serde_json::from_str::<Value>(&s)
                        .map_err(|e| Failure::daemon(e.to_string()))?,
                );
            }
            Err(ClientError::Api { status: 404, .. }) => {
                eprintln!("Error: No such volume: {n}");
                code = 1;
            }
            Err(e) => return Err(fail(e)),
        }
    }
    if let Some(t) = template {
        return Ok(code.max(super::format::inspect_render(&t, &found, "volume.Volume")));
    }
    let out = serde_json::to_string_pretty(&found).map_err(|e| Failure::daemon(e.to_string()))?;
    println!("{out}");
    Ok(code)
}

fn prune(c: &Client, all: bool, force: bool, filters: &[String]) -> Result<i32, Failure> {
    let warning = if all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !force && !confirm(warning)? {
        return Ok(0);
    }
    let mut f = filters.to_vec();
    if all {
        f.push("all=true".into());
    }
    let q = filters_query(&f)?;
    let v: Value = c
        .json("POST", &format!("/volumes/prune?{q}"), Body::Empty)
        .map_err(fail)?;
    let deleted = v["VolumesDeleted"].as_array().cloned().unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Volumes:");
        for d in &deleted {
            println!("{}", d.as_str().unwrap_or_default());
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0))
    );
    Ok(0)
}

/// `berth rm -v`: removes containers together with their anonymous volumes.
pub fn rm_with_volumes(c: &Client, force: bool, names: &[String]) -> Result<i32, Failure> {
    let q = if force { "?force=1&v=1" } else { "?v=1" };
    let mut code = 0;
    for n in names {
        match c.request("DELETE", &format!("/containers/{}{q}", enc(n)), Body::Empty) {
            Ok(_) => println!("{n}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
