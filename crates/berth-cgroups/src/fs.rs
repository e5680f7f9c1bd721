//! The one place that touches cgroup files. Every controller goes through [`CgroupDir`], so the
//! unit tests can point it at a temporary directory laid out like `/sys/fs/cgroup`.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Values at or above this are "unlimited" in cgroup v1 memory files (`PAGE_COUNTER_MAX` pages).
const V1_UNLIMITED: u64 = 0x7FFF_FFFF_FFFF_F000;

/// A cgroup directory: reads and writes its interface files with errors naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupDir {
    path: PathBuf,
}

impl CgroupDir {
    /// Wrap a directory path (nothing is checked or created).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CgroupDir { path: path.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of one interface file.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Whether an interface file exists (controllers create theirs only when enabled).
    pub fn has(&self, name: &str) -> bool {
        self.file(name).exists()
    }

    /// Replace the value of an interface file with one `write(2)`; the file must exist.
    pub fn write(&self, name: &str, value: impl AsRef<str>) -> Result<()> {
        self.write_mode(name, value.as_ref(), false)
    }

    /// Write one more line to a list-like file (`devices.allow`, `cgroup.procs`): the kernel
    /// handles each write on its own, a plain file keeps them all, which lets tests see every
    /// line written.
    /// A newline is added (as `echo` would), which the kernel accepts and which keeps lines
    /// apart in a plain file.
    pub fn append(&self, name: &str, value: impl AsRef<str>) -> Result<()> {
        let v = value.as_ref();
        if v.ends_with('\n') {
            self.write_mode(name, v, true)
        } else {
            self.write_mode(name, &format!("{v}\n"), true)
        }
    }

    fn write_mode(&self, name: &str, value: &str, append: bool) -> Result<()> {
        let path = self.file(name);
        tracing::trace!(path = %path.display(), value, "cgroup write");
        let mut opts = OpenOptions::new();
        if append {
            opts.append(true);
        } else {
            opts.write(true).truncate(true);
        }
        let res = opts.open(&path).and_then(|mut f| {
            // One write call: cgroup files parse each write separately.
            let n = f.write(value.as_bytes())?;
            if n != value.len() {
                return Err(std::io::Error::new(ErrorKind::WriteZero, "short write"));
            }
            Ok(())
        });
        res.map_err(|source| Error::Write {
            path,
            value: value.to_string(),
            source,
        })
    }

    /// Read an interface file whole.
    pub fn read(&self, name: &str) -> Result<String> {
        let path = self.file(name);
        std::fs::read_to_string(&path).map_err(|e| Error::io("read", path, e))
    }

    /// Read an interface file, `None` when it does not exist.
    pub fn read_opt(&self, name: &str) -> Result<Option<String>> {
        let path = self.file(name);
        match std::fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Read a file holding one unsigned number.
    pub fn read_u64(&self, name: &str) -> Result<u64> {
        let text = self.read(name)?;
        parse_u64(&self.file(name), text.trim())
    }

    /// Read a single-number file, `None` when the file does not exist.
    pub fn read_u64_opt(&self, name: &str) -> Result<Option<u64>> {
        match self.read_opt(name)? {
            Some(text) => parse_u64(&self.file(name), text.trim()).map(Some),
            None => Ok(None),
        }
    }

    /// Read a limit: `None` for "max" or v1's "unlimited" sentinel, `Some(n)` otherwise; a
    /// missing file also reads as `None`.
    pub fn read_limit(&self, name: &str) -> Result<Option<u64>> {
        match self.read_opt(name)? {
            None => Ok(None),
            Some(text) => parse_limit(&self.file(name), text.trim()),
        }
    }

    /// Read a flat keyed file ("key value" per line) such as `memory.stat`; missing → empty.
    pub fn read_keyed(&self, name: &str) -> Result<BTreeMap<String, u64>> {
        match self.read_opt(name)? {
            None => Ok(BTreeMap::new()),
            Some(text) => Ok(parse_keyed(&text)),
        }
    }

    /// Read `cgroup.procs`: the pids of this cgroup (not of its children).
    pub fn procs(&self) -> Result<Vec<i32>> {
        let name = "cgroup.procs";
        let text = self.read(name)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                l.trim()
                    .parse::<i32>()
                    .map_err(|e| Error::parse(self.file(name), format!("pid {l:?}: {e}")))
            })
            .collect()
    }

    /// The pids of this cgroup and of every cgroup below it.
    pub fn procs_recursive(&self) -> Result<Vec<i32>> {
        let mut out = self.procs()?;
        let entries = match std::fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) => return Err(Error::io("readdir", &self.path, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("readdir", &self.path, e))?;
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                match CgroupDir::new(entry.path()).procs_recursive() {
                    Ok(mut p) => out.append(&mut p),
                    // A child removed while we walk is not an error.
                    Err(e) if e.errno() == Some(libc::ENOENT) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// A child directory.
    pub fn child(&self, name: &str) -> CgroupDir {
        CgroupDir::new(self.path.join(name))
    }
}

/// Create a directory and its missing parents; tolerates a parent appearing or vanishing
/// concurrently (another container's `destroy` removing an empty shared parent).
/// Returns the directories it created, outermost first.
pub(crate) fn mkdir_all(path: &Path) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for _ in 0..5 {
        created.clear();
        let mut missing = Vec::new();
        let mut p = path;
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        let mut retry = false;
        for dir in missing.iter().rev() {
            match std::fs::create_dir(dir) {
                Ok(()) => created.push(dir.clone()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    retry = true;
                    break;
                }
                Err(e) => return Err(Error::io("mkdir", dir, e)),
            }
        }
        if !retry {
            return Ok(created);
        }
    }
    Err(Error::io(
        "mkdir",
        path,
        std::io::Error::from_raw_os_error(libc::ENOENT),
    ))
}

