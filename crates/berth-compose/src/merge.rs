//! Merging normalized compose files (`-f a.yml -f b.yml`, `extends`) by the specification's
//! rules: mappings merge key by key, `command`/`entrypoint`/`healthcheck.test` are replaced,
//! `volumes` merge by target, `secrets`/`configs` by source, other sequences append without
//! duplicates, scalars are replaced.

use serde_json::{Map, Value};

/// Merges a whole file over `base`.
pub fn file(base: &mut Value, over: Value) {
    let (Value::Object(b), Value::Object(o)) = (base, over) else {
        return;
    };
    for (k, v) in o {
        match (k.as_str(), b.get_mut(&k)) {
            ("services", Some(Value::Object(services))) => {
                if let Value::Object(over_services) = v {
                    for (name, svc) in over_services {
                        match services.get_mut(&name) {
                            Some(existing) => service(existing, svc),
                            None => {
                                services.insert(name, svc);
                            }
                        }
                    }
                }
            }
            (_, Some(existing @ Value::Object(_))) if v.is_object() => deep(existing, v),
            _ => {
                b.insert(k, v);
            }
        }
    }
}

/// Merges one service definition over another.
pub fn service(base: &mut Value, over: Value) {
    let (Value::Object(b), Value::Object(o)) = (base, over) else {
        return;
    };
    for (k, v) in o {
        let replaced = matches!(k.as_str(), "command" | "entrypoint");
        match b.get_mut(&k) {
            Some(existing) if !replaced => match k.as_str() {
                "volumes" => keyed(existing, v, "target"),
                "secrets" | "configs" => keyed(existing, v, "source"),
                "healthcheck" => {
                    let test = v.get("test").cloned();
                    deep(existing, v);
                    if let Some(t) = test {
                        existing["test"] = t;
                    }
                }
                _ => deep(existing, v),
            },
            _ => {
                b.insert(k, v);
            }
        }
    }
}

/// Mappings merge recursively, sequences append what is new, anything else is replaced.
fn deep(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if !v.is_null() => deep(existing, v),
                    Some(_) => {}
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => {
            for item in o {
                if !b.contains(&item) {
                    b.push(item);
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Sequences of mappings merged by one key: an entry of `over` replaces the base entry with
/// the same key.
fn keyed(base: &mut Value, over: Value, key: &str) {
    let (Value::Array(b), Value::Array(o)) = (base, over) else {
        return;
    };
    for item in o {
        let id = item.get(key).cloned();
        match b
            .iter_mut()
            .find(|e| id.is_some() && e.get(key).cloned() == id)
        {
            Some(existing) => *existing = item,
            None => b.push(item),
        }
    }
}

/// A mapping without `keys` (what an `extends` base does not pass on).
pub fn without(v: &Value, keys: &[&str]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_rules() {
        let mut base = json!({"services": {"web": {
            "image": "a", "command": ["x", "y"], "environment": {"A": "1", "B": "2"},
            "ports": [{"target": 80}], "volumes": [{"target": "/d", "source": "v1"}],
            "healthcheck": {"test": ["CMD", "a", "b"], "interval": "1s"},
        }}, "volumes": {"v1": {}}});
        let over = json!({"services": {"web": {
            "image": "b", "command": ["z"], "environment": {"B": "3"},
            "ports": [{"target": 81}, {"target": 80}], "volumes": [{"target": "/d", "source": "v2"}],
            "healthcheck": {"test": ["CMD", "c"]},
        }, "db": {"image": "d"}}, "volumes": {"v2": {}}});
        file(&mut base, over);
        let w = &base["services"]["web"];
        assert_eq!(w["image"], "b");
        assert_eq!(w["command"], json!(["z"]));
        assert_eq!(w["environment"], json!({"A": "1", "B": "3"}));
        assert_eq!(w["ports"], json!([{"target": 80}, {"target": 81}]));
        assert_eq!(w["volumes"], json!([{"target": "/d", "source": "v2"}]));
        assert_eq!(
            w["healthcheck"],
            json!({"test": ["CMD", "c"], "interval": "1s"})
        );
        assert_eq!(base["services"]["db"]["image"], "d");
        assert_eq!(base["volumes"], json!({"v1": {}, "v2": {}}));
    }
}
