//! The house's size rules, checked over every Rust file of the workspace: no file over 600
//! lines and no function over 100 lines (from `fn` to its closing brace). Generated tables
//! and clap `match` dispatchers are the exceptions, listed below with the reason; an entry
//! that no longer needs its exception fails too, so the list only shrinks.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 100;

/// Files allowed to be longer: (path from the workspace root, why).
const LONG_FILES: &[(&str, &str)] = &[(
    "crates/berth-seccomp/src/syscalls/tables.rs",
    "generated syscall number tables",
)];

/// Functions allowed to be longer: (file, function, why).
const LONG_FNS: &[(&str, &str, &str)] = &[(
    "crates/berth/src/commands/mod.rs",
    "dispatch",
    "clap match: one arm per command",
)];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source with comments, strings and character literals blanked (newlines kept), so
/// that the braces left are the code's.
fn code_only(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let end = match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n),
            b'/' if b.get(i + 1) == Some(&b'*') => block_comment_end(b, i),
            b'r' | b'b' if raw_string_start(b, i).is_some() => raw_string_end(b, i),
            b'"' => string_end(b, i),
            b'\'' => char_literal_end(b, i).unwrap_or(i + 1),
            _ => i + 1,
        };
        if end > i + 1 {
            blank(&mut out, i, end);
        }
        i = end.max(i + 1);
    }
    out
}

fn block_comment_end(b: &[u8], start: usize) -> usize {
    let (mut depth, mut j) = (0, start);
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'/', b'*') => (depth, j) = (depth + 1, j + 2),
            (b'*', b'/') => {
                (depth, j) = (depth - 1, j + 2);
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    b.len()
}

/// `r"`, `r#"`, `br#"` … at `i` (not inside an identifier): the number of `#`s.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let j = if b[i] == b'b' { i + 1 } else { i };
    if b.get(j) != Some(&b'r') {
        return None;
    }
    let hashes = b[j + 1..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + 1 + hashes) == Some(&b'"')).then_some(hashes)
}

fn raw_string_end(b: &[u8], i: usize) -> usize {
    let hashes = raw_string_start(b, i).unwrap_or(0);
    let open = i + b[i..].iter().position(|&c| c == b'"').unwrap_or(0) + 1;
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    b[open..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map_or(b.len(), |n| open + n + close.len())
}

fn string_end(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() && b[j] != b'"' {
        j += if b[j] == b'\\' { 2 } else { 1 };
    }
    j + 1
}

/// `'x'`, `'\n'`, `'\u{1F600}'`, `'é'` at `i`; `None` for a lifetime such as `'a`.
fn char_literal_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i + 1) == Some(&b'\\') {
        // The escaped character may itself be a quote (`'\''`): search after it.
        let close = b.get(i + 3..)?.iter().take(10).position(|&c| c == b'\'')?;
        return Some(i + 3 + close + 1);
    }
    let ch = std::str::from_utf8(&b[i + 1..(i + 5).min(b.len())])
        .ok()
        .or_else(|| std::str::from_utf8(&b[i + 1..i + 2]).ok())?
        .chars()
        .next()?;
    let after = i + 1 + ch.len_utf8();
    (b.get(after) == Some(&b'\'')).then_some(after + 1)
}

/// Every `fn NAME … { … }` with a body: (name, first line, length in lines).
fn functions(src: &str) -> Vec<(String, usize, usize)> {
    let code = code_only(src);
    let newlines: Vec<usize> = (0..code.len()).filter(|&i| code[i] == b'\n').collect();
    let line_of = |pos: usize| newlines.partition_point(|&n| n < pos) + 1;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    for pos in 0..code.len().saturating_sub(3) {
        if &code[pos..pos + 3] != b"fn " || (pos > 0 && ident(code[pos - 1])) {
            continue;
        }
        let name: String = code[pos + 3..]
            .iter()
            .take_while(|&&c| ident(c))
            .map(|&c| c as char)
            .collect();
        if name.is_empty() {
            continue;
        }
        if let Some(close) = body_end(&code, pos) {
            out.push((name, line_of(pos), line_of(close) - line_of(pos) + 1));
        }
    }
    out
}

/// Where the body of the `fn` at `pos` closes. The body opens at the first `{` outside the
/// signature's brackets, unless a `;` ends a declaration first.
fn body_end(code: &[u8], pos: usize) -> Option<usize> {
    let mut nesting = 0i32;
    let mut j = pos;
    let open = loop {
        match *code.get(j)? {
            b'(' | b'[' | b'<' => nesting += 1,
            // `->` is not a closing bracket.
            b'>' if j > 0 && code[j - 1] == b'-' => {}
            b')' | b']' | b'>' => nesting -= 1,
            b';' if nesting <= 0 => return None,
            b'{' if nesting <= 0 => break j,
            _ => {}
        }
        j += 1;
    };
    let mut depth = 0;
    for (k, &c) in code.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn relative(p: &Path) -> String {
    let root = workspace().canonicalize().unwrap();
    let p = p.canonicalize().unwrap();
    p.strip_prefix(&root).unwrap().display().to_string()
}

#[test]
fn no_file_over_600_lines() {
    let mut files = Vec::new();
    rust_files(&workspace().join("crates"), &mut files);
    let mut long = Vec::new();
    for f in &files {
        let lines = std::fs::read_to_string(f).unwrap().lines().count();
        let rel = relative(f);
        let exempt = LONG_FILES.iter().any(|(p, _)| *p == rel);
        if lines > MAX_FILE_LINES && !exempt {
            long.push(format!("{rel}: {lines} lines"));
        }
        if exempt && lines <= MAX_FILE_LINES {
            long.push(format!(
                "{rel}: exempt but only {lines} lines: drop the exception"
            ));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_function_over_100_lines() {
    let mut files = Vec::new();
    rust_files(&workspace().join("crates"), &mut files);
    let mut long = Vec::new();
    let mut exempt_seen = Vec::new();
    for f in &files {
        let rel = relative(f);
        for (name, line, len) in functions(&std::fs::read_to_string(f).unwrap()) {
            if len <= MAX_FN_LINES {
                continue;
            }
            if LONG_FNS.iter().any(|(p, n, _)| *p == rel && *n == name) {
                exempt_seen.push((rel.clone(), name));
            } else {
                long.push(format!("{rel}:{line} {name}: {len} lines"));
            }
        }
    }
    for (p, n, _) in LONG_FNS {
        if !exempt_seen.iter().any(|(sp, sn)| sp == p && sn == n) {
            long.push(format!(
                "{p} {n}: exempt but no longer over {MAX_FN_LINES} lines: drop the exception"
            ));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_counter_sees_through_strings_comments_and_lifetimes() {
    let src = r##"
fn short<'a>(x: &'a str) -> &'a str {
    let _ = "}}}{"; // }
    /* { nested /* } */ */
    let _ = r#"{"#;
    let _ = ('{', '\'', b'}', "\"{");
    x
}
fn declared(x: u8) -> u8;
fn generic<T: Fn() -> u8>(f: T) -> u8 where T: Copy {
    f()
}
"##;
    let found = functions(src);
    assert_eq!(
        found,
        [("short".to_owned(), 2, 7), ("generic".to_owned(), 10, 3)]
    );
}
