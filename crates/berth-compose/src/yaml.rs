//! YAML text → JSON values, remembering the line of every key path so that errors found
//! later (interpolation, merge, schema) can name the file and line.

use std::collections::BTreeMap;
use std::path::Path;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Value};

use crate::error::{Error, Origin, Result};

/// Key path (`services.web.ports[0]`) → where it was written. Later files override.
#[derive(Debug, Clone, Default)]
pub struct Lines(BTreeMap<String, Origin>);

impl Lines {
    /// Where `path` or its nearest written ancestor came from.
    pub fn find(&self, path: &str) -> Option<Origin> {
        let mut p = path;
        loop {
            if let Some(o) = self.0.get(p) {
                return Some(o.clone());
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// Takes every entry of `other` (a later file wins).
    pub fn extend(&mut self, other: Lines) {
        self.0.extend(other.0);
    }

    /// Copies the entries under `from` to `to` (a service that `extends` another).
    pub fn alias(&mut self, from: &str, to: &str) {
        let add: Vec<(String, Origin)> = self
            .0
            .iter()
            .filter(|(k, _)| k.starts_with(from))
            .map(|(k, o)| (format!("{to}{}", &k[from.len()..]), o.clone()))
            .collect();
        for (k, o) in add {
            self.0.entry(k).or_insert(o);
        }
    }
}

/// Joins a key to a path.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Parses one compose file. An empty file is an empty mapping.
pub fn parse(file: &Path, text: &str) -> Result<(Value, Lines)> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| Error::Yaml {
        file: file.to_owned(),
        line: e.marker().line(),
        col: e.marker().col() + 1,
        message: e.info().to_owned(),
    })?;
    let mut lines = Lines::default();
    let Some(doc) = docs.into_iter().next() else {
        return Ok((Value::Object(Map::new()), lines));
    };
    let value = convert(file, &doc, "", &mut lines)?;
    match value {
        Value::Null => Ok((Value::Object(Map::new()), lines)),
        Value::Object(_) => Ok((value, lines)),
        _ => Err(Error::Invalid {
            origin: Some(origin(file, &doc)),
            path: String::new(),
            message: "Top-level object must be a mapping".into(),
        }),
    }
}

fn origin(file: &Path, node: &MarkedYaml<'_>) -> Origin {
    Origin {
        file: file.to_owned(),
        line: node.span.start.line(),
    }
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => serde_json::Number::from_f64(f.into_inner())
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

fn key_text(file: &Path, k: &MarkedYaml<'_>, path: &str) -> Result<String> {
    match &k.data {
        YamlData::Value(s) => Ok(match scalar(s) {
            Value::String(s) => s,
            Value::Null => "null".into(),
            other => other.to_string(),
        }),
        _ => Err(Error::Invalid {
            origin: Some(origin(file, k)),
            path: path.to_owned(),
            message: "mapping keys must be strings".into(),
        }),
    }
}

fn convert(file: &Path, node: &MarkedYaml<'_>, path: &str, lines: &mut Lines) -> Result<Value> {
    lines.0.insert(path.to_owned(), origin(file, node));
    match &node.data {
        YamlData::Value(s) => Ok(scalar(s)),
        YamlData::Representation(text, _, _) => Ok(Value::String(text.to_string())),
        YamlData::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| convert(file, n, &format!("{path}[{i}]"), lines))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array),
        YamlData::Mapping(map) => {
            let mut out = Map::new();
            let mut merged = Vec::new();
            for (k, v) in map.iter() {
                let key = key_text(file, k, path)?;
                let child = join(path, &key);
                let value = convert(file, v, &child, lines)?;
                // A key's line is where the key is written, not where its value starts.
                lines.0.insert(child.clone(), origin(file, k));
                if key == "<<" {
                    // YAML merge keys (`<<: *defaults`): keys written here win.
                    merged.push(value);
                } else {
                    out.insert(key, value);
                }
            }
            for m in merged {
                let maps = match m {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                for m in maps {
                    if let Value::Object(m) = m {
                        for (k, v) in m {
                            out.entry(k).or_insert(v);
                        }
                    }
                }
            }
            Ok(Value::Object(out))
        }
        YamlData::Tagged(_, inner) => convert(file, inner, path, lines),
        YamlData::Alias(_) | YamlData::BadValue => Err(Error::Invalid {
            origin: Some(origin(file, node)),
            path: path.to_owned(),
            message: "invalid YAML value".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn values_and_lines() {
        let text =
            "services:\n  web:\n    image: busybox\n    ports:\n      - 80\n      - \"8080:80\"\n";
        let (v, lines) = parse(Path::new("c.yaml"), text).unwrap();
        assert_eq!(v["services"]["web"]["ports"][0], 80);
        assert_eq!(lines.find("services.web.ports[1]").unwrap().line, 6);
        assert_eq!(lines.find("services.web.image").unwrap().line, 3);
        // An unwritten key is placed at its nearest ancestor.
        assert_eq!(lines.find("services.web.nothing").unwrap().line, 2);
    }

    #[test]
    fn merge_keys_and_anchors() {
        let text = "x: &d\n  a: 1\n  b: 2\ny:\n  <<: *d\n  b: 3\n";
        let (v, _) = parse(Path::new("c.yaml"), text).unwrap();
        assert_eq!(v["y"], serde_json::json!({"a": 1, "b": 3}));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = parse(Path::new("c.yaml"), "services:\n  web: [\n").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:"), "{e}");
        let e = parse(Path::new("c.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert!(e.to_string().contains("duplicated key"), "{e}");
        let e = parse(Path::new("c.yaml"), "- 1\n").unwrap_err();
        assert!(e.to_string().contains("must be a mapping"), "{e}");
    }
}
