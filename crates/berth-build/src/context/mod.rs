//! The build context: the tar stream the client sends (plain, gzip or zstd), spooled to disk
//! by [`spool`] with caps on its size and entry count, and indexed in memory as a map of cleaned
//! paths with `.dockerignore` applied. File bytes stay on disk; content hashes of files are
//! computed once, on first use by a COPY/ADD cache key, by streaming the file.

mod spool;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_image::digest::{Algorithm, Digester};

use crate::error::BuildError;
use crate::ignore::{clean, IgnoreRules};

pub use spool::{decompress, ContextLimits, SPOOL_PREFIX};

/// The largest Dockerfile or `.dockerignore` read into memory: both are parsed whole, so a
/// multi-gigabyte one must not be.
pub const MAX_TEXT_FILE: u64 = 16 << 20;

/// Where a context file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileData {
    /// In memory (a bare Dockerfile sent as the body, tests).
    Memory(Vec<u8>),
    /// A file of the context's spool directory (owned by the [`Context`]).
    Spooled {
        /// The spool file.
        path: PathBuf,
        /// Its length.
        size: u64,
    },
}

impl From<Vec<u8>> for FileData {
    fn from(b: Vec<u8>) -> FileData {
        FileData::Memory(b)
    }
}

impl FileData {
    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            FileData::Memory(b) => b.len() as u64,
            FileData::Spooled { size, .. } => *size,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A reader over the bytes.
    pub fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(match self {
            FileData::Memory(b) => Box::new(&b[..]),
            FileData::Spooled { path, .. } => Box::new(std::fs::File::open(path)?),
        })
    }
}

/// What a context entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file with its bytes.
    File(FileData),
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
    pub fn hash(&self) -> Result<&str, BuildError> {
        if let Some(h) = self.hash.get() {
            return Ok(h);
        }
        let mut d = Digester::new(Algorithm::Sha256);
        d.update(format!("{:o}:", self.mode).as_bytes());
        match &self.kind {
            EntryKind::File(f) => {
                d.update(b"f:");
                let what = "hashing a build context file";
                let mut r = f.open().map_err(BuildError::io(what))?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = r.read(&mut buf).map_err(BuildError::io(what))?;
                    if n == 0 {
                        break;
                    }
                    d.update(&buf[..n]);
                }
            }
            EntryKind::Dir => d.update(b"d:"),
            EntryKind::Symlink(t) => {
                d.update(b"l:");
                d.update(t.as_bytes());
            }
        }
        let hex = d.finish().hex().to_owned();
        Ok(self.hash.get_or_init(|| hex))
    }
}

/// The whole context.
#[derive(Debug, Default)]
pub struct Context {
    /// Entries by cleaned relative path (`a/b.txt`); the root itself is not listed.
    pub entries: BTreeMap<String, Entry>,
    /// The spool directory holding the files' bytes, removed when the context is dropped.
    spool: Option<tempfile::TempDir>,
    /// The caps the context was read with; `ADD` of a local archive keeps to them too.
    pub limits: ContextLimits,
    /// The Dockerfile (path, text) when `.dockerignore` excludes it: the builder reads it,
    /// COPY and ADD do not see it.
    hidden_dockerfile: Option<(String, Vec<u8>)>,
}

impl Context {
    /// Reads a context tar into memory (tests and small in-process callers; the daemon uses
    /// [`Context::spool`]).
    pub fn from_tar(mut r: impl Read, dockerfile: &str) -> Result<Context, BuildError> {
        let mut ctx = Context::default();
        spool::read_tar(&mut ctx, &mut r, None, &ContextLimits::default())?;
        ctx.apply_ignore(dockerfile)?;
        Ok(ctx)
    }

    /// Reads the request body of a build: a (compressed) context tar, or a bare Dockerfile.
    /// Files are written to a new directory under `spool_root` (removed when the context is
    /// dropped, or at once on error); at most `limits` bytes and entries are accepted.
    pub fn spool(
        r: impl Read,
        spool_root: &Path,
        dockerfile: &str,
        limits: &ContextLimits,
    ) -> Result<Context, BuildError> {
        let mut ctx = spool::spool(r, spool_root, dockerfile, limits)?;
        ctx.limits = *limits;
        Ok(ctx)
    }

    /// A context holding only a Dockerfile (`docker build - < Dockerfile`).
    pub fn from_dockerfile(text: Vec<u8>) -> Context {
        let mut ctx = Context::default();
        ctx.entries.insert(
            "Dockerfile".into(),
            Entry::new(EntryKind::File(FileData::Memory(text)), 0o644),
        );
        ctx
    }

    /// Drops the entries the context's `.dockerignore` excludes. The Dockerfile is still read
    /// when excluded, but COPY and ADD no longer see it or `.dockerignore` (docker's
    /// `removeDockerfile`: the builder reads its file, then removes both if they match).
    fn apply_ignore(&mut self, dockerfile: &str) -> Result<(), BuildError> {
        let rules = self.ignore_rules()?;
        if rules.is_empty() {
            return Ok(());
        }
        let df = match clean(dockerfile) {
            d if d.is_empty() => "Dockerfile".to_owned(),
            d => d,
        };
        if rules.excluded(&df) {
            if let Some(text) = self.read_text(&df)? {
                self.hidden_dockerfile = Some((df, text));
            }
        }
        self.entries.retain(|p, _| !rules.excluded(p));
        Ok(())
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
    pub fn ignore_rules(&self) -> Result<IgnoreRules, BuildError> {
        Ok(match self.read_text(".dockerignore")? {
            Some(b) => IgnoreRules::parse(&String::from_utf8_lossy(&b)),
            None => IgnoreRules::default(),
        })
    }

    /// A regular file of the context.
    pub fn file(&self, path: &str) -> Option<&FileData> {
        match self.entries.get(&clean(path)).map(|e| &e.kind) {
            Some(EntryKind::File(f)) => Some(f),
            _ => None,
        }
    }

    /// The bytes of a small text file of the context (the Dockerfile, `.dockerignore`): an
    /// error if it is larger than [`MAX_TEXT_FILE`].
    pub fn read_text(&self, path: &str) -> Result<Option<Vec<u8>>, BuildError> {
        if let Some((hidden, text)) = &self.hidden_dockerfile {
            if *hidden == clean(path) {
                return Ok(Some(text.clone()));
            }
        }
        let Some(f) = self.file(path) else {
            return Ok(None);
        };
        if f.len() > MAX_TEXT_FILE {
            return Err(BuildError::Context(format!(
                "{path} is {} bytes, more than the {MAX_TEXT_FILE} bytes allowed",
                f.len()
            )));
        }
        let what = format!("reading {path} from the build context");
        let mut out = Vec::with_capacity(f.len() as usize);
        f.open()
            .and_then(|r| r.take(MAX_TEXT_FILE).read_to_end(&mut out))
            .map_err(BuildError::io(what))?;
        Ok(Some(out))
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
mod tests;
