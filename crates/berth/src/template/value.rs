//! Values as Go's text/template sees docker's objects: JSON, plus which objects are Go structs
//! (a missing field is an error) and which are maps (a missing key is `<no value>`), and what
//! a JSON `null` was in Go (a nil slice prints `[]`, a nil map `map[]`, a nil pointer `<nil>`).

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Struct,
    /// A map whose values are strings (a missing key indexes as "").
    StrMap,
    Map,
    Plain,
    /// Go's invalid value: a missing map key, a nil interface.
    NoValue,
    NilSlice,
    NilMap,
    NilPtr,
}

#[derive(Debug, Clone)]
pub(crate) struct Val {
    pub v: Value,
    pub kind: Kind,
}

/// Keys holding a method taking arguments (`.Label "k"` of docker's list contexts): the
/// object under `METHOD_PREFIX + name` maps the argument to the result.
pub const METHOD_PREFIX: &str = "\u{1}";

/// Fields of docker's API types that are Go maps of strings.
const STR_MAPS: [&str; 10] = [
    "Attributes",
    "Labels",
    "Options",
    "Data",
    "DriverOpts",
    "Sysctls",
    "StorageOpt",
    "Tmpfs",
    "Annotations",
    "Status",
];
/// Fields that are Go maps of other things.
const MAPS: [&str; 6] = [
    "Networks",
    "Ports",
    "ExposedPorts",
    "Volumes",
    "Containers",
    "PortBindings",
];
/// Fields that are Go pointers (their `null` prints `<nil>`).
const PTRS: [&str; 8] = [
    "Platform",
    "Health",
    "Healthcheck",
    "IPAMConfig",
    "UsageData",
    "ClusterVolume",
    "Node",
    "Descriptor",
];

impl Val {
    pub fn plain(v: Value) -> Val {
        Val {
            v,
            kind: Kind::Plain,
        }
    }
    pub fn no_value() -> Val {
        Val {
            v: Value::Null,
            kind: Kind::NoValue,
        }
    }
    pub fn root(v: Value, kind: Kind) -> Val {
        Val { v, kind }
    }
    pub fn is_nil(&self) -> bool {
        self.v.is_null()
    }
    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map | Kind::StrMap)
    }

    /// The value of struct field `key` (`parent` is the struct's own field name, for the
    /// one ambiguous name: `LogConfig.Config` is a map, `.Config` a struct).
    pub fn field_of_struct(v: Value, key: &str, parent: Option<&str>) -> Val {
        let str_map = STR_MAPS.contains(&key) || (key == "Config" && parent == Some("LogConfig"));
        let kind = match &v {
            Value::Object(_) if str_map => Kind::StrMap,
            Value::Object(_) if MAPS.contains(&key) => Kind::Map,
            Value::Object(_) => Kind::Struct,
            Value::Null if str_map || MAPS.contains(&key) => Kind::NilMap,
            Value::Null if PTRS.contains(&key) => Kind::NilPtr,
            Value::Null => Kind::NilSlice,
            _ => Kind::Plain,
        };
        Val { v, kind }
    }

    /// A map's value or an array element.
    pub fn element(v: Value) -> Val {
        let kind = match &v {
            Value::Object(_) => Kind::Struct,
            Value::Null => Kind::NilPtr,
            _ => Kind::Plain,
        };
        Val { v, kind }
    }

    /// Go's truth: zero values and empty collections are false, structs always true.
    pub fn truth(&self) -> bool {
        match (&self.v, self.kind) {
            (_, Kind::Struct) => true,
            (Value::Null, _) => false,
            (Value::Bool(b), _) => *b,
            (Value::Number(n), _) => n.as_f64().is_some_and(|f| f != 0.0),
            (Value::String(s), _) => !s.is_empty(),
            (Value::Array(a), _) => !a.is_empty(),
            (Value::Object(o), _) => o.keys().any(|k| !k.starts_with(METHOD_PREFIX)),
        }
    }

    /// The Go type name used in error messages.
    pub fn go_type(&self) -> &'static str {
        match (&self.v, self.kind) {
            (_, Kind::NoValue) => "<nil>",
            (Value::String(_), _) => "string",
            (Value::Bool(_), _) => "bool",
            (Value::Number(n), _) if n.is_f64() => "float64",
            (Value::Number(_), _) => "int",
            (Value::Array(_), _) | (_, Kind::NilSlice) => "[]interface {}",
            (_, Kind::Struct) => "struct",
            _ => "map[string]interface {}",
        }
    }
}

/// `v` without the hidden method keys (for `json` and printing).
pub(crate) fn visible(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !k.starts_with(METHOD_PREFIX))
                .map(|(k, v)| (k.clone(), visible(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(visible).collect()),
        other => other.clone(),
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)` with fmt's exponent rule).
pub(crate) fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    if (-4..21).contains(&exp) {
        let s = format!("{f}");
        return s;
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Go's `%v` of a value.
pub(crate) fn print(val: &Val) -> String {
    match val.kind {
        Kind::NoValue => return "<no value>".into(),
        Kind::NilSlice => return "[]".into(),
        Kind::NilMap => return "map[]".into(),
        Kind::NilPtr => return "<nil>".into(),
        _ => {}
    }
    match &val.v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|e| print(&Val::element(e.clone()))).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let items = o.iter().filter(|(k, _)| !k.starts_with(METHOD_PREFIX));
            if val.kind == Kind::Struct {
                let f: Vec<String> = items
                    .map(|(k, v)| print(&Val::field_of_struct(v.clone(), k, None)))
                    .collect();
                format!("{{{}}}", f.join(" "))
            } else {
                let f: Vec<String> = items
                    .map(|(k, v)| format!("{k}:{}", print(&Val::element(v.clone()))))
                    .collect();
                format!("map[{}]", f.join(" "))
            }
        }
    }
}
