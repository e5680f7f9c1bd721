//! The Dockerfile parser: parser directives, comments, line continuations, flags, exec (JSON)
//! and shell forms, and heredocs. It knows the syntax, not the meaning: expansion of variables
//! and the checks of each instruction's arguments happen when the instruction is built.

use crate::error::BuildError;

/// Every instruction the builder knows (upper case).
pub const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// Instructions whose leading `--name=value` words are flags.
const TAKES_FLAGS: &[&str] = &["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"];
/// Instructions that may carry heredocs.
const TAKES_HEREDOCS: &[&str] = &["RUN", "COPY", "ADD"];

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    /// The escape character (`# escape=` directive; `\` by default).
    pub escape: char,
    /// The instructions in order.
    pub instructions: Vec<Instruction>,
}

/// One instruction, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// 1-based line where it starts.
    pub line: usize,
    /// Upper-case keyword (`RUN`).
    pub keyword: String,
    /// Leading `--name[=value]` flags.
    pub flags: Vec<(String, Option<String>)>,
    /// The arguments.
    pub args: Args,
    /// Heredoc bodies, in the order their markers appear.
    pub heredocs: Vec<Heredoc>,
    /// The logical line after the keyword (flags included), continuations joined (for
    /// messages).
    pub text: String,
}

/// Exec (JSON array) or shell form.
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    /// `["a", "b"]`.
    Exec(Vec<String>),
    /// Everything after the keyword and flags.
    Shell(String),
}

/// A heredoc: `<<EOF` ... `EOF`.
#[derive(Debug, Clone, PartialEq)]
pub struct Heredoc {
    /// The terminator word (also the file name for `COPY <<name`).
    pub name: String,
    /// The body, with a trailing newline per line.
    pub content: String,
    /// False when the marker was quoted (`<<"EOF"`): no variable expansion.
    pub expand: bool,
}

impl Instruction {
    /// The value of flag `--name` (last one wins), `Some("")` for a bare flag.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

fn parse_err(file: &str, line: usize, message: impl Into<String>) -> BuildError {
    BuildError::Parse {
        file: file.to_owned(),
        line,
        message: message.into(),
    }
}

/// Reads the parser directives at the top (`# syntax=`, `# escape=`, `# check=`).
fn directives(lines: &[&str], file: &str) -> Result<(char, usize), BuildError> {
    let mut escape = '\\';
    let mut seen = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let Some(body) = raw.trim().strip_prefix('#') else {
            return Ok((escape, i));
        };
        let Some((k, v)) = body.split_once('=') else {
            return Ok((escape, i));
        };
        let key = k.trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Ok((escape, i));
        }
        if seen.contains(&key) {
            return Err(parse_err(
                file,
                i + 1,
                format!("only one {key} parser directive can be used"),
            ));
        }
        if key == "escape" {
            escape = match v.trim() {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(parse_err(
                        file,
                        i + 1,
                        format!("invalid escape token '{other}' does not match ` or \\"),
                    ))
                }
            };
        }
        seen.push(key);
    }
    Ok((escape, lines.len()))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a trailing escape character (line continuation); returns the rest if it was there.
fn continuation(line: &str, escape: char) -> Option<&str> {
    line.trim_end().strip_suffix(escape)
}

/// Parses Dockerfile text. `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile, BuildError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let (escape, mut i) = directives(&lines, file)?;
    let mut instructions = Vec::new();
    while i < lines.len() {
        let first = lines[i];
        if first.trim().is_empty() || is_comment(first) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut logical = String::new();
        let mut cur = first;
        loop {
            i += 1;
            match continuation(cur, escape) {
                Some(head) => {
                    logical.push_str(head);
                    // Comments and empty lines inside a continuation are dropped.
                    while i < lines.len() && (lines[i].trim().is_empty() || is_comment(lines[i])) {
                        i += 1;
                    }
                    if i >= lines.len() {
                        break;
                    }
                    cur = lines[i];
                }
                None => {
                    logical.push_str(cur);
                    break;
                }
            }
        }
        let (ins, used) = instruction(&logical, start, &lines[i..], file)?;
        i += used;
        instructions.push(ins);
    }
    Ok(Dockerfile {
        escape,
        instructions,
    })
}

