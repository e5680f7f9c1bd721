//! The build context: the tar stream the client sends (plain, gzip or zstd), held in memory as
//! a map of cleaned paths, with `.dockerignore` applied. Content hashes of files are computed
//! once, on first use by a COPY/ADD cache key.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use berth_image::digest::{Algorithm, Digester};

use crate::error::BuildError;
use crate::ignore::{clean, IgnoreRules};

/// What a context entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file with its bytes.
    File(Vec<u8>),
    /// Directory.
    Dir,
    /// Symbolic link to the target.
    Symlink(String),
}

/// One file, directory or link of the context.
#[derive(Debug)]
pub struct Entry {
    /// Kind and content.
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    hash: OnceLock<String>,
}

impl Entry {
    /// A new entry.
    pub fn new(kind: EntryKind, mode: u32) -> Entry {
        Entry {
            kind,
            mode,
            hash: OnceLock::new(),
        }
    }

    /// The content hash of the entry: kind, mode and bytes (never times).
    pub fn hash(&self) -> &str {
        self.hash.get_or_init(|| {
            let mut d = Digester::new(Algorithm::Sha256);
            d.update(format!("{:o}:", self.mode).as_bytes());
            match &self.kind {
                EntryKind::File(b) => {
                    d.update(b"f:");
                    d.update(b);
                }
                EntryKind::Dir => d.update(b"d:"),
                EntryKind::Symlink(t) => {
                    d.update(b"l:");
                    d.update(t.as_bytes());
                }
            }
            d.finish().hex().to_owned()
        })
    }
}

/// The whole context.
#[derive(Debug, Default)]
pub struct Context {
    /// Entries by cleaned relative path (`a/b.txt`); the root itself is not listed.
    pub entries: BTreeMap<String, Entry>,
}

/// Decompresses if the stream starts with a gzip or zstd magic.
pub fn decompress<'a>(mut r: impl Read + 'a) -> Result<(Box<dyn Read + 'a>, Vec<u8>), BuildError> {
    let mut head = vec![0u8; 4];
    let mut n = 0;
    while n < 4 {
        let k = r
            .read(&mut head[n..])
            .map_err(BuildError::io("reading the build context"))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    head.truncate(n);
    let chained = std::io::Cursor::new(head.clone()).chain(r);
    let boxed: Box<dyn Read + 'a> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(chained))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::new(chained).map_err(BuildError::io("reading the build context"))?)
    } else {
        Box::new(chained)
    };
    Ok((boxed, head))
}

impl Context {
    /// Reads a context tar. Entries excluded by the `.dockerignore` inside it are dropped
    /// (the Dockerfile and `.dockerignore` themselves are always kept, as docker does).
    pub fn from_tar(r: impl Read, dockerfile: &str) -> Result<Context, BuildError> {
        let mut ctx = Context::default();
        let mut ar = tar::Archive::new(r);
        let bad = |e: std::io::Error| BuildError::Context(format!("reading the context tar: {e}"));
        for entry in ar.entries().map_err(bad)? {
            let mut e = entry.map_err(bad)?;
            let path = clean(&String::from_utf8_lossy(&e.path_bytes()));
            if path.is_empty() {
                continue;
            }
            let mode = e.header().mode().map_err(bad)? & 0o7777;
            let kind = match e.header().entry_type() {
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => EntryKind::Symlink(
                    e.link_name()
                        .map_err(bad)?
                        .map(|l| l.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                tar::EntryType::Link => {
                    let target = e
                        .link_name()
                        .map_err(bad)?
                        .map(|l| clean(&l.to_string_lossy()))
                        .unwrap_or_default();
                    match ctx.entries.get(&target).map(|t| &t.kind) {
                        Some(EntryKind::File(b)) => EntryKind::File(b.clone()),
                        _ => continue,
                    }
                }
                t if t.is_file() => {
                    let mut data = Vec::with_capacity(e.size() as usize);
                    e.read_to_end(&mut data).map_err(bad)?;
                    EntryKind::File(data)
                }
                _ => continue,
            };
            ctx.add_parents(&path);
            ctx.entries.insert(path, Entry::new(kind, mode));
        }
        let rules = ctx.ignore_rules();
        if !rules.is_empty() {
            let df = clean(dockerfile);
            ctx.entries
                .retain(|p, _| p == ".dockerignore" || *p == df || !rules.excluded(p));
        }
        Ok(ctx)
    }

    /// A context holding only a Dockerfile (`docker build - < Dockerfile`).
    pub fn from_dockerfile(text: Vec<u8>) -> Context {
        let mut ctx = Context::default();
        ctx.entries.insert(
            "Dockerfile".into(),
            Entry::new(EntryKind::File(text), 0o644),
        );
        ctx
    }

    fn add_parents(&mut self, path: &str) {
        let mut idx = 0;
        while let Some(p) = path[idx..].find('/') {
            let parent = &path[..idx + p];
            if !self.entries.contains_key(parent) {
                self.entries
                    .insert(parent.to_owned(), Entry::new(EntryKind::Dir, 0o755));
            }
            idx += p + 1;
        }
    }

    /// The `.dockerignore` rules in the context (empty if none).
    pub fn ignore_rules(&self) -> IgnoreRules {
        match self.entries.get(".dockerignore").map(|e| &e.kind) {
            Some(EntryKind::File(b)) => IgnoreRules::parse(&String::from_utf8_lossy(b)),
            _ => IgnoreRules::default(),
        }
    }

    /// The bytes of a file in the context.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        match self.entries.get(&clean(path)).map(|e| &e.kind) {
            Some(EntryKind::File(b)) => Some(b),
            _ => None,
        }
    }

    /// Whether `path` is a directory of the context (the root is one).
    pub fn is_dir(&self, path: &str) -> bool {
        let p = clean(path);
        p.is_empty() || matches!(self.entries.get(&p).map(|e| &e.kind), Some(EntryKind::Dir))
    }

    /// Entries under directory `dir` (recursive), as (path relative to `dir`, entry).
    pub fn under<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Entry)> + 'a {
        let d = clean(dir);
        let prefix = if d.is_empty() {
            String::new()
        } else {
            format!("{d}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while({
                let prefix = prefix.clone();
                move |(p, _)| p.starts_with(&prefix)
            })
            .map(move |(p, e)| (&p[prefix.len()..], e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, p, *data).unwrap_or_default();
        }
        b.into_inner().unwrap_or_default()
    }

    #[test]
    fn reads_tar_and_applies_dockerignore() {
        let t = tar_of(&[
            ("Dockerfile", b"FROM scratch\n"),
            (".dockerignore", b"*.log\nDockerfile\n"),
            ("./src/a.txt", b"a"),
            ("x.log", b"log"),
        ]);
        let ctx = Context::from_tar(&t[..], "Dockerfile").unwrap_or_default();
        assert!(ctx.file("Dockerfile").is_some());
        assert!(ctx.file("x.log").is_none());
        assert_eq!(ctx.file("src/a.txt"), Some(&b"a"[..]));
        assert!(ctx.is_dir("src"));
        let under: Vec<&str> = ctx.under("src").map(|(p, _)| p).collect();
        assert_eq!(under, vec!["a.txt"]);
    }
}
