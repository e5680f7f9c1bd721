//! A subset of Go's text/template over JSON values, for `--format` (docker's `inspect -f`,
//! `ps --format`, `images --format`): `{{.A.B}}`, `{{json .X}}`, `{{len .X}}`,
//! `{{index .X "k"}}`, `{{join .X ","}}`, `{{upper .X}}`, `{{lower .X}}`, `{{println .X}}`,
//! pipes (`{{.X | json}}`), `{{range .X}}…{{else}}…{{end}}`, `{{if .X}}…{{else}}…{{end}}`, and
//! `{{-`/`-}}` whitespace trimming. Values print like Go's `%v` of decoded JSON.

use serde_json::Value;

/// A template error (docker prints "template parsing error: …").
#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Ident(String),
    Str(String),
    Num(i64),
    Pipe,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Expr(Vec<Tok>),
    Range(Vec<Tok>, Vec<Node>, Vec<Node>),
    If(Vec<Tok>, Vec<Node>, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

fn err<T>(m: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(m.into()))
}

fn lex(action: &str) -> Result<Vec<Tok>, TemplateError> {
    let mut toks = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            toks.push(Tok::Pipe);
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(o) => s.push(o),
                        None => return err("unterminated quoted string"),
                    },
                    Some(o) => s.push(o),
                    None => return err("unterminated quoted string"),
                }
            }
            toks.push(Tok::Str(s));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '|' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            if let Some(path) = word.strip_prefix('.') {
                let parts = path.split('.').filter(|p| !p.is_empty()).map(str::to_owned);
                toks.push(Tok::Field(parts.collect()));
            } else if let Ok(n) = word.parse::<i64>() {
                toks.push(Tok::Num(n));
            } else {
                toks.push(Tok::Ident(word));
            }
        }
    }
    Ok(toks)
}

/// Splits the source into text and `{{ }}` actions, applying the trim markers.
fn split(src: &str) -> Result<Vec<(bool, String)>, TemplateError> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_owned();
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .map_or_else(|| err("unclosed action"), Ok)?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end().to_owned();
            action = a;
        }
        let trim_next = action.ends_with('-');
        if trim_next {
            action = &action[..action.len() - 1];
        }
        out.push((false, text));
        out.push((true, action.trim().to_owned()));
        rest = &after[end + 2..];
        if trim_next {
            rest = rest.trim_start();
        }
    }
    out.push((false, rest.to_owned()));
    Ok(out)
}

/// Parses nodes until `{{end}}`/`{{else}}` (returned as the terminator) or the end.
fn parse_nodes(
    items: &mut std::vec::IntoIter<(bool, String)>,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some((is_action, s)) = items.next() {
        if !is_action {
            if !s.is_empty() {
                nodes.push(Node::Text(s));
            }
            continue;
        }
        let toks = lex(&s)?;
        match toks.first() {
            Some(Tok::Ident(w)) if w == "end" || w == "else" => {
                return Ok((nodes, Some(w.clone())))
            }
            Some(Tok::Ident(w)) if w == "range" || w == "if" => {
                let kind = w.clone();
                let cond = toks[1..].to_vec();
                let (body, term) = parse_nodes(items)?;
                let else_body = match term.as_deref() {
                    Some("else") => match parse_nodes(items)? {
                        (b, Some(t)) if t == "end" => b,
                        _ => return err(format!("missing {{{{end}}}} for {kind}")),
                    },
                    Some("end") => Vec::new(),
                    _ => return err(format!("missing {{{{end}}}} for {kind}")),
                };
                nodes.push(if kind == "range" {
                    Node::Range(cond, body, else_body)
                } else {
                    Node::If(cond, body, else_body)
                });
            }
            Some(_) => nodes.push(Node::Expr(toks)),
            None => return err("missing value for command"),
        }
    }
    Ok((nodes, None))
}

impl Template {
    /// Parses `src`.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut items = split(src)?.into_iter();
        match parse_nodes(&mut items)? {
            (nodes, None) => Ok(Template { nodes }),
            (_, Some(t)) => err(format!("unexpected {{{{{t}}}}}")),
        }
    }

    /// Renders against `data`.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        render_nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn render_nodes(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Expr(toks) => out.push_str(&print(&eval(toks, dot)?)),
            Node::If(cond, body, els) => {
                let branch = if truthy(&eval(cond, dot)?) { body } else { els };
                render_nodes(branch, dot, out)?;
            }
            Node::Range(cond, body, els) => {
                let items: Vec<Value> = match eval(cond, dot)? {
                    Value::Array(a) => a,
                    Value::Object(o) => o.into_iter().map(|(_, v)| v).collect(),
                    Value::Null => Vec::new(),
                    other => return err(format!("range can't iterate over {}", print(&other))),
                };
                if items.is_empty() {
                    render_nodes(els, dot, out)?;
                }
                for item in &items {
                    render_nodes(body, item, out)?;
                }
            }
        }
    }
    Ok(())
}

