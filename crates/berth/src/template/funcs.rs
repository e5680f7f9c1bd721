//! The functions of Go's text/template and docker's additions (`json`, `split`, `join`,
//! `title`, `lower`, `upper`, `pad`, `truncate`), and docker's header variants of the latter
//! (a table header renders the column titles through the same template).

use serde_json::Value;

use super::gofmt::{sprint, sprintf};
use super::value::{print, visible, Kind, Val};

const BUILTIN: [&str; 19] = [
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery", "call",
];
const DOCKER: [&str; 8] = [
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

pub(crate) fn defined(name: &str) -> bool {
    BUILTIN.contains(&name) || DOCKER.contains(&name)
}

type R = Result<Val, String>;

fn s(v: Value) -> Val {
    Val::plain(v)
}

fn want(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn string_arg(v: &Val) -> Result<String, String> {
    match &v.v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!(
            "wrong type for value; expected string; got {}",
            v.go_type()
        )),
    }
}

fn int_arg(v: &Val) -> Result<i64, String> {
    match &v.v {
        Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap_or(0)),
        _ => Err(format!(
            "wrong type for value; expected int; got {}",
            v.go_type()
        )),
    }
}

/// Calls `name`; `row` says the data is a list row (docker's formatter contexts marshal
/// themselves with `json.Marshal`, which escapes `<`, `>` and `&`).
pub(crate) fn call(name: &str, args: Vec<Val>, header: bool, row: bool) -> R {
    if header && DOCKER.contains(&name) {
        return header_func(name, args);
    }
    if name == "json" && row && args.first().is_some_and(|a| a.kind == Kind::Struct) {
        let v = docker_func(name, args)?;
        let text = print(&v)
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        return Ok(s(Value::String(text)));
    }
    if DOCKER.contains(&name) {
        return docker_func(name, args);
    }
    match name {
        "not" => {
            want(name, &args, 1)?;
            Ok(s(Value::Bool(!args[0].truth())))
        }
        "len" => {
            want(name, &args, 1)?;
            len(&args[0])
        }
        "index" => index(args),
        "slice" => slice(args),
        "print" => Ok(s(Value::String(sprint(&args)))),
        "println" => {
            let parts: Vec<String> = args.iter().map(print).collect();
            Ok(s(Value::String(parts.join(" ") + "\n")))
        }
        "printf" => match args.split_first() {
            Some((f, rest)) => Ok(s(Value::String(sprintf(&string_arg(f)?, rest)))),
            None => Err("wrong number of args for printf: want at least 1 got 0".into()),
        },
        "eq" => eq(&args).map(|b| s(Value::Bool(b))),
        "ne" => {
            want(name, &args, 2)?;
            eq(&args).map(|b| s(Value::Bool(!b)))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, &args, 2)?;
            compare(name, &args[0], &args[1]).map(|b| s(Value::Bool(b)))
        }
        "html" | "js" | "urlquery" => Ok(s(Value::String(escape(name, &sprint(&args))))),
        _ => Err(format!("{name} is not supported in --format")),
    }
}

fn len(v: &Val) -> R {
    let n = match (&v.v, v.kind) {
        (Value::String(s), _) => s.len(),
        (Value::Array(a), _) => a.len(),
        (Value::Object(o), k) if k != Kind::Struct => o.len(),
        (Value::Null, Kind::NilSlice | Kind::NilMap) => 0,
        _ => return Err(format!("error calling len: len of type {}", v.go_type())),
    };
    Ok(s(Value::from(n)))
}

fn index(args: Vec<Val>) -> R {
    let mut it = args.into_iter();
    let Some(mut item) = it.next() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    for k in it {
        item = match (&item.v, &k.v) {
            (Value::Array(a), Value::Number(n)) => {
                let i = n.as_i64().unwrap_or(-1);
                let e = usize::try_from(i).ok().and_then(|i| a.get(i));
                match e {
                    Some(e) => Val::element(e.clone()),
                    None => return Err(format!("error calling index: index out of range: {i}")),
                }
            }
            (Value::Object(o), Value::String(key)) if item.is_map() => match o.get(key) {
                Some(e) => Val::element(e.clone()),
                None if item.kind == Kind::StrMap => s(Value::String(String::new())),
                None => Val::no_value(),
            },
            (Value::Null, _) if matches!(item.kind, Kind::NilMap) => Val::no_value(),
            (Value::Null, _) => return Err("error calling index: index of untyped nil".into()),
            _ => {
                return Err(format!(
                    "error calling index: cannot index slice/array with type {}",
                    k.go_type()
                ))
            }
        };
    }
    Ok(item)
}

