//! `ports:` short syntax (`[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]`) → long form.

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Normalizes a `ports` list; ranges expand to one entry per port, as docker compose does.
pub fn normalize_all(v: &Value, path: &str) -> Result<Value> {
    let Value::Array(items) = v else {
        return Err(Error::invalid(path, "must be a list"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match item {
            Value::Number(n) => {
                out.extend(short(&n.to_string()).map_err(|m| Error::invalid(&p, m))?)
            }
            Value::String(s) => out.extend(short(s).map_err(|m| Error::invalid(&p, m))?),
            Value::Object(m) => {
                let mut long = item.clone();
                if !m.contains_key("target") {
                    return Err(Error::invalid(p, "target is required"));
                }
                if let Some(n) = m.get("published").filter(|v| v.is_number()) {
                    long["published"] = json!(n.to_string());
                }
                long.as_object_mut()
                    .map(|o| o.entry("protocol").or_insert(json!("tcp")));
                long.as_object_mut()
                    .map(|o| o.entry("mode").or_insert(json!("ingress")));
                out.push(long);
            }
            _ => return Err(Error::invalid(p, "must be a string, number or mapping")),
        }
    }
    Ok(Value::Array(out))
}

fn range(s: &str, whole: &str) -> std::result::Result<(u16, u16), String> {
    let bad = || format!("invalid port {whole:?}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

fn short(s: &str) -> std::result::Result<Vec<Value>, String> {
    let (spec, proto) = s.rsplit_once('/').unwrap_or((s, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    // An IPv6 host address is written in brackets.
    let (ip, rest) = match spec.strip_prefix('[') {
        Some(r) => {
            let (ip, r) = r
                .split_once("]:")
                .ok_or_else(|| format!("invalid port {s:?}"))?;
            (ip.to_owned(), r)
        }
        None => (String::new(), spec),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => (ip, "", *c),
        [h, c] => (ip, *h, *c),
        [i, h, c] if ip.is_empty() => (i.to_string(), *h, *c),
        _ => return Err(format!("invalid port {s:?}")),
    };
    let (c0, c1) = range(container, s)?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(range(host, s)?)
    };
    let mut out = Vec::new();
    for (i, c) in (c0..=c1).enumerate() {
        let published = match host_range {
            None => String::new(),
            Some((h0, h1)) if h1 - h0 == c1 - c0 => (h0 + i as u16).to_string(),
            // One container port from a host range: docker picks one of them.
            Some((h0, h1)) if c0 == c1 => format!("{h0}-{h1}"),
            Some(_) => return Err(format!("invalid port {s:?}: ranges of different sizes")),
        };
        let mut p = json!({"target": c, "protocol": proto, "mode": "ingress"});
        if !published.is_empty() {
            p["published"] = json!(published);
        }
        if !ip.is_empty() {
            p["host_ip"] = json!(ip);
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn short_syntax() {
        let v = normalize_all(
            &json!([
                80,
                "8080:80",
                "127.0.0.1:9000-9001:90-91/udp",
                "[::1]:53:53"
            ]),
            "p",
        )
        .unwrap();
        assert_eq!(
            v[0],
            json!({"target": 80, "protocol": "tcp", "mode": "ingress"})
        );
        assert_eq!(v[1]["published"], "8080");
        assert_eq!(v[2]["host_ip"], "127.0.0.1");
        assert_eq!(v[3]["published"], "9001");
        assert_eq!(v[3]["target"], 91);
        assert_eq!(v[3]["protocol"], "udp");
        assert_eq!(v[4]["host_ip"], "::1");
        assert!(normalize_all(&json!(["80/xyz"]), "p").is_err());
        assert!(normalize_all(&json!(["99999"]), "p").is_err());
        assert!(normalize_all(&json!(["1-3:1-2"]), "p").is_err());
        assert!(normalize_all(&json!([{"published": 1}]), "p").is_err());
    }
}
