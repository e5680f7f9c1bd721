//! `berth system df [-v] [--format]` and `berth system prune [-a] [-f] [--volumes]`.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{Body, Client, ClientError};
use crate::commands::images::{confirm, fail, prune_images, short_id};
use crate::commands::list::render_format;
use crate::table::{ago, ellipsis, human_size, human_size_prec, render};
use crate::Failure;

/// `berth system COMMAND`.
#[derive(Subcommand, Debug, Clone)]
pub enum SystemCommand {
    /// Show docker disk usage.
    Df {
        /// Show detailed information on space usage.
        #[arg(short = 'v', long)]
        verbose: bool,
        /// Format output using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// Remove unused data.
    Prune {
        /// Remove all unused images not just dangling ones.
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
        /// Prune anonymous volumes.
        #[arg(long)]
        volumes: bool,
        /// Provide filter values (e.g. "label=<key>=<value>").
        #[arg(long = "filter")]
        filters: Vec<String>,
    },
    /// Display system-wide information.
    Info {
        /// Format output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
    },
    /// Proxy stdin and stdout to the daemon's socket (what `-H ssh://` runs on the remote
    /// host, as `docker system dial-stdio`).
    #[command(name = "dial-stdio", hide = true)]
    DialStdio,
}

fn arr(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// docker's `units.HumanSize` (4 significant digits), used by the summary.
fn human4(n: u64) -> String {
    human_size_prec(n, 4)
}

fn reclaim(reclaimable: u64, total: u64) -> String {
    if total == 0 {
        return human4(reclaimable);
    }
    format!("{} ({}%)", human4(reclaimable), reclaimable * 100 / total)
}

/// docker counts running, paused and restarting containers as active (not reclaimable).
fn active_container(c: &Value) -> bool {
    ["running", "paused", "restarting"].contains(&c["State"].as_str().unwrap_or_default())
}

/// The summary rows: (type, total, active, size, reclaimable).
fn summary(v: &Value) -> Vec<Value> {
    let images = arr(&v["Images"]);
    let total = n(&v["LayersSize"]);
    let active: Vec<&Value> = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .collect();
    let used: u64 = active
        .iter()
        .map(|i| n(&i["Size"]).saturating_sub(i["SharedSize"].as_u64().unwrap_or(0)))
        .sum();
    let containers = arr(&v["Containers"]);
    let c_size: u64 = containers.iter().map(|c| n(&c["SizeRw"])).sum();
    let c_running = containers.iter().filter(|c| active_container(c)).count();
    let c_reclaim: u64 = containers
        .iter()
        .filter(|c| !active_container(c))
        .map(|c| n(&c["SizeRw"]))
        .sum();
    let volumes = arr(&v["Volumes"]);
    let v_size: u64 = volumes.iter().map(|x| n(&x["UsageData"]["Size"])).sum();
    let v_active = volumes
        .iter()
        .filter(|x| x["UsageData"]["RefCount"].as_i64().unwrap_or(0) > 0)
        .count();
    let v_reclaim: u64 = volumes
        .iter()
        .filter(|x| x["UsageData"]["RefCount"].as_i64().unwrap_or(0) == 0)
        .map(|x| n(&x["UsageData"]["Size"]))
        .sum();
    let cache = arr(&v["BuildCache"]);
    let b_size: u64 = cache.iter().map(|x| n(&x["Size"])).sum();
    let row = |t: &str, total_n: usize, active_n: usize, size: u64, r: String| {
        json!({"Type": t, "TotalCount": total_n.to_string(), "Active": active_n.to_string(),
               "Size": human4(size), "Reclaimable": r})
    };
    vec![
        row(
            "Images",
            images.len(),
            active.len(),
            total,
            reclaim(total.saturating_sub(used), total),
        ),
        row(
            "Containers",
            containers.len(),
            c_running,
            c_size,
            reclaim(c_reclaim, c_size),
        ),
        row(
            "Local Volumes",
            volumes.len(),
            v_active,
            v_size,
            reclaim(v_reclaim, v_size),
        ),
        row("Build Cache", cache.len(), 0, b_size, human4(b_size)),
    ]
}

/// `system df -v`: docker's four sections, one table each (the build cache table is
/// docker's header without rows: the builder keeps no per-record usage to show).
fn verbose(v: &Value) {
    println!("Images space usage:\n");
    let header = [
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "SIZE",
        "SHARED SIZE",
        "UNIQUE SIZE",
        "CONTAINERS",
    ];
    print!("{}", render(&header, &image_rows(v)));
    println!("\nContainers space usage:\n");
    let header = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "LOCAL VOLUMES",
        "SIZE",
        "CREATED",
        "STATUS",
        "NAMES",
    ];
    print!("{}", render(&header, &container_rows(v)));
    println!("\nLocal Volumes space usage:\n");
    let rows: Vec<Vec<String>> = arr(&v["Volumes"])
        .iter()
        .map(|x| {
            vec![
                x["Name"].as_str().unwrap_or_default().to_owned(),
                x["UsageData"]["RefCount"].as_i64().unwrap_or(0).to_string(),
                human_size(n(&x["UsageData"]["Size"])),
            ]
        })
        .collect();
    print!("{}", render(&["VOLUME NAME", "LINKS", "SIZE"], &rows));
    let cache: u64 = arr(&v["BuildCache"]).iter().map(|x| n(&x["Size"])).sum();
    println!("\nBuild cache usage: {}\n", human_size(cache));
    let header = [
        "CACHE ID",
        "CACHE TYPE",
        "SIZE",
        "CREATED",
        "LAST USED",
        "USAGE",
        "SHARED",
    ];
    print!("{}", render(&header, &[]));
}

/// One row per tag of each image (`<none>` for an untagged one), as docker lists them.
fn image_rows(v: &Value) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for i in arr(&v["Images"]) {
        let tags: Vec<String> = arr(&i["RepoTags"])
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
        let size = n(&i["Size"]);
        let shared = i["SharedSize"].as_u64().unwrap_or(0);
        let mut cells = |repo: &str, tag: &str| {
            rows.push(vec![
                repo.to_owned(),
                tag.to_owned(),
                short_id(i["Id"].as_str().unwrap_or_default()),
                ago(i["Created"].as_i64().unwrap_or(0)),
                human_size(size),
                human_size_prec(shared, 4),
                human_size_prec(size.saturating_sub(shared), 4),
                i["Containers"].as_i64().unwrap_or(0).to_string(),
            ])
        };
        if tags.is_empty() {
            cells("<none>", "<none>");
        }
        for t in &tags {
            match t.rsplit_once(':') {
                Some((r, tg)) if !tg.contains('/') => cells(r, tg),
                _ => cells(t, "<none>"),
            }
        }
    }
    rows
}