/// Remove a cgroup directory and any cgroups below it, children first. `rmdir` of a cgroup
/// whose last task just exited can fail with `EBUSY` for a moment: retry briefly. A missing
/// directory is success.
pub(crate) fn remove_cgroup(path: &Path) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup(&entry.path())?;
            }
        }
    }
    let mut delay = std::time::Duration::from_millis(1);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && waited < std::time::Duration::from_secs(2) =>
            {
                std::thread::sleep(delay);
                waited += delay;
                delay = (delay * 2).min(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(Error::io("rmdir", path, e)),
        }
    }
}

/// Remove a directory only if it is an empty cgroup; every failure is ignored (used for the
/// shared default parent, which another container may be using).
pub(crate) fn remove_if_empty(path: &Path) {
    if let Err(e) = std::fs::remove_dir(path) {
        tracing::trace!(path = %path.display(), error = %e, "parent cgroup kept");
    }
}

/// Parse one unsigned number, naming the file on failure.
pub(crate) fn parse_u64(path: &Path, s: &str) -> Result<u64> {
    s.parse::<u64>()
        .map_err(|e| Error::parse(path, format!("number {s:?}: {e}")))
}

/// Parse a limit value ("max", v1's sentinel, or a number).
pub(crate) fn parse_limit(path: &Path, s: &str) -> Result<Option<u64>> {
    if s == "max" || s == "-1" {
        return Ok(None);
    }
    let n = parse_u64(path, s)?;
    Ok(if n >= V1_UNLIMITED { None } else { Some(n) })
}

/// Parse "key value" lines; lines that do not fit are skipped.
pub(crate) fn parse_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse::<u64>().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// Render an optional signed limit the v2 way: negative → "max".
pub(crate) fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mkdir_all_and_remove() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let leaf = tmp.path().join("a/b/c");
        let created = mkdir_all(&leaf).expect("mkdir");
        assert_eq!(created.len(), 3);
        assert_eq!(created[0], tmp.path().join("a"));
        assert!(mkdir_all(&leaf).expect("again").is_empty());
        remove_cgroup(&tmp.path().join("a")).expect("remove");
        assert!(!tmp.path().join("a").exists());
        remove_cgroup(&tmp.path().join("a")).expect("missing is fine");
    }

    #[test]
    fn limits_parse() {
        let p = Path::new("x");
        assert_eq!(parse_limit(p, "max").ok(), Some(None));
        assert_eq!(parse_limit(p, "9223372036854771712").ok(), Some(None));
        assert_eq!(parse_limit(p, "1048576").ok(), Some(Some(1048576)));
        assert!(parse_limit(p, "bogus").is_err());
    }

    #[test]
    fn keyed_parse() {
        let m = parse_keyed("cache 10\nrss 20\nbroken\nx y\n");
        assert_eq!(m.get("cache"), Some(&10));
        assert_eq!(m.get("rss"), Some(&20));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn write_needs_existing_file_and_append_accumulates() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = CgroupDir::new(tmp.path());
        let err = d
            .write("memory.max", "1")
            .expect_err("missing file must fail");
        assert!(err.to_string().contains("memory.max"), "{err}");
        std::fs::write(d.file("memory.max"), "max\n").expect("seed");
        d.write("memory.max", "4096").expect("write");
        assert_eq!(d.read("memory.max").expect("read"), "4096");
        std::fs::write(d.file("devices.allow"), "").expect("seed");
        d.append("devices.allow", "a\n").expect("append");
        d.append("devices.allow", "b\n").expect("append");
        assert_eq!(d.read("devices.allow").expect("read"), "a\nb\n");
    }
}
