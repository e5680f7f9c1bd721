//! docker's formatter contexts for list commands: the fields `--format` sees for a container
//! (`ps`), an image (`images`), a network (`network ls`) and a volume (`volume ls`), worded
//! as docker 28 words them, with their column titles.

use serde_json::{json, Map, Value};

use crate::table::{ago, ellipsis, human_size_prec};
use crate::template::METHOD_PREFIX;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Go's `time.Time.String()`: "2006-01-02 15:04:05.999999999 -0700 MST".
pub fn go_time(ts: jiff::Timestamp, tz: jiff::tz::TimeZone) -> String {
    let z = ts.to_zoned_datetime(tz);
    let frac = match z.subsec_nanosecond() {
        0 => String::new(),
        n => format!(".{n:09}").trim_end_matches('0').to_owned(),
    };
    let abbr = z.strftime("%Z").to_string();
    format!(
        "{}{frac} {} {abbr}",
        z.strftime("%Y-%m-%d %H:%M:%S"),
        z.strftime("%z")
    )
}

/// A unix time in the local zone (docker's `time.Unix(t, 0).String()`).
pub fn unix_time(secs: i64) -> String {
    let ts = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    go_time(ts, jiff::tz::TimeZone::system())
}

/// An RFC 3339 time as Go prints it after parsing ("Z" is UTC; the zero time is year 1).
fn rfc3339_time(text: &str) -> String {
    match text.parse::<jiff::Timestamp>() {
        Ok(ts) => go_time(ts, jiff::tz::TimeZone::UTC),
        Err(_) => "0001-01-01 00:00:00 +0000 UTC".into(),
    }
}

/// `k=v,k2=v2` and the hidden `.Label "k"` method.
fn labels(row: &mut Map<String, Value>, l: &Value) {
    let m = l.as_object().cloned().unwrap_or_default();
    let joined: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
    row.insert("Labels".into(), json!(joined.join(",")));
    row.insert(format!("{METHOD_PREFIX}Label"), Value::Object(m));
}

/// One `GET /containers/json` entry as docker's `ContainerContext`.
pub fn container(v: &Value, trunc: bool) -> Value {
    let id = s(&v["Id"]);
    let cmd = s(&v["Command"]);
    let cmd = if trunc { ellipsis(&cmd, 20) } else { cmd };
    let mut names: Vec<String> = v["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| s(n).trim_start_matches('/').to_owned())
        .collect();
    if trunc {
        // Link aliases ("other/alias") only show with --no-trunc.
        names.retain(|n| !n.contains('/'));
        names.truncate(1);
    }
    let mounts = v["Mounts"].as_array().cloned().unwrap_or_default();
    let mount_names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let n = if s(&m["Name"]).is_empty() {
                s(&m["Source"])
            } else {
                s(&m["Name"])
            };
            if trunc {
                ellipsis(&n, 15)
            } else {
                n
            }
        })
        .collect();
    let local = mounts.iter().filter(|m| m["Driver"] == "local").count();
    let networks: Vec<String> = v["NetworkSettings"]["Networks"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let mut image = s(&v["Image"]);
    if trunc && image.starts_with("sha256:") {
        image = image
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
    }
    let created = v["Created"].as_i64().unwrap_or(0);
    let rw = human_size_prec(v["SizeRw"].as_u64().unwrap_or(0), 3);
    let size = match v["SizeRootFs"].as_u64() {
        Some(root) if root > 0 => format!("{rw} (virtual {})", human_size_prec(root, 3)),
        _ => rw,
    };
    let mut row = Map::new();
    for (k, val) in [
        (
            "ID",
            if trunc {
                id.chars().take(12).collect()
            } else {
                id
            },
        ),
        ("Image", image),
        ("Command", crate::template::go_quote(&cmd)),
        ("CreatedAt", unix_time(created)),
        ("RunningFor", ago(created)),
        ("Ports", super::network::ports_column(&v["Ports"])),
        ("State", s(&v["State"])),
        ("Status", s(&v["Status"])),
        ("Names", names.join(",")),
        ("Size", size),
        ("Mounts", mount_names.join(",")),
        ("LocalVolumes", local.to_string()),
        ("Networks", networks.join(",")),
    ] {
        row.insert(k.into(), json!(val));
    }
    row.insert("Platform".into(), Value::Null);
    labels(&mut row, &v["Labels"]);
    Value::Object(row)
}

pub const CONTAINER_HEADERS: &str = r#"{"ID":"CONTAINER ID","Image":"IMAGE","Command":"COMMAND",
"CreatedAt":"CREATED AT","RunningFor":"CREATED","Ports":"PORTS","State":"STATE","Status":"STATUS",
"Names":"NAMES","Labels":"LABELS","Size":"SIZE","Mounts":"MOUNTS","LocalVolumes":"LOCAL VOLUMES",
"Networks":"NETWORKS","Platform":"PLATFORM"}"#;

