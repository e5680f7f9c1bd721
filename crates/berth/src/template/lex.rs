//! The lexer of Go's text/template: the source becomes text runs and actions, each action a
//! list of tokens (with whether a space came before, which decides field chaining: `(x).F`
//! chains, `(x) .F` is a second argument).

use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Field(String),
    Var(String),
    Dot,
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

/// One token and whether whitespace separated it from the previous one.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub spaced: bool,
}

/// A piece of the source: text, or an action's tokens with its byte offset and line.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Text(String),
    Action {
        toks: Vec<Token>,
        pos: usize,
        line: usize,
    },
}

fn err<T>(line: usize, m: impl std::fmt::Display) -> Result<T, TemplateError> {
    Err(TemplateError(format!(":{line}: {m}")))
}

/// Splits `src` into text and actions, applying `{{-`/`-}}` trimming and dropping comments.
pub(crate) fn pieces(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = 0;
    let mut trim_next = false;
    while let Some(rel) = src[rest..].find("{{") {
        let start = rest + rel;
        let mut text = &src[rest..start];
        if trim_next {
            text = text.trim_start();
        }
        let mut inner = start + 2;
        let line = 1 + src[..start].matches('\n').count();
        // A trim marker is "-" followed by a space: "{{-3}}" is the number -3.
        if src[inner..].starts_with("- ")
            || src[inner..].starts_with("-\t")
            || src[inner..].starts_with("-\n")
        {
            text = text.trim_end();
            inner += 1;
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_owned()));
        }
        let (body_end, close_len, trims) = find_close(src, inner, line)?;
        let body = &src[inner..body_end];
        trim_next = trims;
        rest = body_end + close_len;
        let trimmed = body.trim();
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return err(line, "unclosed comment");
            }
            continue;
        }
        let toks = lex_action(body, line)?;
        out.push(Piece::Action {
            toks,
            pos: inner + (body.len() - body.trim_start().len()),
            line,
        });
    }
    let mut text = &src[rest..];
    if trim_next {
        text = text.trim_start();
    }
    if !text.is_empty() {
        out.push(Piece::Text(text.to_owned()));
    }
    Ok(out)
}

/// The end of the action starting at `from`: (end of its body, length of the closing
/// delimiter, whether it trims the following text). Quoted strings may contain "}}".
fn find_close(src: &str, from: usize, line: usize) -> Result<(usize, usize, bool), TemplateError> {
    let b = src.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    let in_comment = src[from..].trim_start().starts_with("/*");
    while i < b.len() {
        let c = b[i];
        if in_comment {
            if src[i..].starts_with("*/") {
                let after = src[i + 2..].trim_start_matches([' ', '\t', '\n', '\r']);
                let skip = src.len() - after.len();
                if after.starts_with("-}}") {
                    return Ok((skip, 3, true));
                }
                if after.starts_with("}}") {
                    return Ok((skip, 2, false));
                }
                return err(line, "comment ends before closing delimiter");
            }
            i += 1;
            continue;
        }
        match quote {
            Some(q) if c == b'\\' && q != b'`' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'`' || c == b'\'' => quote = Some(c),
            None if src[i..].starts_with("}}") => return Ok((i, 2, false)),
            None if src[i..].starts_with(" -}}")
                || src[i..].starts_with("\t-}}")
                || src[i..].starts_with("\n-}}") =>
            {
                return Ok((i, 4, true))
            }
            None => {}
        }
        i += 1;
    }
    if quote.is_some() {
        return err(line, "unterminated quoted string");
    }
    err(line, "unclosed action")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokens of one action body.
fn lex_action(body: &str, line: usize) -> Result<Vec<Token>, TemplateError> {
    let chars: Vec<char> = body.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut spaced = true;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            spaced = true;
            i += 1;
            continue;
        }
        let (tok, next) = lex_one(&chars, i, line)?;
        toks.push(Token { tok, spaced });
        spaced = false;
        i = next;
    }
    Ok(toks)
}

