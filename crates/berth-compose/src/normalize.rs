//! Short syntax → the long forms of the compose specification, before files are merged and
//! before the typed model is read. `config` prints this canonical form, as docker compose's
//! does.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::ports;
use crate::yaml::join;

/// Normalizes every service of a parsed file, resolving relative paths against `dir`.
pub fn file(doc: &mut Value, dir: &Path) -> Result<()> {
    if let Some(Value::Object(services)) = doc.get_mut("services") {
        for (name, svc) in services.iter_mut() {
            let path = format!("services.{name}");
            if svc.is_null() {
                *svc = json!({});
            }
            let Value::Object(svc) = svc else {
                return Err(Error::invalid(path, "must be a mapping"));
            };
            service(svc, dir, &path)?;
        }
    }
    for top in ["networks", "volumes", "secrets", "configs"] {
        if let Some(Value::Object(m)) = doc.get_mut(top) {
            for (_, v) in m.iter_mut() {
                if v.is_null() {
                    *v = json!({});
                }
            }
        }
    }
    for top in ["secrets", "configs"] {
        if let Some(Value::Object(m)) = doc.get_mut(top) {
            for (_, v) in m.iter_mut() {
                if let Some(Value::String(f)) = v.get_mut("file") {
                    *f = absolute(dir, f);
                }
            }
        }
    }
    Ok(())
}

/// `./x`, `../x`, `x` relative to `dir`; `~` is the home directory.
pub fn absolute(dir: &Path, p: &str) -> String {
    if let Some(rest) = p
        .strip_prefix("~/")
        .or(if p == "~" { Some("") } else { None })
    {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        return Path::new(&home).join(rest).display().to_string();
    }
    let joined = dir.join(p);
    // Lexical clean-up (no symlinks followed), as compose-go does.
    let mut out = std::path::PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out.display().to_string()
}

fn service(svc: &mut Map<String, Value>, dir: &Path, path: &str) -> Result<()> {
    for key in ["command", "entrypoint"] {
        if let Some(Value::String(s)) = svc.get(key) {
            let words = shlex::split(s)
                .ok_or_else(|| Error::invalid(join(path, key), "unterminated quote"))?;
            svc.insert(key.into(), json!(words));
        }
    }
    for key in ["environment", "labels", "sysctls"] {
        if let Some(v) = svc.get_mut(key) {
            *v = dict(v, &join(path, key), key == "environment")?;
        }
    }
    for key in [
        "env_file",
        "dns",
        "dns_search",
        "tmpfs",
        "profiles",
        "expose",
    ] {
        if let Some(v) = svc.get_mut(key) {
            *v = list_of_strings(v, &join(path, key))?;
        }
    }
    if let Some(v) = svc.get_mut("extra_hosts") {
        *v = extra_hosts(v, &join(path, "extra_hosts"))?;
    }
    if let Some(Value::String(ctx)) = svc.get("build").cloned() {
        svc.insert("build".into(), json!({ "context": ctx }));
    }
    if let Some(Value::Object(b)) = svc.get_mut("build") {
        let ctx = b.get("context").and_then(Value::as_str).unwrap_or(".");
        let ctx = absolute(dir, ctx);
        b.insert("context".into(), json!(ctx));
        if let Some(a) = b.get_mut("args") {
            *a = dict(a, &format!("{path}.build.args"), false)?;
        }
        if let Some(a) = b.get_mut("labels") {
            *a = dict(a, &format!("{path}.build.labels"), false)?;
        }
    }
    if let Some(Value::Array(files)) = svc.get_mut("env_file") {
        for f in files.iter_mut() {
            if let Value::String(s) = f {
                *s = absolute(dir, s);
            }
        }
    }
    if let Some(v) = svc.get_mut("ports") {
        *v = ports::normalize_all(v, &join(path, "ports"))?;
    }
    if let Some(v) = svc.get_mut("volumes") {
        *v = volumes(v, dir, &join(path, "volumes"))?;
    }
    if let Some(v) = svc.get_mut("networks") {
        *v = named_map(v, &join(path, "networks"), |_| Value::Null)?;
    }
    if let Some(v) = svc.get_mut("depends_on") {
        *v = named_map(
            v,
            &join(path, "depends_on"),
            |_| json!({"condition": "service_started", "required": true}),
        )?;
    }
    for key in ["secrets", "configs"] {
        if let Some(Value::Array(items)) = svc.get_mut(key) {
            for item in items.iter_mut() {
                if let Value::String(s) = item {
                    *item = json!({ "source": s });
                }
            }
        }
    }
    if let Some(Value::Object(h)) = svc.get_mut("healthcheck") {
        if let Some(Value::String(s)) = h.get("test").cloned() {
            h.insert("test".into(), json!(["CMD-SHELL", s]));
        }
    }
    if let Some(Value::Object(u)) = svc.get_mut("ulimits") {
        for (_, v) in u.iter_mut() {
            if v.is_number() {
                *v = json!({"soft": v.clone(), "hard": v.clone()});
            }
        }
    }
    Ok(())
}

/// A scalar as the string docker compose writes for it.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `[K=V, K]` or `{K: V}` → `{K: "V"}`; a bare `K` (no value) stays null when `keep_null`
/// (environment: taken from the shell later), else is the empty string.
fn dict(v: &Value, path: &str, keep_null: bool) -> Result<Value> {
    let mut out = Map::new();
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let s = scalar_text(item)
                    .ok_or_else(|| Error::invalid(format!("{path}[{i}]"), "must be a string"))?;
                match s.split_once('=') {
                    Some((k, v)) => out.insert(k.to_owned(), json!(v)),
                    None if keep_null => out.insert(s, Value::Null),
                    None => out.insert(s, json!("")),
                };
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let text = match item {
                    Value::Null if keep_null => Value::Null,
                    Value::Null => json!(""),
                    other => json!(scalar_text(other).ok_or_else(|| {
                        Error::invalid(join(path, k), "must be a string, number, boolean or null")
                    })?),
                };
                out.insert(k.clone(), text);
            }
        }
        Value::Null => {}
        _ => return Err(Error::invalid(path, "must be a mapping or a list")),
    }
    Ok(Value::Object(out))
}