fn field(dot: &Value, path: &[String]) -> Result<Value, TemplateError> {
    let mut v = dot.clone();
    for p in path {
        v = match v {
            Value::Object(mut o) => o.remove(p).unwrap_or(Value::Null),
            Value::Null => Value::Null,
            other => return err(format!("can't evaluate field {p} in {}", print(&other))),
        };
    }
    Ok(v)
}

fn arg(t: &Tok, dot: &Value) -> Result<Value, TemplateError> {
    match t {
        Tok::Field(p) => field(dot, p),
        Tok::Str(s) => Ok(Value::String(s.clone())),
        Tok::Num(n) => Ok(Value::from(*n)),
        Tok::Ident(i) => err(format!("function {i:?} not defined")),
        Tok::Pipe => err("unexpected |"),
    }
}

fn eval(toks: &[Tok], dot: &Value) -> Result<Value, TemplateError> {
    let mut piped: Option<Value> = None;
    for cmd in toks.split(|t| *t == Tok::Pipe) {
        let (name, rest) = match cmd.first() {
            Some(Tok::Ident(f)) => (Some(f.as_str()), &cmd[1..]),
            Some(_) => (None, cmd),
            None => return err("missing command"),
        };
        let mut args = rest
            .iter()
            .map(|t| arg(t, dot))
            .collect::<Result<Vec<_>, _>>()?;
        args.extend(piped.take());
        piped = Some(match name {
            None => match args.as_slice() {
                [v] => v.clone(),
                _ => return err("can't give argument to non-function"),
            },
            Some(f) => call(f, args)?,
        });
    }
    piped.map_or_else(|| err("empty command"), Ok)
}

fn call(f: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
    let one = |args: &[Value]| match args {
        [v] => Ok(v.clone()),
        _ => err(format!("wrong number of args for {f}")),
    };
    Ok(match f {
        "json" => Value::String(serde_json::to_string(&one(&args)?).unwrap_or_default()),
        "len" => match one(&args)? {
            Value::Array(a) => Value::from(a.len()),
            Value::Object(o) => Value::from(o.len()),
            Value::String(s) => Value::from(s.len()),
            other => return err(format!("len of {}", print(&other))),
        },
        "upper" => Value::String(print(&one(&args)?).to_uppercase()),
        "lower" => Value::String(print(&one(&args)?).to_lowercase()),
        "println" => Value::String(args.iter().map(print).collect::<Vec<_>>().join(" ") + "\n"),
        "join" => match args.as_slice() {
            [Value::Array(a), Value::String(sep)] => {
                Value::String(a.iter().map(print).collect::<Vec<_>>().join(sep))
            }
            _ => return err("join needs a list and a separator"),
        },
        "index" => {
            let mut it = args.into_iter();
            let mut v = it.next().unwrap_or(Value::Null);
            for k in it {
                v = match (v, k) {
                    (Value::Object(mut o), Value::String(k)) => o.remove(&k).unwrap_or(Value::Null),
                    (Value::Array(a), Value::Number(n)) => {
                        let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                        a.get(i)
                            .cloned()
                            .ok_or_else(|| TemplateError(format!("index out of range: {i}")))?
                    }
                    _ => return err("can't index item"),
                };
            }
            v
        }
        other => return err(format!("function {other:?} not defined")),
    })
}

/// Go's `%v` of a decoded JSON value.
pub fn print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(print).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", print(&o[*k])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    #[test]
    fn go_template_subset() {
        let v = json!({
            "Name": "/web",
            "State": {"Status": "running", "Pid": 42, "Running": true},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"x": "y"}, "Cmd": null},
        });
        assert_eq!(r("{{.State.Status}} {{.State.Pid}}", &v), "running 42");
        assert_eq!(r("{{json .Config.Labels}}", &v), r#"{"x":"y"}"#);
        assert_eq!(r("{{.Config.Labels | json}}", &v), r#"{"x":"y"}"#);
        assert_eq!(r("{{len .Config.Env}}", &v), "2");
        assert_eq!(r("{{index .Config.Env 1}}", &v), "B=2");
        assert_eq!(r(r#"{{index .Config.Labels "x"}}"#, &v), "y");
        assert_eq!(r("{{range .Config.Env}}[{{.}}]{{end}}", &v), "[A=1][B=2]");
        assert_eq!(r("{{range .Config.Cmd}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}", &v), "up");
        assert_eq!(r(r#"{{join .Config.Env ","}}"#, &v), "A=1,B=2");
        assert_eq!(
            r("{{.Config.Env}} {{.Config.Labels}}", &v),
            "[A=1 B=2] map[x:y]"
        );
        assert_eq!(r("a {{- .Name -}} b", &v), "a/webb");
        assert_eq!(r("{{upper .State.Status}}", &v), "RUNNING");
        assert!(Template::parse("{{range .X}}").is_err());
        assert!(Template::parse("{{.X").is_err());
        assert!(Template::parse("{{nosuch .X}}")
            .unwrap()
            .render(&v)
            .is_err());
    }
}
