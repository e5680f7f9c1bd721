//! `docker diff`: changes in a container's writable layer relative to its image.
//!
//! Computed from the overlay upper dir: char devices 0:0 are deletions, opaque directories
//! hide everything below them in the lower layers, and an entry is "changed" rather than
//! "added" when the merged lower layers have it. With the copy snapshotter the container tree
//! is compared with the image's top snapshot instead.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fmt;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{ImageStore, StoreError};
use crate::snapshot::SnapshotterKind;

/// Kind of change, printed as docker's A/C/D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// `C`
    Changed,
    /// `A`
    Added,
    /// `D`
    Deleted,
}

/// One changed path (absolute, inside the container).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Container path, e.g. `/etc/hosts`.
    pub path: String,
    /// What happened to it.
    pub kind: ChangeKind,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        };
        write!(f, "{k} {}", self.path)
    }
}

fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    let (Ok(c), Ok(k)) = (
        CString::new(p.as_os_str().as_bytes()),
        CString::new(crate::rootless::opaque_xattr()),
    ) else {
        return false;
    };
    let mut buf = [0u8; 4];
    // SAFETY: valid strings and buffer of the given size.
    let n = unsafe { libc::lgetxattr(c.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    n == 1 && buf[0] == b'y'
}

/// Whether `rel` exists in the merged view of overlay-format `lowers` (topmost first).
pub(crate) fn lower_exists(lowers: &[PathBuf], rel: &Path) -> bool {
    let comps: Vec<_> = rel.components().collect();
    'layers: for lower in lowers {
        let mut cur = lower.clone();
        for (i, c) in comps.iter().enumerate() {
            let parent = cur.clone();
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Err(_) => {
                    if i > 0 && is_opaque(&parent) {
                        return false;
                    }
                    continue 'layers;
                }
                Ok(md) if is_whiteout(&md) => return false,
                Ok(_) if i + 1 == comps.len() => return true,
                Ok(md) if !md.is_dir() => return false,
                Ok(_) => {}
            }
        }
    }
    false
}

/// Names visible in directory `rel` of the merged lowers.
fn lower_children(lowers: &[PathBuf], rel: &Path) -> BTreeSet<std::ffi::OsString> {
    let mut out = BTreeSet::new();
    for lower in lowers {
        if let Ok(rd) = fs::read_dir(lower.join(rel)) {
            out.extend(
                rd.flatten()
                    .map(|e| e.file_name())
                    .filter(|n| lower_exists(lowers, &rel.join(n))),
            );
        }
    }
    out
}

fn walk_upper(upper: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) {
    let Ok(rd) = fs::read_dir(upper.join(rel)) else {
        return;
    };
    let mut present = BTreeSet::new();
    for ent in rd.flatten() {
        let name = ent.file_name();
        present.insert(name.clone());
        let r = rel.join(&name);
        let path = format!("/{}", r.display());
        let Ok(md) = ent.metadata() else { continue };
        if is_whiteout(&md) {
            if lower_exists(lowers, &r) {
                out.push(Change {
                    path,
                    kind: ChangeKind::Deleted,
                });
            }
            continue;
        }
        let kind = if lower_exists(lowers, &r) {
            ChangeKind::Changed
        } else {
            ChangeKind::Added
        };
        out.push(Change { path, kind });
        if md.is_dir() {
            walk_upper(upper, &r, lowers, out);
        }
    }
    if !rel.as_os_str().is_empty() && is_opaque(&upper.join(rel)) {
        for gone in lower_children(lowers, rel).difference(&present) {
            out.push(Change {
                path: format!("/{}", rel.join(gone).display()),
                kind: ChangeKind::Deleted,
            });
        }
    }
}

/// Compare a full container tree with the image tree it was copied from (copy snapshotter).
fn walk_copy(new: &Path, old: &Path, rel: &Path, out: &mut Vec<Change>) {
    let names = |d: &Path| -> BTreeSet<std::ffi::OsString> {
        fs::read_dir(d)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    let (nn, on) = (names(&new.join(rel)), names(&old.join(rel)));
    for gone in on.difference(&nn) {
        out.push(Change {
            path: format!("/{}", rel.join(gone).display()),
            kind: ChangeKind::Deleted,
        });
    }
    for name in &nn {
        let r = rel.join(name);
        let path = format!("/{}", r.display());
        let Ok(a) = fs::symlink_metadata(new.join(&r)) else {
            continue;
        };
        match fs::symlink_metadata(old.join(&r)) {
            Err(_) => {
                out.push(Change {
                    path,
                    kind: ChangeKind::Added,
                });
                if a.is_dir() {
                    walk_copy(new, old, &r, out); // everything below is new too
                }
            }
            Ok(b) => {
                let same = a.file_type() == b.file_type()
                    && a.mode() == b.mode()
                    && a.uid() == b.uid()
                    && a.gid() == b.gid()
                    && (a.is_dir()
                        || (a.len() == b.len()
                            && a.mtime() == b.mtime()
                            && a.mtime_nsec() == b.mtime_nsec()))
                    && (!a.file_type().is_symlink()
                        || fs::read_link(new.join(&r)).ok() == fs::read_link(old.join(&r)).ok());
                let kind = if same {
                    None
                } else {
                    Some(ChangeKind::Changed)
                };
                if a.is_dir() && b.is_dir() {
                    let before = out.len();
                    walk_copy(new, old, &r, out);
                    if kind.is_some() || out.len() > before {
                        out.insert(
                            before,
                            Change {
                                path,
                                kind: ChangeKind::Changed,
                            },
                        );
                    }
                } else if let Some(kind) = kind {
                    out.push(Change { path, kind });
                    if a.is_dir() {
                        walk_copy(new, old, &r, out);
                    }
                }
            }
        }
    }
}

impl ImageStore {
    /// `docker diff CONTAINER`, sorted by path.
    pub fn diff(&self, container_id: &str) -> Result<Vec<Change>, StoreError> {
        let rec = self.snapshots.container(container_id)?;
        let upper = self.snapshots.upper_dir(container_id)?;
        let mut out = Vec::new();
        match self.snapshots.kind() {
            SnapshotterKind::Overlay => {
                let lowers = self.snapshots.mounts(container_id)?.lower_dirs();
                walk_upper(&upper, Path::new(""), &lowers, &mut out);
            }
            SnapshotterKind::Copy => {
                let base = match &rec.parent {
                    Some(top) => self
                        .snapshots
                        .layer_dir(top)
                        .ok_or_else(|| StoreError::NotFound(top.to_string()))?,
                    None => self.snapshots.root().join("empty"),
                };
                walk_copy(&upper, &base, Path::new(""), &mut out);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
