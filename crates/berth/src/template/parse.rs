//! The parser of Go's text/template: pieces from the lexer become a tree of text, actions and
//! `if`/`range`/`with` blocks (with `else`, `else if`, `else with`), `break` and `continue`.
//! As Go does, it checks at parse time that functions exist and variables are declared.

use super::lex::{Piece, Tok, Token};
use super::TemplateError;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Box<Branch>),
    Range(Box<Branch>),
    With(Box<Branch>),
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Vec<Node>,
}

/// A pipeline: optional variable declarations and `|`-separated commands.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub line: usize,
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Sub(Box<Pipe>, Vec<String>),
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chain = |c: &[String]| c.iter().map(|s| format!(".{s}")).collect::<String>();
        match self {
            Arg::Dot => write!(f, "."),
            Arg::Field(c) => write!(f, "{}", chain(c)),
            Arg::Var(v, c) => write!(f, "{v}{}", chain(c)),
            Arg::Func(n) => write!(f, "{n}"),
            Arg::Str(s) => write!(f, "{s:?}"),
            Arg::Int(n) => write!(f, "{n}"),
            Arg::Float(x) => write!(f, "{x}"),
            Arg::Bool(b) => write!(f, "{b}"),
            Arg::Nil => write!(f, "nil"),
            Arg::Sub(p, c) => write!(f, "({p}){}", chain(c)),
        }
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            let op = if self.assign { "=" } else { ":=" };
            write!(f, "{} {op} ", self.decl.join(", "))?;
        }
        let cmds: Vec<String> = self.cmds.iter().map(ToString::to_string).collect();
        write!(f, "{}", cmds.join(" | "))
    }
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let args: Vec<String> = self.args.iter().map(ToString::to_string).collect();
        write!(f, "{}", args.join(" "))
    }
}

/// How a list of nodes ended.
enum End {
    Eof,
    Close,
    /// `{{else}}` or `{{else if …}}` / `{{else with …}}` (the tokens after `else`).
    Else(Vec<Token>, usize, usize),
}

pub(crate) struct Parser {
    pieces: std::vec::IntoIter<Piece>,
    vars: Vec<String>,
    range_depth: usize,
    is_func: fn(&str) -> bool,
}

fn err<T>(line: usize, m: impl std::fmt::Display) -> Result<T, TemplateError> {
    Err(TemplateError(format!(":{line}: {m}")))
}

impl Parser {
    pub(crate) fn new(pieces: Vec<Piece>, is_func: fn(&str) -> bool) -> Parser {
        Parser {
            pieces: pieces.into_iter(),
            vars: vec!["$".to_owned()],
            range_depth: 0,
            is_func,
        }
    }

    /// The whole template.
    pub(crate) fn parse(mut self) -> Result<Vec<Node>, TemplateError> {
        match self.list()? {
            (nodes, End::Eof) => Ok(nodes),
            (_, End::Close) => err(1, "unexpected {{end}}"),
            (_, End::Else(_, _, line)) => err(line, "unexpected {{else}}"),
        }
    }

    fn list(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(p) = self.pieces.next() {
            let (toks, pos, line) = match p {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Piece::Action { toks, pos, line } => (toks, pos, line),
            };
            let keyword = match toks.first().map(|t| &t.tok) {
                Some(Tok::Ident(w)) => w.as_str(),
                _ => "",
            };
            match keyword {
                "end" if toks.len() == 1 => return Ok((nodes, End::Close)),
                "else" => return Ok((nodes, End::Else(toks[1..].to_vec(), pos, line))),
                "if" | "range" | "with" => {
                    let kw = keyword.to_owned();
                    nodes.push(self.control(&kw, &toks[1..], pos, line)?);
                }
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return err(line, format!("{{{{{keyword}}}}} outside {{{{range}}}}"));
                    }
                    if toks.len() > 1 {
                        return err(line, format!("unexpected {:?} in {keyword}", toks[1].tok));
                    }
                    nodes.push(if keyword == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                "define" | "template" | "block" => {
                    return err(line, format!("{keyword} is not supported in --format"))
                }
                _ => nodes.push(Node::Action(self.pipe(&toks, pos, line, "command")?)),
            }
        }
        Ok((nodes, End::Eof))
    }

    /// `if`/`range`/`with`: the pipeline, the body, and the else part up to `{{end}}`.
    fn control(
        &mut self,
        kw: &str,
        toks: &[Token],
        pos: usize,
        line: usize,
    ) -> Result<Node, TemplateError> {
        let scope = self.vars.len();
        let pipe = self.pipe(toks, pos, line, kw)?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let body = self.list();
        if kw == "range" {
            self.range_depth -= 1;
        }
        let (list, end) = body?;
        let else_list = match end {
            End::Close => Vec::new(),
            End::Eof => return err(line, "unexpected EOF"),
            End::Else(rest, epos, eline) => self.else_part(kw, &rest, epos, eline)?,
        };
        self.vars.truncate(scope);
        let b = Box::new(Branch {
            pipe,
            list,
            else_list,
        });
        Ok(match kw {
            "if" => Node::If(b),
            "range" => Node::Range(b),
            _ => Node::With(b),
        })
    }