fn list_of_strings(v: &Value, path: &str) -> Result<Value> {
    let items = match v {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    };
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            scalar_text(it)
                .map(Value::String)
                .ok_or_else(|| Error::invalid(format!("{path}[{i}]"), "must be a string"))
        })
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

/// `{host: ip}` or `["host=ip"]` → `["host:ip"]`, docker's `ExtraHosts` form.
fn extra_hosts(v: &Value, path: &str) -> Result<Value> {
    let list = match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                Ok(format!(
                    "{k}:{}",
                    scalar_text(v)
                        .ok_or_else(|| Error::invalid(join(path, k), "must be a string"))?
                ))
            })
            .collect::<Result<Vec<_>>>()?,
        _ => list_of_strings(v, path)?
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.replacen('=', ":", 1))
                    .collect()
            })
            .unwrap_or_default(),
    };
    Ok(json!(list))
}

/// `[a, b]` → `{a: default, b: default}`; a mapping stays (null values get the default).
fn named_map(v: &Value, path: &str, default: impl Fn(&str) -> Value) -> Result<Value> {
    let mut out = Map::new();
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .as_str()
                    .ok_or_else(|| Error::invalid(format!("{path}[{i}]"), "must be a string"))?;
                out.insert(name.to_owned(), default(name));
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let mut item = item.clone();
                if item.is_null() {
                    item = default(k);
                } else if let (Value::Object(i), Value::Object(d)) = (&mut item, default(k)) {
                    for (dk, dv) in d {
                        i.entry(dk).or_insert(dv);
                    }
                }
                out.insert(k.clone(), item);
            }
        }
        _ => return Err(Error::invalid(path, "must be a mapping or a list")),
    }
    Ok(Value::Object(out))
}

fn volumes(v: &Value, dir: &Path, path: &str) -> Result<Value> {
    let Value::Array(items) = v else {
        return Err(Error::invalid(path, "must be a list"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let mut long = match item {
            Value::String(s) => short_volume(s).map_err(|m| Error::invalid(&p, m))?,
            Value::Object(_) => item.clone(),
            _ => return Err(Error::invalid(p, "must be a string or a mapping")),
        };
        if long["type"] == "bind" {
            if let Some(Value::String(src)) = long.get_mut("source") {
                *src = absolute(dir, src);
            }
        }
        out.push(long);
    }
    Ok(Value::Array(out))
}

/// `[SOURCE:]TARGET[:MODE]`.
fn short_volume(s: &str) -> std::result::Result<Value, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err(format!("invalid volume specification: {s:?}")),
    };
    if target.is_empty() || !target.starts_with('/') {
        return Err(format!(
            "invalid volume specification: {s:?}: the container path must be absolute"
        ));
    }
    let mut v = match source {
        None => json!({"type": "volume", "target": target}),
        Some(src) if src.starts_with(['.', '/', '~']) => {
            json!({"type": "bind", "source": src, "target": target, "bind": {"create_host_path": true}})
        }
        Some(src) => json!({"type": "volume", "source": src, "target": target}),
    };
    for opt in mode.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => v["read_only"] = json!(true),
            "rw" => {}
            "z" | "Z" => v["bind"]["selinux"] = json!(opt),
            "nocopy" => v["volume"] = json!({"nocopy": true}),
            other => {
                return Err(format!(
                    "invalid volume specification: {s:?}: unknown mode {other:?}"
                ))
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn short_forms_become_long() {
        let mut doc = json!({"services": {"web": {
            "command": "sh -c 'echo hi'",
            "environment": ["A=1", "B"],
            "labels": {"x": 1},
            "volumes": ["data:/data", "./conf:/etc/conf:ro", "/anon"],
            "networks": ["front"],
            "depends_on": ["db"],
            "healthcheck": {"test": "true"},
            "build": "./app",
        }}});
        file(&mut doc, Path::new("/p")).unwrap();
        let w = &doc["services"]["web"];
        assert_eq!(w["command"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(w["environment"], json!({"A": "1", "B": null}));
        assert_eq!(w["labels"], json!({"x": "1"}));
        assert_eq!(
            w["volumes"][0],
            json!({"type": "volume", "source": "data", "target": "/data"})
        );
        assert_eq!(w["volumes"][1]["source"], "/p/conf");
        assert_eq!(w["volumes"][1]["read_only"], true);
        assert_eq!(
            w["volumes"][2],
            json!({"type": "volume", "target": "/anon"})
        );
        assert_eq!(w["networks"], json!({"front": null}));
        assert_eq!(w["depends_on"]["db"]["condition"], "service_started");
        assert_eq!(w["healthcheck"]["test"], json!(["CMD-SHELL", "true"]));
        assert_eq!(w["build"]["context"], "/p/app");
    }

    #[test]
    fn bad_values_name_the_path() {
        let mut doc = json!({"services": {"web": {"volumes": ["a:b:c:d"]}}});
        let e = file(&mut doc, Path::new("/p")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("services.web.volumes[0]: invalid volume"),
            "{e}"
        );
        let mut doc = json!({"services": {"web": {"environment": 3}}});
        assert!(file(&mut doc, Path::new("/p")).is_err());
    }
}
