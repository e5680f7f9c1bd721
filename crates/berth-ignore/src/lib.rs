//! `.dockerignore`: Go `filepath.Match` patterns extended with `**`, `!` exceptions, last match
//! wins, and a pattern that matches a directory excludes everything below it (moby's
//! patternmatcher semantics, which differ from gitignore's).
//!
//! A crate of its own, with no dependencies, so the CLI can filter a build context without
//! linking the builder (and with it the image store, TLS and zstd).

#![warn(missing_docs)]

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: Vec<char>,
    exclusion: bool,
}

/// Cleans a path as Go's `filepath.Clean` does, relative (no leading `/`).
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

impl IgnoreRules {
    /// Parses the file's text: one pattern per line, `#` comments, blank lines skipped.
    pub fn parse(text: &str) -> IgnoreRules {
        let mut rules = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (exclusion, pat) = match t.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (false, t),
            };
            let pat = clean(pat);
            if pat.is_empty() {
                continue;
            }
            rules.push(Rule {
                pattern: pat.chars().collect(),
                exclusion,
            });
        }
        IgnoreRules { rules }
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether `path` (relative, cleaned) is excluded from the context.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let mut out = false;
        for r in &self.rules {
            if r.exclusion == out && matches_or_parent(&r.pattern, &path) {
                out = !r.exclusion;
            }
        }
        out
    }

    /// Whether a directory can be skipped whole: it is excluded and no exception could
    /// re-include something below it.
    pub fn skip_dir(&self, path: &str) -> bool {
        self.excluded(path) && !self.rules.iter().any(|r| r.exclusion)
    }
}

fn matches_or_parent(pat: &[char], path: &str) -> bool {
    let chars: Vec<char> = path.chars().collect();
    if glob(pat, &chars) {
        return true;
    }
    // A pattern that matches a parent directory excludes the path too.
    let mut idx = chars.len();
    while let Some(pos) = chars[..idx].iter().rposition(|&c| c == '/') {
        if glob(pat, &chars[..pos]) {
            return true;
        }
        idx = pos;
    }
    false
}

/// Go `filepath.Match` with `**` (any number of path segments).
pub fn glob(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            let rest = &p[2..];
            if let Some(after) = rest.strip_prefix(&['/']) {
                // `**/x`: zero or more leading directories.
                if glob(after, s) {
                    return true;
                }
            }
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        Some('*') => {
            let rest = &p[1..];
            let mut i = 0;
            loop {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if i >= s.len() || s[i] == '/' {
                    return false;
                }
                i += 1;
            }
        }
        Some('?') => matches!(s.first(), Some(&c) if c != '/') && glob(&p[1..], &s[1..]),
        Some('[') => match (s.first(), class(&p[1..])) {
            (Some(&c), Some((set, negated, used))) if c != '/' => {
                set.iter().any(|&(lo, hi)| lo <= c && c <= hi) != negated
                    && glob(&p[1 + used..], &s[1..])
            }
            _ => false,
        },
        Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob(&p[1..], &s[1..]),
    }
}

type Ranges = Vec<(char, char)>;

/// A `[...]` class after its `[`: ranges, negation, chars consumed (through `]`).
fn class(p: &[char]) -> Option<(Ranges, bool, usize)> {
    let mut i = 0;
    let negated = p.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut set = Vec::new();
    let mut first = true;
    while i < p.len() {
        let mut c = p[i];
        if c == ']' && !first {
            return Some((set, negated, i + 1));
        }
        first = false;
        if c == '\\' {
            i += 1;
            c = *p.get(i)?;
        }
        let mut hi = c;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&x| x != ']') {
            hi = p[i + 2];
            i += 2;
        }
        set.push((c, hi));
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_semantics() {
        let r = IgnoreRules::parse(
            "# comment\n*.log\n!keep.log\nbuild\n**/*.tmp\n/secret/*\n!secret/ok\ndocs/**/x?.md\n",
        );
        assert!(r.excluded("a.log"));
        assert!(!r.excluded("keep.log"));
        assert!(!r.excluded("sub/a.log"), "* does not cross /");
        assert!(r.excluded("build"));
        assert!(
            r.excluded("build/out/bin"),
            "parent match excludes children"
        );
        assert!(r.excluded("x.tmp") && r.excluded("a/b/c.tmp"));
        assert!(r.excluded("secret/key"));
        assert!(!r.excluded("secret/ok"));
        assert!(r.excluded("docs/xa.md") && r.excluded("docs/a/b/xb.md"));
        assert!(!r.excluded("docs/xab.md"));
        assert!(!r.excluded("src/main.rs"));
    }

    #[test]
    fn classes_and_escapes() {
        let g = |p: &str, s: &str| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &s.chars().collect::<Vec<_>>(),
            )
        };
        assert!(g("[a-c]x", "bx") && !g("[^a-c]x", "bx") && g("\\*", "*") && !g("\\*", "a"));
    }
}