fn container_rows(v: &Value) -> Vec<Vec<String>> {
    arr(&v["Containers"])
        .iter()
        .map(|c| {
            let names: Vec<String> = arr(&c["Names"])
                .iter()
                .filter_map(|x| x.as_str().map(|s| s.trim_start_matches('/').to_owned()))
                .collect();
            vec![
                short_id(c["Id"].as_str().unwrap_or_default()),
                c["Image"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "\"{}\"",
                    ellipsis(c["Command"].as_str().unwrap_or_default(), 20)
                ),
                arr(&c["Mounts"]).len().to_string(),
                human_size(n(&c["SizeRw"])),
                ago(c["Created"].as_i64().unwrap_or(0)),
                c["Status"].as_str().unwrap_or_default().to_owned(),
                names.join(","),
            ]
        })
        .collect()
}

/// `berth system df`.
pub fn df(c: &Client, verbose_out: bool, format: Option<&str>) -> Result<i32, Failure> {
    let v: Value = c.json("GET", "/system/df", Body::Empty).map_err(fail)?;
    if verbose_out {
        verbose(&v);
        return Ok(0);
    }
    let format = format
        .unwrap_or("table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}");
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE",
        "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    render_format(
        format,
        &summary(&v),
        &headers,
        "*formatter.diskUsageContext",
    )?;
    Ok(0)
}

/// POST an optional prune endpoint (networks, volumes, build cache may not exist on this
/// daemon yet: a 404 skips it). Returns the answer.
fn optional_prune(c: &Client, path: &str) -> Result<Option<Value>, Failure> {
    match c.json::<Value>("POST", path, Body::Empty) {
        Ok(v) => Ok(Some(v)),
        Err(ClientError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(fail(e)),
    }
}

fn print_list(title: &str, v: &Value, key: &str) {
    let items: Vec<String> = arr(&v[key])
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect();
    if !items.is_empty() {
        println!("{title}:");
        for i in items {
            println!("{i}");
        }
        println!();
    }
}

/// `berth system prune [-a] [-f] [--volumes] [--filter]`.
pub fn prune(
    c: &Client,
    all: bool,
    force: bool,
    volumes: bool,
    filters: &[String],
) -> Result<i32, Failure> {
    if !force {
        let mut w = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
        );
        if volumes {
            w.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        w.push_str(if all {
            "  - all images without at least one container associated to them\n  - all build cache\n"
        } else {
            "  - all dangling images\n  - unused build cache\n"
        });
        if !confirm(&w)? {
            return Ok(0);
        }
    }
    let mut space = 0;
    if let Some(v) = optional_prune(c, "/containers/prune")? {
        print_list("Deleted Containers", &v, "ContainersDeleted");
        space += n(&v["SpaceReclaimed"]);
    }
    if let Some(v) = optional_prune(c, "/networks/prune")? {
        print_list("Deleted Networks", &v, "NetworksDeleted");
    }
    if volumes {
        if let Some(v) = optional_prune(c, "/volumes/prune")? {
            print_list("Deleted Volumes", &v, "VolumesDeleted");
            space += n(&v["SpaceReclaimed"]);
        }
    }
    space += prune_images(c, all, filters)?;
    let build = if all {
        "/build/prune?all=1"
    } else {
        "/build/prune"
    };
    if let Some(v) = optional_prune(c, build)? {
        print_list("Deleted build cache objects", &v, "CachesDeleted");
        space += n(&v["SpaceReclaimed"]);
    }
    println!("Total reclaimed space: {}", human_size(space));
    Ok(0)
}