fn slice(args: Vec<Val>) -> R {
    let Some((item, idx)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    let idx: Vec<i64> = idx.iter().map(int_arg).collect::<Result<_, _>>()?;
    let len = match &item.v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        _ => {
            return Err(format!(
                "error calling slice: can't slice item of type {}",
                item.go_type()
            ))
        }
    };
    if idx.len() > 3 || (idx.len() == 3 && item.v.is_string()) {
        return Err("error calling slice: too many slice indexes".into());
    }
    let at = |k: usize, d: usize| {
        idx.get(k)
            .map_or(Ok(d), |&i| usize::try_from(i).map_err(|_| ()))
    };
    let (i, j) = match (at(0, 0), at(1, len)) {
        (Ok(i), Ok(j)) if i <= j && j <= len => (i, j),
        _ => {
            return Err(format!(
                "error calling slice: index out of range: {}",
                idx.iter().map(i64::to_string).collect::<Vec<_>>().join(":")
            ))
        }
    };
    match &item.v {
        Value::String(st) => match st.get(i..j) {
            Some(sub) => Ok(s(Value::String(sub.to_owned()))),
            None => Ok(s(Value::String(
                String::from_utf8_lossy(&st.as_bytes()[i..j]).into_owned(),
            ))),
        },
        Value::Array(a) => Ok(s(Value::Array(a[i..j].to_vec()))),
        _ => Err("error calling slice: can't slice item".into()),
    }
}

/// Go's basic kinds for comparisons.
#[derive(PartialEq)]
enum Basic {
    Bool,
    Int,
    Float,
    Str,
    Nil,
    Other,
}

fn basic(v: &Val) -> Basic {
    match &v.v {
        Value::Bool(_) => Basic::Bool,
        Value::Number(n) if n.is_f64() => Basic::Float,
        Value::Number(_) => Basic::Int,
        Value::String(_) => Basic::Str,
        Value::Null => Basic::Nil,
        _ => Basic::Other,
    }
}

fn eq(args: &[Val]) -> Result<bool, String> {
    let Some((a, rest)) = args.split_first() else {
        return Err("wrong number of args for eq: want at least 1 got 0".into());
    };
    if rest.is_empty() {
        return Err("error calling eq: missing argument for comparison".into());
    }
    for b in rest {
        let (ka, kb) = (basic(a), basic(b));
        if ka == Basic::Other || kb == Basic::Other {
            if a.is_nil() || b.is_nil() {
                if a.is_nil() == b.is_nil() {
                    return Ok(true);
                }
                continue;
            }
            return Err(format!(
                "error calling eq: non-comparable type {}: {}",
                print(a),
                a.go_type()
            ));
        }
        if ka != kb {
            if ka == Basic::Nil || kb == Basic::Nil {
                continue;
            }
            return Err("error calling eq: incompatible types for comparison".into());
        }
        if a.v == b.v {
            return Ok(true);
        }
    }
    Ok(false)
}

fn compare(name: &str, a: &Val, b: &Val) -> Result<bool, String> {
    let (ka, kb) = (basic(a), basic(b));
    if matches!(ka, Basic::Bool | Basic::Nil | Basic::Other)
        || matches!(kb, Basic::Bool | Basic::Nil | Basic::Other)
    {
        return Err(format!("error calling {name}: invalid type for comparison"));
    }
    if ka != kb {
        return Err(format!(
            "error calling {name}: incompatible types for comparison"
        ));
    }
    let ord = match (&a.v, &b.v) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        }
        _ => return Err(format!("error calling {name}: invalid type for comparison")),
    };
    Ok(match name {
        "lt" => ord.is_lt(),
        "le" => ord.is_le(),
        "gt" => ord.is_gt(),
        _ => ord.is_ge(),
    })
}