/// One row of `images` as docker's `ImageContext` (one per repository:tag).
pub fn image(v: &Value, repo: &str, tag: &str, digest: &str, id: &str) -> Value {
    let created = v["Created"].as_i64().unwrap_or(0);
    let size = v["Size"].as_i64().unwrap_or(0);
    let shared = v["SharedSize"].as_i64().unwrap_or(-1);
    let sz = |n: i64, p| human_size_prec(u64::try_from(n).unwrap_or(0), p);
    let na_or = |ok: bool, text: String| if ok { text } else { "N/A".to_owned() };
    let containers = v["Containers"].as_i64().unwrap_or(-1);
    json!({
        "Repository": repo, "Tag": tag, "ID": id, "Digest": digest,
        "CreatedSince": ago(created), "CreatedAt": unix_time(created),
        "Size": sz(size, 3), "VirtualSize": sz(size, 4),
        "SharedSize": na_or(shared >= 0, sz(shared, 4)),
        "UniqueSize": na_or(shared >= 0, sz(size - shared, 4)),
        "Containers": na_or(containers >= 0, containers.to_string()),
    })
}

pub const IMAGE_HEADERS: &str = r#"{"Repository":"REPOSITORY","Tag":"TAG","ID":"IMAGE ID",
"Digest":"DIGEST","CreatedSince":"CREATED","CreatedAt":"CREATED AT","Size":"SIZE",
"VirtualSize":"SIZE","SharedSize":"SHARED SIZE","UniqueSize":"UNIQUE SIZE",
"Containers":"CONTAINERS"}"#;

/// One `GET /networks` entry as docker's `networkContext`.
pub fn network(n: &Value, trunc: bool) -> Value {
    let id = s(&n["Id"]);
    let flag = |k: &str, default: bool| n[k].as_bool().unwrap_or(default).to_string();
    let mut row = Map::new();
    for (k, val) in [
        (
            "ID",
            if trunc {
                id.chars().take(12).collect()
            } else {
                id
            },
        ),
        ("Name", s(&n["Name"])),
        ("Driver", s(&n["Driver"])),
        ("Scope", s(&n["Scope"])),
        ("IPv4", flag("EnableIPv4", true)),
        ("IPv6", flag("EnableIPv6", false)),
        ("Internal", flag("Internal", false)),
        ("CreatedAt", rfc3339_time(&s(&n["Created"]))),
    ] {
        row.insert(k.into(), json!(val));
    }
    labels(&mut row, &n["Labels"]);
    Value::Object(row)
}

pub const NETWORK_HEADERS: &str = r#"{"ID":"NETWORK ID","Name":"NAME","Driver":"DRIVER",
"Scope":"SCOPE","IPv4":"IPV4","IPv6":"IPV6","Internal":"INTERNAL","Labels":"LABELS",
"CreatedAt":"CREATED AT"}"#;

/// One `GET /volumes` entry as docker's `volumeContext`.
pub fn volume(v: &Value) -> Value {
    let usage = &v["UsageData"];
    let (links, size) = if usage.is_object() {
        let size = usage["Size"].as_i64().unwrap_or(-1);
        let size = if size < 0 {
            "N/A".to_owned()
        } else {
            human_size_prec(size as u64, 4)
        };
        (usage["RefCount"].as_i64().unwrap_or(0).to_string(), size)
    } else {
        ("N/A".to_owned(), "N/A".to_owned())
    };
    let mut row = Map::new();
    for (k, val) in [
        ("Name", s(&v["Name"])),
        ("Driver", s(&v["Driver"])),
        ("Scope", s(&v["Scope"])),
        ("Mountpoint", s(&v["Mountpoint"])),
        ("Links", links),
        ("Size", size),
        ("Group", "N/A".to_owned()),
        ("Availability", "N/A".to_owned()),
        ("Status", "N/A".to_owned()),
    ] {
        row.insert(k.into(), json!(val));
    }
    labels(&mut row, &v["Labels"]);
    Value::Object(row)
}

pub const VOLUME_HEADERS: &str = r#"{"Name":"VOLUME NAME","Driver":"DRIVER","Scope":"SCOPE",
"Mountpoint":"MOUNTPOINT","Labels":"LABELS","Links":"LINKS","Size":"SIZE","Group":"GROUP",
"Availability":"AVAILABILITY","Status":"STATUS"}"#;

/// A header constant as JSON.
pub fn headers(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}
