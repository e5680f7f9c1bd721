//! `berth stats [--no-stream] [--format] [-a] [--no-trunc] [CONTAINER...]`: docker's columns
//! (CONTAINER ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS), computed
//! from the API's stats documents as the docker CLI computes them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::enc;
use crate::client::{Body, Client};
use crate::table::{human_size, render};
use crate::template::Template;
use crate::Failure;

/// Docker's default `stats` format.
const HEADER: [&str; 8] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
];

/// Go's `%.{prec}g`.
fn fmt_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if exp < -4 || exp >= prec as i32 {
        return format!("{v:.*e}", prec.saturating_sub(1));
    }
    let decimals = (prec as i32 - 1 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Docker's `units.BytesSize`: binary units, 4 significant digits (`1.539MiB`).
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let (mut v, mut i) = (size, 0);
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", fmt_g(v, 4), UNITS[i])
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// One row's values from a stats document (docker CLI's `calculate*` functions).
pub fn row(doc: &Value, id: &str, no_trunc: bool) -> Value {
    let cpu = &doc["cpu_stats"];
    let pre = &doc["precpu_stats"];
    let cpu_delta = num(&cpu["cpu_usage"]["total_usage"]) - num(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = num(&cpu["system_cpu_usage"]) - num(&pre["system_cpu_usage"]);
    let mut online = num(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map_or(0, Vec::len) as f64;
    }
    let cpu_pct = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &doc["memory_stats"];
    let usage = num(&mem["usage"]);
    // Docker leaves out inactive page cache: v1 total_inactive_file, v2 inactive_file.
    let inactive = mem["stats"]
        .get("total_inactive_file")
        .or_else(|| mem["stats"].get("inactive_file"))
        .map_or(0.0, num);
    let used = if inactive < usage {
        usage - inactive
    } else {
        usage
    };
    let limit = num(&mem["limit"]);
    let mem_pct = if limit > 0.0 {
        used / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    if let Some(nets) = doc["networks"].as_object() {
        for n in nets.values() {
            rx += num(&n["rx_bytes"]);
            tx += num(&n["tx_bytes"]);
        }
    }
    let (mut read, mut write) = (0.0, 0.0);
    for e in doc["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += num(&e["value"]),
            Some("write") => write += num(&e["value"]),
            _ => {}
        }
    }
    let short: String = if no_trunc {
        id.to_owned()
    } else {
        id.chars().take(12).collect()
    };
    let name = doc["name"].as_str().unwrap_or("").trim_start_matches('/');
    let hs = |v: f64| human_size(v as u64);
    json!({
        "Container": short, "ID": short, "Name": if name.is_empty() { "--" } else { name },
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(used), bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", hs(rx), hs(tx)),
        "BlockIO": format!("{} / {}", hs(read), hs(write)),
        "PIDs": doc["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

/// Renders the rows with the default columns or a user template (`table` prefix: header).
fn render_rows(rows: &[Value], format: Option<&str>) -> Result<String, Failure> {
    let Some(format) = format.filter(|f| !f.is_empty() && *f != "table") else {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                [
                    "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs",
                ]
                .iter()
                .map(|k| r[*k].as_str().unwrap_or("").to_owned())
                .collect()
            })
            .collect();
        return Ok(render(&HEADER, &cells));
    };
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_owned()),
        None => (false, format.to_owned()),
    };
    let t = Template::parse(&body.replace("\\t", "\t"))
        .map_err(|e| Failure::daemon(format!("template parsing error: {e}")))?;
    let out = |v: &Value| {
        t.render(v).map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })
    };
    let lines: Vec<String> = rows.iter().map(out).collect::<Result<_, _>>()?;
    if !table {
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    let headers = json!({"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME",
        "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
        "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"});
    let split = |s: &str| s.split('\t').map(str::to_owned).collect::<Vec<_>>();
    let head = split(&out(&headers)?);
    let h: Vec<&str> = head.iter().map(String::as_str).collect();
    Ok(render(
        &h,
        &lines.iter().map(|l| split(l)).collect::<Vec<_>>(),
    ))
}

/// The containers to show: the named ones, else the running ones (`-a`: all).
fn targets(c: &Client, all: bool, names: &[String]) -> Result<Vec<String>, Failure> {
    if !names.is_empty() {
        return Ok(names.to_vec());
    }
    let q = if all { "?all=1" } else { "" };
    let list: Vec<Value> = c.json("GET", &format!("/containers/json{q}"), Body::Empty)?;
    Ok(list
        .iter()
        .filter_map(|v| v["Id"].as_str().map(str::to_owned))
        .collect())
}

/// `berth stats`.
pub fn stats(
    c: &Client,
    all: bool,
    no_stream: bool,
    no_trunc: bool,
    format: Option<&str>,
    names: &[String],
) -> Result<i32, Failure> {
    let ids = targets(c, all, names)?;
    let latest: Arc<Mutex<BTreeMap<usize, Value>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut handles = Vec::new();
    for (i, key) in ids.iter().enumerate() {
        let (c, key) = (c.clone(), key.clone());
        let (latest, errors) = (latest.clone(), errors.clone());
        handles.push(std::thread::spawn(move || {
            let stream = if no_stream { "0" } else { "1" };
            let path = format!("/containers/{}/stats?stream={stream}", enc(&key));
            let resp = match c.request("GET", &path, Body::Empty) {
                Ok(r) => r,
                Err(e) => {
                    if let Ok(mut l) = errors.lock() {
                        l.push(e.to_string());
                    }
                    return;
                }
            };
            for line in BufReader::new(resp).lines() {
                let Ok(line) = line else { return };
                let Ok(doc) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let id = doc["id"].as_str().unwrap_or(&key).to_owned();
                if let Ok(mut l) = latest.lock() {
                    l.insert(i, row(&doc, &id, no_trunc));
                }
            }
        }));
    }
    if no_stream {
        for h in handles {
            let _ = h.join();
        }
        let errs = errors.lock().map(|e| e.clone()).unwrap_or_default();
        if let Some(first) = errs.first() {
            return Err(Failure::daemon(first));
        }
        let rows: Vec<Value> = latest
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        print!("{}", render_rows(&rows, format)?);
        return Ok(0);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let rows: Vec<Value> = latest
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        let text = render_rows(&rows, format)?;
        let mut out = std::io::stdout().lock();
        // Docker redraws in place: clear the screen, home the cursor.
        let _ = write!(out, "\x1b[2J\x1b[H{text}");
        let _ = out.flush();
        if handles.iter().all(std::thread::JoinHandle::is_finished) {
            let errs = errors.lock().map(|e| e.clone()).unwrap_or_default();
            return match errs.first() {
                Some(e) => Err(Failure::daemon(e)),
                None => Ok(0),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_percentages_as_docker_prints_them() {
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(bytes_size(1_613_824.0), "1.539MiB");
        assert_eq!(bytes_size(33_554_432.0), "32MiB");
        let doc = json!({
            "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 600}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 3_145_728, "limit": 33_554_432, "stats": {"total_inactive_file": 1_048_576}},
            "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 0}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
            "pids_stats": {"current": 3},
        });
        let r = row(&doc, "0123456789abcdef", false);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "100.00%");
        assert_eq!(r["MemUsage"], "2MiB / 32MiB");
        assert_eq!(r["MemPerc"], "6.25%");
        assert_eq!(r["NetIO"], "1.5kB / 0B");
        assert_eq!(r["BlockIO"], "4.1kB / 0B");
        assert_eq!(r["PIDs"], "3");
        let text = render_rows(&[r], None).unwrap_or_default();
        assert!(text.starts_with("CONTAINER ID   NAME      CPU %"), "{text}");
    }
}