fn escape(kind: &str, text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match (kind, c) {
            ("html", '<') => out.push_str("&lt;"),
            ("html", '>') => out.push_str("&gt;"),
            ("html", '&') => out.push_str("&amp;"),
            ("html", '"') => out.push_str("&#34;"),
            ("html", '\'') => out.push_str("&#39;"),
            ("js", '\\' | '\'' | '"') => {
                out.push('\\');
                out.push(c);
            }
            ("js", '<' | '>' | '&' | '=') => out.push_str(&format!("\\u{:04X}", c as u32)),
            ("urlquery", c) if c.is_ascii_alphanumeric() || "-_.~".contains(c) => out.push(c),
            ("urlquery", ' ') => out.push('+'),
            ("urlquery", c) => {
                let mut b = [0; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// docker's functions (cli/templates).
fn docker_func(name: &str, args: Vec<Val>) -> R {
    match name {
        "json" => {
            want(name, &args, 1)?;
            let text = if args[0].is_nil() {
                "null".to_owned()
            } else {
                serde_json::to_string(&visible(&args[0].v)).map_err(|e| e.to_string())?
            };
            Ok(s(Value::String(text)))
        }
        "split" => {
            want(name, &args, 2)?;
            let (a, sep) = (string_arg(&args[0])?, string_arg(&args[1])?);
            let parts: Vec<Value> = if sep.is_empty() {
                a.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                a.split(sep.as_str())
                    .map(|p| Value::String(p.to_owned()))
                    .collect()
            };
            Ok(s(Value::Array(parts)))
        }
        "join" => {
            want(name, &args, 2)?;
            let sep = string_arg(&args[1])?;
            match &args[0].v {
                Value::Array(a) => {
                    let parts: Result<Vec<String>, String> = a
                        .iter()
                        .map(|e| string_arg(&Val::plain(e.clone())))
                        .collect();
                    Ok(s(Value::String(parts?.join(&sep))))
                }
                Value::Null => Ok(s(Value::String(String::new()))),
                _ => Err(format!(
                    "wrong type for value; expected []string; got {}",
                    args[0].go_type()
                )),
            }
        }
        "title" => {
            want(name, &args, 1)?;
            Ok(s(Value::String(title(&string_arg(&args[0])?))))
        }
        "lower" | "upper" => {
            want(name, &args, 1)?;
            let a = string_arg(&args[0])?;
            Ok(s(Value::String(if name == "lower" {
                a.to_lowercase()
            } else {
                a.to_uppercase()
            })))
        }
        "pad" => {
            want(name, &args, 3)?;
            let a = string_arg(&args[0])?;
            let (pre, post) = (int_arg(&args[1])?, int_arg(&args[2])?);
            if a.is_empty() {
                return Ok(s(Value::String(a)));
            }
            let sp = |n: i64| " ".repeat(usize::try_from(n).unwrap_or(0));
            Ok(s(Value::String(format!("{}{a}{}", sp(pre), sp(post)))))
        }
        "truncate" => {
            want(name, &args, 2)?;
            let a = string_arg(&args[0])?;
            let n = usize::try_from(int_arg(&args[1])?).unwrap_or(0);
            let cut: String = a.chars().take(n).collect();
            Ok(s(Value::String(cut)))
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// In a table header, docker's functions return their first argument unchanged.
fn header_func(name: &str, args: Vec<Val>) -> R {
    let n = match name {
        "json" | "title" | "lower" | "upper" => 1,
        "pad" => 3,
        _ => 2,
    };
    want(name, &args, n)?;
    let v = string_arg(&args[0])?;
    Ok(s(Value::String(v)))
}

/// `cases.Title(language.Und, cases.NoLower)`: the first letter of each word upper-cased.
fn title(a: &str) -> String {
    let mut out = String::with_capacity(a.len());
    let mut start = true;
    for c in a.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '\'' || c == '_');
    }
    out
}