    /// After `{{else}}`: a plain else list up to `{{end}}`, or a chained `else if`/`else
    /// with` that shares the outer `{{end}}`.
    fn else_part(
        &mut self,
        kw: &str,
        rest: &[Token],
        pos: usize,
        line: usize,
    ) -> Result<Vec<Node>, TemplateError> {
        match rest.first().map(|t| &t.tok) {
            None => match self.list()? {
                (l, End::Close) => Ok(l),
                (_, End::Else(_, _, l)) => {
                    err(l, format!("expected end; found {{{{else}}}} in {kw}"))
                }
                (_, End::Eof) => err(line, "unexpected EOF"),
            },
            Some(Tok::Ident(w)) if kw != "range" && (w == "if" || w == kw) => {
                let w = w.clone();
                Ok(vec![self.control(&w, &rest[1..], pos, line)?])
            }
            Some(t) => err(line, format!("unexpected {t:?} in else")),
        }
    }

    fn pipe(
        &mut self,
        toks: &[Token],
        pos: usize,
        line: usize,
        ctx: &str,
    ) -> Result<Pipe, TemplateError> {
        let mut i = 0;
        let (decl, assign) = self.declarations(toks, &mut i, line, ctx)?;
        let mut cmds = Vec::new();
        let mut cur = Vec::new();
        while i < toks.len() {
            match toks[i].tok {
                Tok::Pipe => {
                    if cur.is_empty() {
                        return err(line, "missing command");
                    }
                    cmds.push(Cmd {
                        args: std::mem::take(&mut cur),
                    });
                    i += 1;
                }
                Tok::RParen => return err(line, "unexpected right paren"),
                _ => cur.push(self.operand(toks, &mut i, line)?),
            }
        }
        if cur.is_empty() {
            return err(
                line,
                if cmds.is_empty() {
                    format!("missing value for {ctx}")
                } else {
                    "missing command".into()
                },
            );
        }
        cmds.push(Cmd { args: cur });
        Ok(Pipe {
            pos,
            line,
            decl,
            assign,
            cmds,
        })
    }

    /// `$x :=`, `$i, $v :=` or `$x =` at the start of a pipeline.
    fn declarations(
        &mut self,
        toks: &[Token],
        i: &mut usize,
        line: usize,
        ctx: &str,
    ) -> Result<(Vec<String>, bool), TemplateError> {
        let var = |k: usize| match toks.get(k).map(|t| &t.tok) {
            Some(Tok::Var(v)) => Some(v.clone()),
            _ => None,
        };
        let (names, op_at) = match (var(0), toks.get(1).map(|t| &t.tok), var(2)) {
            (Some(a), Some(Tok::Comma), Some(b)) if ctx == "range" => (vec![a, b], 3),
            (Some(a), Some(Tok::Declare | Tok::Assign), _) => (vec![a], 1),
            _ => return Ok((Vec::new(), false)),
        };
        let assign = match toks.get(op_at).map(|t| &t.tok) {
            Some(Tok::Declare) => false,
            Some(Tok::Assign) => true,
            _ => return err(line, format!("missing := in {ctx}")),
        };
        for n in &names {
            if assign && !self.vars.contains(n) {
                return err(line, format!("undefined variable {n:?}"));
            }
            if !assign {
                self.vars.push(n.clone());
            }
        }
        *i = op_at + 1;
        Ok((names, assign))
    }

    fn chain(toks: &[Token], i: &mut usize) -> Vec<String> {
        let mut c = Vec::new();
        while let Some(Token {
            tok: Tok::Field(f),
            spaced: false,
        }) = toks.get(*i)
        {
            c.push(f.clone());
            *i += 1;
        }
        c
    }

    fn operand(
        &mut self,
        toks: &[Token],
        i: &mut usize,
        line: usize,
    ) -> Result<Arg, TemplateError> {
        let t = toks[*i].tok.clone();
        *i += 1;
        Ok(match t {
            Tok::Dot => {
                if matches!(
                    toks.get(*i),
                    Some(Token {
                        tok: Tok::Field(_),
                        spaced: false
                    })
                ) {
                    return err(line, "unexpected . after term \".\"");
                }
                Arg::Dot
            }
            Tok::Field(f) => {
                let mut c = vec![f];
                c.extend(Self::chain(toks, i));
                Arg::Field(c)
            }
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return err(line, format!("undefined variable {v:?}"));
                }
                Arg::Var(v, Self::chain(toks, i))
            }
            Tok::Ident(f) => {
                if !(self.is_func)(&f) {
                    return err(line, format!("function {f:?} not defined"));
                }
                Arg::Func(f)
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Int(n) => Arg::Int(n),
            Tok::Float(x) => Arg::Float(x),
            Tok::Bool(b) => Arg::Bool(b),
            Tok::Nil => Arg::Nil,
            Tok::LParen => {
                let start = *i;
                let mut depth = 1;
                while *i < toks.len() {
                    match toks[*i].tok {
                        Tok::LParen => depth += 1,
                        Tok::RParen => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                    *i += 1;
                }
                if depth != 0 {
                    return err(line, "unclosed left paren");
                }
                let inner = self.pipe(&toks[start..*i], 0, line, "parenthesized pipeline")?;
                *i += 1;
                Arg::Sub(Box::new(inner), Self::chain(toks, i))
            }
            other => return err(line, format!("unexpected {other:?} in operand")),
        })
    }
}