/// Splits one logical line into keyword, flags and arguments, and reads its heredoc bodies
/// from `rest` (the lines after it). Returns the instruction and how many lines it consumed.
fn instruction(
    logical: &str,
    line: usize,
    rest: &[&str],
    file: &str,
) -> Result<(Instruction, usize), BuildError> {
    let trimmed = logical.trim();
    let (word, mut after) = match trimmed.find(char::is_whitespace) {
        Some(p) => (&trimmed[..p], trimmed[p..].trim_start()),
        None => (trimmed, ""),
    };
    let keyword = word.to_ascii_uppercase();
    if !KEYWORDS.contains(&keyword.as_str()) {
        return Err(parse_err(
            file,
            line,
            format!("unknown instruction: {word}"),
        ));
    }
    let raw_after = after.to_owned();
    let mut flags = Vec::new();
    if TAKES_FLAGS.contains(&keyword.as_str()) {
        while let Some(f) = after.strip_prefix("--") {
            let end = f.find(char::is_whitespace).unwrap_or(f.len());
            let token = &f[..end];
            if token.is_empty() {
                break;
            }
            match token.split_once('=') {
                Some((n, v)) => flags.push((n.to_owned(), Some(unquote(v)))),
                None => flags.push((token.to_owned(), None)),
            }
            after = f[end..].trim_start();
        }
    }
    let mut heredocs = Vec::new();
    let mut used = 0;
    if TAKES_HEREDOCS.contains(&keyword.as_str()) {
        for (name, expand, strip_tabs) in heredoc_markers(after) {
            let mut content = String::new();
            let mut closed = false;
            while used < rest.len() {
                let l = rest[used];
                used += 1;
                let cmp = if strip_tabs {
                    l.trim_start_matches('\t')
                } else {
                    l
                };
                if cmp == name {
                    closed = true;
                    break;
                }
                content.push_str(cmp);
                content.push('\n');
            }
            if !closed {
                return Err(parse_err(
                    file,
                    line,
                    format!("unterminated heredoc: no line {name:?} after <<{name}"),
                ));
            }
            heredocs.push(Heredoc {
                name,
                content,
                expand,
            });
        }
    }
    let args = match json_array(after) {
        Some(v) => Args::Exec(v),
        None => Args::Shell(after.to_owned()),
    };
    Ok((
        Instruction {
            line,
            keyword,
            flags,
            args,
            heredocs,
            text: raw_after,
        },
        used,
    ))
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_owned()
    } else {
        v.to_owned()
    }
}

/// The exec form: a JSON array of strings, else None (then it is shell form, as docker does).
fn json_array(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` markers in a line: (name, expand, strip tabs).
pub(crate) fn heredoc_markers(s: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i + 1 < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == b'\'' || c == b'"' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == b'<' && b[i + 1] == b'<' && b.get(i + 2) != Some(&b'<') {
            let mut j = i + 2;
            let strip = b.get(j) == Some(&b'-');
            if strip {
                j += 1;
            }
            let q = match b.get(j) {
                Some(&c @ (b'"' | b'\'')) => {
                    j += 1;
                    Some(c)
                }
                _ => None,
            };
            let start = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.') {
                j += 1;
            }
            if j > start && !b[start].is_ascii_digit() {
                let name = s[start..j].to_owned();
                if let Some(q) = q {
                    if b.get(j) == Some(&q) {
                        j += 1;
                    }
                }
                out.push((name, q.is_none(), strip));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Dockerfile {
        match parse(s, "Dockerfile") {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn forms_flags_and_continuations() {
        let d = p("# syntax=docker/dockerfile:1\n# a comment\nFROM --platform=linux/amd64 busybox AS b\n\nRUN echo a \\\n  # inside\n  && echo b\nCMD [\"sh\", \"-c\", \"x\"]\ncopy --from=b --chown=1:2 /a /b\n");
        assert_eq!(d.escape, '\\');
        let i = &d.instructions;
        assert_eq!(i.len(), 4);
        assert_eq!(i[0].keyword, "FROM");
        assert_eq!(i[0].flag("platform"), Some("linux/amd64"));
        assert_eq!(i[0].args, Args::Shell("busybox AS b".into()));
        assert_eq!(i[1].line, 5);
        assert_eq!(i[1].args, Args::Shell("echo a   && echo b".into()));
        assert_eq!(
            i[2].args,
            Args::Exec(vec!["sh".into(), "-c".into(), "x".into()])
        );
        assert_eq!(i[3].keyword, "COPY");
        assert_eq!(i[3].line, 9);
        assert_eq!(i[3].flag("chown"), Some("1:2"));
    }

    #[test]
    fn escape_directive() {
        let d = p("# escape=`\nFROM x\nRUN a `\n b\n");
        assert_eq!(d.escape, '`');
        assert_eq!(d.instructions[1].args, Args::Shell("a  b".into()));
    }

    #[test]
    fn heredocs() {
        let d = p("FROM x\nRUN <<EOF\necho hi\necho $A\nEOF\nCOPY <<-\"a.txt\" <<b /dst/\n\tx\n\ta.txt\ny\nb\nUSER 1\n");
        let i = &d.instructions;
        assert_eq!(i.len(), 4);
        assert_eq!(i[1].heredocs[0].content, "echo hi\necho $A\n");
        assert!(i[1].heredocs[0].expand);
        assert_eq!(i[2].heredocs.len(), 2);
        assert_eq!(i[2].heredocs[0].name, "a.txt");
        assert_eq!(i[2].heredocs[0].content, "x\n");
        assert!(!i[2].heredocs[0].expand);
        assert_eq!(i[2].heredocs[1].content, "y\n");
        assert_eq!(i[3].keyword, "USER");
        assert_eq!(i[3].line, 11);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("FROM x\n\nFOO bar\n", "Dockerfile.dev").err();
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("line 3") && msg.contains("Dockerfile.dev"),
            "{msg}"
        );
        assert!(msg.contains("unknown instruction: FOO"), "{msg}");
        let e = parse("FROM x\nRUN <<EOF\nno end\n", "D").err();
        assert!(e.is_some_and(|e| e.to_string().contains("line 2")));
    }

    #[test]
    fn heredoc_markers_skip_quotes_and_shifts() {
        assert!(heredoc_markers("echo '<<EOF'").is_empty());
        assert!(heredoc_markers("echo $((1<<2))").is_empty());
        assert_eq!(heredoc_markers("cat <<'X'").len(), 1);
    }
}
