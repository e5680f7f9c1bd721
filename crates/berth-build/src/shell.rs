//! Variable substitution and word splitting as the Dockerfile applies them to instruction
//! arguments (not to shell-form RUN/CMD, which the shell expands): `$VAR`, `${VAR}`,
//! `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, single and
//! double quotes, and the escape character.

/// Looks a variable up (build args and ENV in scope).
pub trait Vars {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

impl Vars for std::collections::BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::BTreeMap::get(self, name).cloned()
    }
}

/// A substitution error (`${VAR:?message}`, bad syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellError(pub String);

/// Expands `s` as one word: quotes removed, variables substituted.
pub fn expand(s: &str, vars: &dyn Vars, escape: char) -> Result<String, ShellError> {
    Ok(process(s, vars, escape, false)?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// Expands `s` and splits it into words at unquoted whitespace.
pub fn words(s: &str, vars: &dyn Vars, escape: char) -> Result<Vec<String>, ShellError> {
    process(s, vars, escape, true)
}

fn process(s: &str, vars: &dyn Vars, escape: char, split: bool) -> Result<Vec<String>, ShellError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut i = 0;
    let mut dq = false;
    while i < chars.len() {
        let c = chars[i];
        if c == escape && !dq {
            if let Some(&n) = chars.get(i + 1) {
                word.push(n);
                started = true;
                i += 2;
            } else {
                word.push(c);
                i += 1;
            }
            continue;
        }
        if c == escape && dq {
            match chars.get(i + 1) {
                Some(&n) if n == '"' || n == '$' || n == escape => {
                    word.push(n);
                    i += 2;
                }
                _ => {
                    word.push(c);
                    i += 1;
                }
            }
            continue;
        }
        match c {
            '\'' if !dq => {
                started = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(ShellError(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    ));
                }
                i += 1;
            }
            '"' => {
                dq = !dq;
                started = true;
                i += 1;
            }
            '$' => {
                let (val, used) = variable(&chars[i..], vars, escape)?;
                word.push_str(&val);
                started = true;
                i += used;
            }
            c if split && !dq && c.is_whitespace() => {
                if started || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
                i += 1;
            }
            c => {
                word.push(c);
                i += 1;
            }
        }
    }
    if dq {
        return Err(ShellError(
            "unexpected end of statement while looking for matching double-quote".into(),
        ));
    }
    if started || !word.is_empty() || !split {
        out.push(word);
    }
    Ok(out)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads a `$...` reference at the start of `c`; returns its value and the chars consumed.
fn variable(c: &[char], vars: &dyn Vars, escape: char) -> Result<(String, usize), ShellError> {
    match c.get(1) {
        Some('{') => {
            let mut depth = 1;
            let mut j = 2;
            while j < c.len() {
                match c[j] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= c.len() {
                return Err(ShellError("missing '}' in variable substitution".into()));
            }
            let inner: String = c[2..j].iter().collect();
            Ok((braced(&inner, vars, escape)?, j + 1))
        }
        Some(&n) if n.is_ascii_alphabetic() || n == '_' => {
            let len = c[1..].iter().take_while(|&&x| is_name_char(x)).count();
            let name: String = c[1..1 + len].iter().collect();
            Ok((vars.get(&name).unwrap_or_default(), 1 + len))
        }
        _ => Ok(("$".into(), 1)),
    }
}

/// `NAME`, `NAME:-word`, `NAME-word`, `NAME:+word`, `NAME+word`, `NAME:?msg`, `NAME?msg`.
fn braced(inner: &str, vars: &dyn Vars, escape: char) -> Result<String, ShellError> {
    let len = inner.chars().take_while(|&x| is_name_char(x)).count();
    let (name, op) = inner.split_at(len);
    if name.is_empty() {
        return Err(ShellError(format!("bad substitution: ${{{inner}}}")));
    }
    let val = vars.get(name);
    let (colon, rest) = match op.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, op),
    };
    let set = match &val {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    let Some(kind) = rest.chars().next() else {
        if colon {
            return Err(ShellError(format!("bad substitution: ${{{inner}}}")));
        }
        return Ok(val.unwrap_or_default());
    };
    let word = &rest[kind.len_utf8()..];
    match kind {
        '-' if set => Ok(val.unwrap_or_default()),
        '-' => expand(word, vars, escape),
        '+' if set => expand(word, vars, escape),
        '+' => Ok(String::new()),
        '?' if set => Ok(val.unwrap_or_default()),
        '?' => Err(ShellError(format!(
            "{name}: {}",
            if word.is_empty() {
                "parameter null or not set"
            } else {
                word
            }
        ))),
        _ => Err(ShellError(format!(
            "unsupported modifier ({kind}) in substitution"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("A", "1"), ("E", ""), ("P", "/usr")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn x(s: &str) -> String {
        expand(s, &vars(), '\\').unwrap_or_else(|e| e.0)
    }

    #[test]
    fn substitutions() {
        assert_eq!(x("$A-${A}x"), "1-1x");
        assert_eq!(x("${B:-def}|${E:-d2}|${E-d3}|${B-$P}"), "def|d2||/usr");
        assert_eq!(x("${A:+yes}|${B:+no}|${E:+no}|${E+set}"), "yes|||set");
        assert_eq!(x("'$A' \"$A\" \\$A $"), "$A 1 $A $");
        assert_eq!(x("${B:?gone}"), "B: gone");
    }

    #[test]
    fn splitting() {
        let w = words("a \"b c\" 'd e' f\\ g $P/bin \"\"", &vars(), '\\').unwrap_or_default();
        assert_eq!(w, vec!["a", "b c", "d e", "f g", "/usr/bin", ""]);
        assert!(words("a \"b", &vars(), '\\').is_err());
    }
}
