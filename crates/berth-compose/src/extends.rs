//! `extends:` — a service starts from another service's definition (in this project or in
//! another file) and merges its own keys over it.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::interp::Env;
use crate::load::read_file;
use crate::merge;
use crate::normalize::absolute;
use crate::yaml::Lines;

/// Resolves every service's `extends` in the merged document.
pub fn resolve(doc: &mut Value, dir: &Path, env: &Env, lines: &mut Lines) -> Result<()> {
    let names: Vec<String> = doc
        .get("services")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for name in names {
        let mut seen = BTreeSet::new();
        let resolved = service(doc, &name, dir, env, lines, &mut seen)?;
        doc["services"][&name] = resolved;
    }
    Ok(())
}

/// Where an `extends` points: `(file, service)`.
fn target(v: &Value, path: &str, lines: &Lines) -> Result<(Option<String>, String)> {
    match v {
        Value::String(s) => Ok((None, s.clone())),
        Value::Object(m) => {
            let svc = m
                .get("service")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::invalid(path, "service is required").at(lines))?;
            Ok((
                m.get("file").and_then(Value::as_str).map(str::to_owned),
                svc.to_owned(),
            ))
        }
        _ => Err(Error::invalid(path, "must be a string or a mapping").at(lines)),
    }
}

/// One service with its `extends` chain applied, from `doc` (the file it is defined in).
fn service(
    doc: &Value,
    name: &str,
    dir: &Path,
    env: &Env,
    lines: &mut Lines,
    seen: &mut BTreeSet<String>,
) -> Result<Value> {
    let path = format!("services.{name}");
    let mut svc = doc["services"].get(name).cloned().ok_or_else(|| {
        Error::invalid(&path, format!("cannot extend service {name:?}: not found")).at(lines)
    })?;
    let Some(ext) = svc.as_object_mut().and_then(|m| m.remove("extends")) else {
        return Ok(svc);
    };
    let key = format!("{}:{name}", dir.display());
    if !seen.insert(key) {
        return Err(Error::invalid(
            &path,
            format!("circular reference with extends in service {name:?}"),
        )
        .at(lines));
    }
    let (file, base_name) = target(&ext, &format!("{path}.extends"), lines)?;
    let base = match file {
        None => service(doc, &base_name, dir, env, lines, seen)?,
        Some(f) => {
            let file = Path::new(&absolute(dir, &f)).to_owned();
            let sub_dir = file.parent().unwrap_or(dir).to_owned();
            let other = read_file(&file, &sub_dir, env, lines)?;
            service(&other, &base_name, &sub_dir, env, lines, seen)?
        }
    };
    lines.alias(&format!("services.{base_name}"), &path);
    // What never carries over from the base (the spec's list).
    let mut merged = merge::without(&base, &["depends_on", "links", "volumes_from"]);
    merge::service(&mut merged, svc);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn chains_merge_and_cycles_fail() {
        let mut doc = json!({"services": {
            "base": {"image": "busybox", "environment": {"A": "1"}, "depends_on": {"x": {}}},
            "mid": {"extends": "base", "environment": {"B": "2"}},
            "top": {"extends": {"service": "mid"}, "command": ["true"]},
        }});
        resolve(
            &mut doc,
            Path::new("/p"),
            &Env::new(),
            &mut Lines::default(),
        )
        .unwrap();
        let t = &doc["services"]["top"];
        assert_eq!(t["image"], "busybox");
        assert_eq!(t["environment"], json!({"A": "1", "B": "2"}));
        assert!(t.get("depends_on").is_none());
        assert!(t.get("extends").is_none());
        let mut doc = json!({"services": {"a": {"extends": "b"}, "b": {"extends": "a"}}});
        let e = resolve(
            &mut doc,
            Path::new("/p"),
            &Env::new(),
            &mut Lines::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("circular reference"), "{e}");
    }
}
