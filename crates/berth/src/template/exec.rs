//! Executing a parsed template: Go's text/template semantics over [`Val`]s, with docker's
//! error wording ("executing \"\" at <.X>: …").

use serde_json::Value;

use super::funcs;
use super::parse::{Arg, Branch, Cmd, Node, Pipe};
use super::value::{print, Kind, Val, METHOD_PREFIX};
use super::{Ctx, TemplateError};

enum Flow {
    Normal,
    Break,
    Continue,
}

/// A failure while executing: the message, later placed at its action, and how far into
/// the action's first operand it arose (Go points at the failing field of a chain).
pub(crate) struct ExecError(pub String, pub usize);

type R<T> = Result<T, ExecError>;

pub(crate) fn fail<T>(m: impl Into<String>) -> R<T> {
    Err(ExecError(m.into(), 0))
}

pub(crate) struct State<'a> {
    pub ctx: &'a Ctx,
    src: &'a str,
    vars: Vec<(String, Val)>,
    pub out: String,
}

impl<'a> State<'a> {
    pub(crate) fn new(ctx: &'a Ctx, src: &'a str, root: Val) -> State<'a> {
        State {
            ctx,
            src,
            vars: vec![("$".into(), root)],
            out: String::new(),
        }
    }

    /// Runs the template body against `$`.
    pub(crate) fn run(&mut self, nodes: &[Node]) -> Result<(), TemplateError> {
        let dot = self.vars[0].1.clone();
        self.walk(nodes, &dot).map(|_| ())
    }

    fn locate(&self, p: &Pipe, e: ExecError) -> TemplateError {
        let line_start = self.src[..p.pos.min(self.src.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let col = p.pos.saturating_sub(line_start) + e.1;
        let at = p.cmds.first().map_or_else(String::new, |c| c.to_string());
        TemplateError(format!(
            ":{}:{col}: executing \"\" at <{at}>: {}",
            p.line, e.0
        ))
    }

    fn walk(&mut self, nodes: &[Node], dot: &Val) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let flow = self.walk_inner(nodes, dot);
        self.vars.truncate(mark);
        flow
    }

    fn walk_inner(&mut self, nodes: &[Node], dot: &Val) -> Result<Flow, TemplateError> {
        for n in nodes {
            let flow = match n {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&print(&v));
                    }
                    Flow::Normal
                }
                Node::If(b) | Node::With(b) => {
                    let with = matches!(n, Node::With(_));
                    let mark = self.vars.len();
                    let v = self.pipeline(&b.pipe, dot)?;
                    let flow = if v.truth() {
                        self.walk(&b.list, if with { &v } else { dot })?
                    } else {
                        self.walk(&b.else_list, dot)?
                    };
                    self.vars.truncate(mark);
                    flow
                }
                Node::Range(b) => self.range(b, dot)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, b: &Branch, dot: &Val) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let mut decl = b.pipe.clone();
        let names = std::mem::take(&mut decl.decl);
        let v = self.pipeline(&decl, dot)?;
        let items: Vec<(Val, Val)> = match (&v.v, v.kind) {
            (Value::Array(a), _) => a
                .iter()
                .enumerate()
                .map(|(i, e)| (Val::plain(Value::from(i)), Val::element(e.clone())))
                .collect(),
            (Value::Object(o), k) if k != Kind::Struct => o
                .iter()
                .filter(|(k, _)| !k.starts_with(METHOD_PREFIX))
                .map(|(k, e)| {
                    (
                        Val::plain(Value::String(k.clone())),
                        Val::element(e.clone()),
                    )
                })
                .collect(),
            (Value::Number(n), _) if n.is_i64() => (0..n.as_i64().unwrap_or(0))
                .map(|i| (Val::plain(Value::from(i)), Val::plain(Value::from(i))))
                .collect(),
            (Value::Null, _) => Vec::new(),
            _ => {
                let e = ExecError(format!("range can't iterate over {}", print(&v)), 0);
                return Err(self.locate(&b.pipe, e));
            }
        };
        if items.is_empty() {
            let f = self.walk(&b.else_list, dot);
            self.vars.truncate(mark);
            return f;
        }
        for (k, e) in items {
            match names.as_slice() {
                [v] => self.set_or_push(v, e.clone(), b.pipe.assign),
                [i, v] => {
                    self.set_or_push(i, k, b.pipe.assign);
                    self.set_or_push(v, e.clone(), b.pipe.assign);
                }
                _ => {}
            }
            let f = self.walk(&b.list, &e)?;
            if !b.pipe.assign {
                self.vars.truncate(mark);
            }
            if matches!(f, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set_or_push(&mut self, name: &str, v: Val, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
            }
        } else {
            self.vars.push((name.to_owned(), v));
        }
    }

    pub(crate) fn pipeline(&mut self, p: &Pipe, dot: &Val) -> Result<Val, TemplateError> {
        let v = self.pipe_value(p, dot).map_err(|e| self.locate(p, e))?;
        for n in &p.decl {
            self.set_or_push(n, v.clone(), p.assign);
        }
        Ok(v)
    }

    fn pipe_value(&mut self, p: &Pipe, dot: &Val) -> R<Val> {
        let mut last: Option<Val> = None;
        for c in &p.cmds {
            last = Some(self.command(c, dot, last)?);
        }
        last.map_or_else(|| fail("missing command"), Ok)
    }

    fn command(&mut self, c: &Cmd, dot: &Val, fin: Option<Val>) -> R<Val> {
        let Some(first) = c.args.first() else {
            return fail("empty command");
        };
        let rest = &c.args[1..];
        match first {
            Arg::Func(name) => self.call(name, rest, dot, fin),
            Arg::Field(chain) => self.chain(dot.clone(), chain, rest, dot, fin),
            Arg::Var(v, chain) => {
                let base = self.var(v)?;
                self.chain(base, chain, rest, dot, fin)
            }
            Arg::Sub(p, chain) if !chain.is_empty() => {
                let base = self.pipe_value(p, dot)?;
                self.chain(base, chain, rest, dot, fin)
            }
            other => {
                if !rest.is_empty() || fin.is_some() {
                    return fail(format!("can't give argument to non-function {other}"));
                }
                self.arg(other, dot)
            }
        }
    }

    fn var(&self, name: &str) -> R<Val> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => fail(format!("undefined variable: {name}")),
        }
    }

    pub(crate) fn arg(&mut self, a: &Arg, dot: &Val) -> R<Val> {
        match a {
            Arg::Dot => Ok(dot.clone()),
            Arg::Field(chain) => self.chain(dot.clone(), chain, &[], dot, None),
            Arg::Var(v, chain) => {
                let base = self.var(v)?;
                self.chain(base, chain, &[], dot, None)
            }
            Arg::Sub(p, chain) => {
                let base = self.pipe_value(p, dot)?;
                self.chain(base, chain, &[], dot, None)
            }
            Arg::Func(f) => self.call(f, &[], dot, None),
            Arg::Str(s) => Ok(Val::plain(Value::String(s.clone()))),
            Arg::Int(n) => Ok(Val::plain(Value::from(*n))),
            Arg::Float(f) => Ok(Val::plain(Value::from(*f))),
            Arg::Bool(b) => Ok(Val::plain(Value::Bool(*b))),
            Arg::Nil => Ok(Val::no_value()),
        }
    }

    /// `.A.B.C` from `base`; the last name gets `args` (a method such as `.Label "k"`).
    fn chain(
        &mut self,
        base: Val,
        chain: &[String],
        args: &[Arg],
        dot: &Val,
        fin: Option<Val>,
    ) -> R<Val> {
        let mut v = base;
        let mut parent: Option<&str> = None;
        for (i, name) in chain.iter().enumerate() {
            let last = i + 1 == chain.len();
            let mut call_args = Vec::new();
            if last {
                for a in args {
                    call_args.push(self.arg(a, dot)?);
                }
                call_args.extend(fin.clone());
            }
            let called = last && (!args.is_empty() || fin.is_some());
            v = self
                .field(v, name, parent, &call_args, called)
                .map_err(|e| {
                    let before: usize = chain[..i].iter().map(|n| n.len() + 1).sum();
                    ExecError(e.0, before)
                })?;
            parent = Some(name);
        }
        if chain.is_empty() && (!args.is_empty() || fin.is_some()) {
            return fail("can't give argument to non-function");
        }
        Ok(v)
    }

    fn field(
        &self,
        recv: Val,
        name: &str,
        parent: Option<&str>,
        args: &[Val],
        called: bool,
    ) -> R<Val> {
        if let Value::Object(o) = &recv.v {
            if let (
                true,
                "Label",
                [Val {
                    v: Value::String(k),
                    ..
                }],
            ) = (self.ctx.header, name, args)
            {
                return Ok(Val::plain(Value::String(label_header(k))));
            }
            if let Some(Value::Object(m)) = o.get(&format!("{METHOD_PREFIX}{name}")) {
                return match args {
                    [Val {
                        v: Value::String(k),
                        ..
                    }] => Ok(Val::plain(
                        m.get(k)
                            .cloned()
                            .unwrap_or_else(|| Value::String(String::new())),
                    )),
                    _ => fail(format!(
                        "wrong number of args for {name}: want 1 got {}",
                        args.len()
                    )),
                };
            }
            if called {
                return fail(format!("{name} is not a method but has arguments"));
            }
            return match (o.get(name), recv.kind) {
                (Some(v), Kind::Struct) => Ok(Val::field_of_struct(v.clone(), name, parent)),
                (Some(v), _) => Ok(Val::element(v.clone())),
                (None, Kind::Struct) if self.ctx.type_name.is_empty() => {
                    fail(format!("map has no entry for key {name:?}"))
                }
                (None, Kind::Struct) => fail(format!(
                    "can't evaluate field {name} in type {}",
                    self.ctx.type_name
                )),
                (None, _) => Ok(Val::no_value()),
            };
        }
        match recv.kind {
            Kind::NoValue | Kind::NilMap => Ok(Val::no_value()),
            Kind::NilPtr => fail(format!(
                "nil pointer evaluating *{parent_t}.{name}",
                parent_t = parent.unwrap_or("struct")
            )),
            // docker's inspect falls back to decoded JSON, where every value is an interface.
            _ if self.ctx.type_name.is_empty() => fail(format!(
                "can't evaluate field {name} in type interface {{}}"
            )),
            _ => fail(format!(
                "can't evaluate field {name} in type {}",
                recv.go_type()
            )),
        }
    }

    fn call(&mut self, name: &str, args: &[Arg], dot: &Val, fin: Option<Val>) -> R<Val> {
        // Go's and/or evaluate their arguments only as far as needed.
        if name == "and" || name == "or" {
            if args.is_empty() && fin.is_none() {
                return fail(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let mut last = Val::no_value();
            for a in args {
                last = self.arg(a, dot)?;
                if last.truth() == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(fin.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        vals.extend(fin);
        funcs::call(name, vals, self.ctx.header, !self.ctx.type_name.is_empty())
            .map_err(|m| ExecError(m, 0))
    }
}

/// docker's header for `.Label "com.example.some-key"`: "some key".
fn label_header(key: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    last.replace(['-', '_'], " ")
}
