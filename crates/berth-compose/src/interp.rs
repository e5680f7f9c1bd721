//! `.env` files and `${VAR}` interpolation as the compose specification defines them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::yaml::join;

/// Variables for interpolation: the process environment over the `.env` file.
pub type Env = BTreeMap<String, String>;

/// Parses a dotenv file: `KEY=VALUE`, `export KEY=VALUE`, `#` comments, single quotes
/// (literal), double quotes (escapes `\n`, `\"`, `\\`), and unquoted values with a trailing
/// ` #comment` removed. A bare `KEY` (no `=`) takes the value from `lookup`, if any.
pub fn parse_env_file(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Env> {
    let mut out = Env::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (line, None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(Error::invalid(
                format!("line {}", i + 1),
                format!("unexpected character in variable name {key:?}"),
            ));
        }
        let value = match value {
            Some(v) => unquote(v),
            None => match lookup(key) {
                Some(v) => v,
                None => continue,
            },
        };
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.rsplit_once('\'')) {
        return inner.0.to_owned();
    }
    if let Some(inner) = v.strip_prefix('"').and_then(|s| s.rsplit_once('"')) {
        let mut out = String::new();
        let mut chars = inner.0.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        }
        return out;
    }
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_owned(),
        None => v.to_owned(),
    }
}

/// Interpolates every string in `v` (not keys), naming the key path in errors.
pub fn interpolate(v: &mut Value, env: &Env, path: &str) -> Result<()> {
    match v {
        Value::String(s) => {
            *s = substitute(s, env).map_err(|m| Error::invalid(path, m))?;
        }
        Value::Array(a) => {
            for (i, item) in a.iter_mut().enumerate() {
                interpolate(item, env, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                interpolate(item, env, &join(path, k))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Substitutes `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`,
/// `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`; `$$` is a literal `$`. Defaults are
/// interpolated themselves (nesting).
pub fn substitute(s: &str, env: &Env) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = closing_brace(r)
                .ok_or_else(|| format!("invalid interpolation format for {s:?}: missing '}}'"))?;
            out.push_str(&braced(&r[..end], env, s)?);
            rest = &r[end + 1..];
        } else {
            let n = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if n == 0 {
                out.push('$');
            } else {
                out.push_str(env.get(&rest[..n]).map(String::as_str).unwrap_or(""));
                rest = &rest[n..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` closing a `${`, counting nested `${ }`.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(expr: &str, env: &Env, whole: &str) -> std::result::Result<String, String> {
    let n = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    let (name, op) = expr.split_at(n);
    if name.is_empty() {
        return Err(format!("invalid interpolation format for {whole:?}"));
    }
    let value = env.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let (colon, op) = match op.strip_prefix(':') {
        Some(o) => (true, o),
        None => (false, op),
    };
    let present = if colon { set_nonempty } else { value.is_some() };
    let arg = op.get(1..).unwrap_or("");
    match op.chars().next() {
        None if !colon => Ok(value.cloned().unwrap_or_default()),
        Some('-') => match present {
            true => Ok(value.cloned().unwrap_or_default()),
            false => substitute(arg, env),
        },
        Some('?') => match present {
            true => Ok(value.cloned().unwrap_or_default()),
            false => {
                let msg = substitute(arg, env)?;
                Err(format!(
                    "required variable {name} is missing a value: {msg}"
                ))
            }
        },
        Some('+') => match present {
            true => substitute(arg, env),
            false => Ok(String::new()),
        },
        _ => Err(format!("invalid interpolation format for {whole:?}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env() -> Env {
        [("A", "1"), ("EMPTY", ""), ("TAG", "1.36")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn forms() {
        let e = env();
        let s = |x: &str| substitute(x, &e);
        assert_eq!(s("busybox:${TAG}").unwrap(), "busybox:1.36");
        assert_eq!(s("$A-$B-x").unwrap(), "1--x");
        assert_eq!(s("${B:-def}").unwrap(), "def");
        assert_eq!(s("${EMPTY:-def}").unwrap(), "def");
        assert_eq!(s("${EMPTY-def}").unwrap(), "");
        assert_eq!(s("${B:-${A}0}").unwrap(), "10");
        assert_eq!(s("${A:+yes}${B:+no}").unwrap(), "yes");
        assert_eq!(s("cost $$5").unwrap(), "cost $5");
        assert_eq!(s("${A:?need A}").unwrap(), "1");
        let err = s("${B:?B must be set}").unwrap_err();
        assert!(err.contains("required variable B is missing a value: B must be set"));
        assert!(s("${A").is_err());
        assert!(s("${:-x}").is_err());
    }

    #[test]
    fn errors_name_the_key_path() {
        let mut v = serde_json::json!({"services": {"web": {"image": "${NOPE:?set it}"}}});
        let e = interpolate(&mut v, &env(), "").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("services.web.image: required variable NOPE"),
            "{e}"
        );
    }

    #[test]
    fn env_files() {
        let text = "# c\nexport A=1\nB='x # y'\nC=\"a\\nb\"\nD=plain # note\nE\nF\n";
        let look = |k: &str| (k == "E").then(|| "from-env".to_owned());
        let e = parse_env_file(text, &look).unwrap();
        assert_eq!(e["A"], "1");
        assert_eq!(e["B"], "x # y");
        assert_eq!(e["C"], "a\nb");
        assert_eq!(e["D"], "plain");
        assert_eq!(e["E"], "from-env");
        assert!(!e.contains_key("F"));
        assert!(parse_env_file("BAD KEY=1", &look).is_err());
    }
}
