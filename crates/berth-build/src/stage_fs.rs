//! A stage's (or image's) filesystem as the build reads it: mounted read-only by the backend
//! and every path resolved inside it through `berth-fs`, the way docker's builder resolves
//! (`FollowSymlinkInScope`): a symlink in a source, a destination, a WORKDIR or the path of
//! `/etc/passwd` is followed inside the stage, never on the host that mounted it.
//!
//! `COPY --from` sources are resolved here too: the path as written (wildcards matched on names,
//! walking only real directories), its symlinks followed inside the stage; a directory's
//! contents are read through fds of that stage, their own symlinks copied as links.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_fs::{kind, list_dir, lstat_at, read_link_at, OFlag, Root};

use crate::backend::{Backend, ImageState, RootView};
use crate::copy::{base_name, has_meta, target, Data, Item, ItemKind};
use crate::error::BackendError;
use crate::ignore::{clean, glob};

/// `/etc/passwd` and `/etc/group` larger than this are refused rather than read into memory.
const DB_LIMIT: u64 = 16 << 20;

/// A path resolved inside a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The resolved path, relative to `/` and cleaned (`""` is the root).
    pub path: String,
    /// Whether something exists there.
    pub exists: bool,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// A mounted stage with a root fd for in-root lookups; unmounted when dropped.
pub(crate) struct StageFs<'b> {
    root: Root,
    // Declared after `root`: the fd is closed before the view is unmounted.
    _view: Box<dyn RootView + 'b>,
}

fn lossy(p: &Path) -> String {
    String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned()
}

impl<'b> StageFs<'b> {
    /// Mounts `state`'s filesystem and opens it as a root.
    pub fn open(backend: &'b dyn Backend, state: &ImageState) -> Result<Self, BackendError> {
        let view = backend.view(state)?;
        let root = Root::open(view.path())
            .map_err(|e| BackendError::Other(format!("opening {}: {e}", view.path().display())))?;
        Ok(StageFs { root, _view: view })
    }

    /// Resolves `path` (absolute or relative to `/`) inside the stage.
    pub fn resolve(&self, path: &str) -> io::Result<Found> {
        let r = self.root.resolve(path)?;
        let is_dir = r.is_dir()?;
        Ok(Found {
            path: clean(&lossy(&r.path)),
            exists: r.fd.is_some(),
            is_dir,
        })
    }

    /// The text of a small file in the stage (`/etc/passwd`), empty if it does not exist.
    pub fn read_text(&self, path: &str) -> io::Result<String> {
        let bytes = match self.root.read(path, DB_LIMIT) {
            Ok(b) => b.unwrap_or_default(),
            // A directory or a path through a file: not there, as docker's lookup sees it.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR | libc::ENOTDIR)) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The stage paths a `COPY --from` source names: itself if it resolves to something, or
    /// the names a wildcard matches (walking real directories only, as deep as the pattern).
    pub fn matches(&self, src: &str) -> io::Result<Vec<String>> {
        let p = clean(src);
        if !has_meta(&p) {
            return match self.resolve(&p) {
                Ok(f) if f.exists => Ok(vec![p]),
                Ok(_) => Ok(Vec::new()),
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
        }
        let depth = p.split('/').count();
        let pat: Vec<char> = p.chars().collect();
        let mut found = Vec::new();
        let mut level = vec![String::new()];
        for _ in 0..depth {
            let mut next = Vec::new();
            for dir in &level {
                let Ok(fd) = self.root.open_dir(format!("/{dir}")) else {
                    continue;
                };
                for name in list_dir(&fd)? {
                    let rel = join(dir, &String::from_utf8_lossy(name.as_bytes()));
                    if glob(&pat, &rel.chars().collect::<Vec<_>>()) {
                        found.push(rel.clone());
                    }
                    if lstat_at(&fd, Some(&name)).is_ok_and(|st| kind(&st) == libc::S_IFDIR) {
                        next.push(rel);
                    }
                }
            }
            level = next;
        }
        found.sort();
        Ok(found)
    }

    /// Items for the `COPY --from` source `src` (a match): its symlinks followed inside the
    /// stage; a directory gives its contents under `dest`, a file goes to `dest` (or into it
    /// when `dest_dir`).
    pub fn items<'s>(
        &'s self,
        src: &str,
        dest: &str,
        dest_dir: bool,
        out: &mut Vec<Item<'s>>,
    ) -> io::Result<()> {
        let found = self.resolve(src)?;
        if !found.exists {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("stat {src}: file does not exist"),
            ));
        }
        if !found.is_dir {
            let st = lstat_at(self.root.open_at(&found.path, OFlag::O_PATH, 0)?, None)?;
            let path = target(dest, dest_dir, base_name(src));
            out.extend(self.item(path, &found.path, &st, None)?);
            return Ok(());
        }
        let droot = clean(dest);
        let mut stack = vec![String::new()];
        while let Some(rel) = stack.pop() {
            let dir_path = join(&found.path, &rel);
            let fd = self.root.open_dir(format!("/{dir_path}"))?;
            for name in list_dir(&fd)? {
                let r = join(&rel, &String::from_utf8_lossy(name.as_bytes()));
                let st = lstat_at(&fd, Some(&name))?;
                let link = (kind(&st) == libc::S_IFLNK)
                    .then(|| read_link_at(&fd, &name))
                    .transpose()?;
                let item_path = clean(&format!("{droot}/{r}"));
                out.extend(self.item(item_path, &join(&found.path, &r), &st, link)?);
                if kind(&st) == libc::S_IFDIR {
                    stack.push(r);
                }
            }
        }
        Ok(())
    }

    /// One item from a stat: directories, regular files (read later through the root) and
    /// symlinks (`link`: their target); other kinds are skipped.
    fn item<'s>(
        &'s self,
        path: String,
        in_stage: &str,
        st: &berth_fs::FileStat,
        link: Option<std::ffi::OsString>,
    ) -> io::Result<Option<Item<'s>>> {
        let mode = st.st_mode & 0o7777;
        let kind = match kind(st) {
            libc::S_IFDIR => ItemKind::Dir,
            libc::S_IFREG => ItemKind::File(Data::InRoot(
                &self.root,
                PathBuf::from(format!("/{in_stage}")),
            )),
            libc::S_IFLNK => ItemKind::Symlink(
                link.map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
                    .unwrap_or_default(),
            ),
            _ => return Ok(None),
        };
        Ok(Some(Item { path, kind, mode }))
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else if name.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}
