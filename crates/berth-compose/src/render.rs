//! `config` output: the canonical project as YAML (docker compose's `config`).

use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};
use serde_json::Value;

use crate::model::Project;

fn to_yaml(v: &Value) -> Yaml<'static> {
    match v {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::FloatingPoint(n.as_f64().unwrap_or(0.0).into())),
        },
        Value::String(s) => Yaml::Value(Scalar::String(s.clone().into())),
        Value::Array(a) => Yaml::Sequence(a.iter().map(to_yaml).collect()),
        Value::Object(m) => {
            let mut out = Mapping::new();
            for (k, v) in m {
                out.insert(Yaml::Value(Scalar::String(k.clone().into())), to_yaml(v));
            }
            Yaml::Mapping(out)
        }
    }
}

/// The project as YAML text.
pub fn yaml(p: &Project) -> String {
    let value = serde_json::to_value(p).unwrap_or(Value::Null);
    let doc = to_yaml(&value);
    let mut out = String::new();
    let mut em = YamlEmitter::new(&mut out);
    if em.dump(&doc).is_err() {
        return String::new();
    }
    // The emitter starts with a document marker; docker compose prints none.
    let text = out.strip_prefix("---\n").unwrap_or(&out).to_owned();
    text + "\n"
}