fn lex_one(chars: &[char], i: usize, line: usize) -> Result<(Tok, usize), TemplateError> {
    let c = chars[i];
    let word_end = |from: usize| {
        let mut j = from;
        while j < chars.len() && is_ident(chars[j]) {
            j += 1;
        }
        j
    };
    Ok(match c {
        '|' => (Tok::Pipe, i + 1),
        '(' => (Tok::LParen, i + 1),
        ')' => (Tok::RParen, i + 1),
        ',' => (Tok::Comma, i + 1),
        '=' => (Tok::Assign, i + 1),
        ':' if chars.get(i + 1) == Some(&'=') => (Tok::Declare, i + 2),
        '"' | '`' => lex_string(chars, i, line)?,
        '\'' => lex_char(chars, i, line)?,
        '$' => {
            let j = word_end(i + 1);
            (Tok::Var(chars[i..j].iter().collect()), j)
        }
        '.' if chars
            .get(i + 1)
            .is_some_and(|n| is_ident(*n) && !n.is_ascii_digit()) =>
        {
            let j = word_end(i + 1);
            (Tok::Field(chars[i + 1..j].iter().collect()), j)
        }
        '.' if !chars.get(i + 1).is_some_and(char::is_ascii_digit) => (Tok::Dot, i + 1),
        c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => lex_number(chars, i, line)?,
        c if is_ident(c) => {
            let j = word_end(i);
            let w: String = chars[i..j].iter().collect();
            let tok = match w.as_str() {
                "true" => Tok::Bool(true),
                "false" => Tok::Bool(false),
                "nil" => Tok::Nil,
                _ => Tok::Ident(w),
            };
            (tok, j)
        }
        other => return err(line, format!("unexpected {other:?} in command")),
    })
}

fn lex_string(chars: &[char], i: usize, line: usize) -> Result<(Tok, usize), TemplateError> {
    let q = chars[i];
    let mut s = String::new();
    let mut j = i + 1;
    loop {
        let Some(&c) = chars.get(j) else {
            return err(line, "unterminated quoted string");
        };
        j += 1;
        if c == q {
            return Ok((Tok::Str(s), j));
        }
        if c == '\\' && q == '"' {
            let Some(&e) = chars.get(j) else {
                return err(line, "unterminated quoted string");
            };
            j += 1;
            s.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                '\\' | '"' | '\'' => e,
                other => return err(line, format!("invalid syntax: \\{other}")),
            });
        } else {
            s.push(c);
        }
    }
}

fn lex_char(chars: &[char], i: usize, line: usize) -> Result<(Tok, usize), TemplateError> {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some(&c), Some('\'')) if c != '\\' => Ok((Tok::Int(c as i64), i + 3)),
        _ => err(line, "malformed character constant"),
    }
}

fn lex_number(chars: &[char], i: usize, line: usize) -> Result<(Tok, usize), TemplateError> {
    let mut j = i;
    if matches!(chars[j], '-' | '+') {
        j += 1;
    }
    while j < chars.len()
        && (chars[j].is_ascii_alphanumeric() || chars[j] == '.' || chars[j] == '_')
    {
        j += 1;
    }
    let text: String = chars[i..j].iter().filter(|c| **c != '_').collect();
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.trim_start_matches('+')),
    };
    let parsed = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(h, 16).ok().map(Tok::Int)
    } else if let Some(o) = digits.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok().map(Tok::Int)
    } else if let Ok(n) = digits.parse::<i64>() {
        Some(Tok::Int(n))
    } else {
        digits.parse::<f64>().ok().map(Tok::Float)
    };
    match parsed {
        Some(Tok::Int(n)) => Ok((Tok::Int(if neg { -n } else { n }), j)),
        Some(Tok::Float(f)) => Ok((Tok::Float(if neg { -f } else { f }), j)),
        _ => err(line, format!("bad number syntax: {text:?}")),
    }
}
