//! COPY and ADD: resolving sources (context paths with wildcards, another stage's or image's
//! filesystem, heredocs, ADD's local tar archives and URLs) to the files they put into the
//! image, with docker's directory semantics, and writing them as one layer tar.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::context::{Context, EntryKind, FileData};
use crate::ignore::{clean, glob};

/// Where the bytes of a file come from.
pub enum Data<'a> {
    /// In memory (context, heredoc).
    Bytes(&'a [u8]),
    /// In memory, owned (extracted archive, download).
    Owned(Vec<u8>),
    /// A file in a mounted stage, opened through its root when the layer is written.
    InRoot(&'a berth_fs::Root, PathBuf),
    /// A build context file in the daemon's spool directory.
    Spooled(&'a Path),
    /// A byte range of a file (an `ADD`ed archive decompressed to a temporary file).
    Slice(std::sync::Arc<std::fs::File>, u64, u64),
}

/// A context file's bytes as layer data.
fn context_data(f: &FileData) -> Data<'_> {
    match f {
        FileData::Memory(b) => Data::Bytes(b),
        FileData::Spooled { path, .. } => Data::Spooled(path),
    }
}

/// What an item is.
pub enum ItemKind<'a> {
    /// A directory.
    Dir,
    /// A regular file.
    File(Data<'a>),
    /// A symbolic link.
    Symlink(String),
}

/// One thing the layer will contain.
pub struct Item<'a> {
    /// Path in the image, relative to `/`, cleaned.
    pub path: String,
    /// Kind and content.
    pub kind: ItemKind<'a>,
    /// Permission bits.
    pub mode: u32,
}

/// Parsed `--chown` and `--chmod`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Owner {
    /// uid/gid for every item (`--chown`), else root.
    pub chown: Option<(u64, u64)>,
    /// Mode for every item (`--chmod`), else the source's.
    pub chmod: Option<u32>,
}

/// `--chown=uid[:gid]` (numbers, or `root`).
pub fn parse_chown(s: &str) -> Result<(u64, u64), String> {
    let id = |p: &str| -> Result<u64, String> {
        if p == "root" {
            return Ok(0);
        }
        p.parse().map_err(|_| {
            format!(
                "--chown={s}: only numeric ids and root are supported (no user database lookup)"
            )
        })
    };
    match s.split_once(':') {
        Some((u, g)) => Ok((id(u)?, id(g)?)),
        None => {
            let u = id(s)?;
            Ok((u, u))
        }
    }
}

/// `--chown=user[:group]` with names looked up in `passwd`/`group` text (a user alone also
/// gives its primary group, as docker does).
pub fn parse_chown_db(s: &str, passwd: &str, group: &str) -> Result<(u64, u64), String> {
    let find = |db: &str, name: &str| -> Option<Vec<String>> {
        db.lines()
            .map(|l| l.split(':').map(str::to_owned).collect::<Vec<_>>())
            .find(|f| f.first().map(String::as_str) == Some(name))
    };
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let (uid, primary) = match u.parse::<u64>() {
        Ok(n) => (n, n),
        Err(_) => {
            let f = find(passwd, u).ok_or_else(|| {
                format!("unable to find user {u}: no matching entries in passwd file")
            })?;
            let id = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            match (id(2), id(3)) {
                (Some(uid), Some(gid)) => (uid, gid),
                _ => return Err(format!("invalid passwd entry for user {u}")),
            }
        }
    };
    let gid = match g {
        None => primary,
        Some(g) => match g.parse::<u64>() {
            Ok(n) => n,
            Err(_) => find(group, g)
                .and_then(|f| f.get(2).and_then(|v| v.parse().ok()))
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        },
    };
    Ok((uid, gid))
}

/// `--chmod=755` (octal).
pub fn parse_chmod(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("invalid --chmod={s}: only octal modes are supported"))
}

pub(crate) fn has_meta(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Context paths matching a source (wildcards as Go's filepath.Match); `""` is the root.
pub fn match_context(ctx: &Context, src: &str) -> Vec<String> {
    let p = clean(src);
    if !has_meta(&p) {
        return if ctx.is_dir(&p) || ctx.entries.contains_key(&p) {
            vec![p]
        } else {
            Vec::new()
        };
    }
    let pat: Vec<char> = p.chars().collect();
    ctx.entries
        .keys()
        .filter(|k| glob(&pat, &k.chars().collect::<Vec<_>>()))
        .cloned()
        .collect()
}

/// The destination of one source: `dest_dir` means "into the directory dest".
pub(crate) fn target(dest: &str, dest_dir: bool, name: &str) -> String {
    if dest_dir {
        clean(&format!("{dest}/{name}"))
    } else {
        clean(dest)
    }
}

pub(crate) fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Items for a context source (`src` as matched): a directory's contents go into dest.
pub fn context_items<'a>(
    ctx: &'a Context,
    src: &str,
    dest: &str,
    dest_dir: bool,
    out: &mut Vec<Item<'a>>,
) {
    if ctx.is_dir(src) {
        let root = clean(dest);
        for (rel, e) in ctx.under(src) {
            out.push(Item {
                path: clean(&format!("{root}/{rel}")),
                kind: match &e.kind {
                    EntryKind::Dir => ItemKind::Dir,
                    EntryKind::File(f) => ItemKind::File(context_data(f)),
                    EntryKind::Symlink(t) => ItemKind::Symlink(t.clone()),
                },
                mode: e.mode,
            });
        }
        return;
    }
    if let Some(e) = ctx.entries.get(src) {
        out.push(Item {
            path: target(dest, dest_dir, base_name(src)),
            kind: match &e.kind {
                EntryKind::File(f) => ItemKind::File(context_data(f)),
                EntryKind::Symlink(t) => ItemKind::Symlink(t.clone()),
                EntryKind::Dir => ItemKind::Dir,
            },
            mode: e.mode,
        });
    }
}

/// Writes the items as a layer tar (parents of items need not be listed: unpacking creates
/// them).
pub fn write_tar(
    items: &[Item<'_>],
    owner: Owner,
    mtime: u64,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    for it in items {
        let mut h = tar::Header::new_gnu();
        let (uid, gid) = owner.chown.unwrap_or((0, 0));
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mode(owner.chmod.unwrap_or(it.mode));
        h.set_mtime(mtime);
        match &it.kind {
            ItemKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, format!("{}/", it.path), io::empty())?;
            }
            ItemKind::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, &it.path, t)?;
            }
            ItemKind::File(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                match d {
                    Data::Bytes(bytes) => {
                        h.set_size(bytes.len() as u64);
                        b.append_data(&mut h, &it.path, *bytes)?;
                    }
                    Data::Owned(bytes) => {
                        h.set_size(bytes.len() as u64);
                        b.append_data(&mut h, &it.path, &bytes[..])?;
                    }
                    Data::InRoot(root, p) => {
                        let fd = root.open_at(p, berth_fs::OFlag::O_RDONLY, 0)?;
                        let f = std::fs::File::from(fd);
                        h.set_size(f.metadata()?.len());
                        b.append_data(&mut h, &it.path, f)?;
                    }
                    Data::Spooled(p) => {
                        let f = std::fs::File::open(p)?;
                        h.set_size(f.metadata()?.len());
                        b.append_data(&mut h, &it.path, f)?;
                    }
                    Data::Slice(f, offset, len) => {
                        h.set_size(*len);
                        let slice = crate::add_archive::FileSlice::new(f, *offset, *len);
                        b.append_data(&mut h, &it.path, slice)?;
                    }
                }
            }
        }
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Entry;

    fn ctx() -> Context {
        let mut c = Context::default();
        for (p, k) in [
            ("a.txt", EntryKind::File(b"a".to_vec().into())),
            ("b.txt", EntryKind::File(b"b".to_vec().into())),
            ("src", EntryKind::Dir),
            ("src/m.rs", EntryKind::File(b"m".to_vec().into())),
        ] {
            c.entries.insert(p.into(), Entry::new(k, 0o644));
        }
        c
    }

    #[test]
    fn docker_directory_semantics() {
        let c = ctx();
        assert_eq!(match_context(&c, "*.txt"), vec!["a.txt", "b.txt"]);
        assert_eq!(match_context(&c, "./src/"), vec!["src"]);
        assert!(match_context(&c, "nope").is_empty());
        let mut out = Vec::new();
        context_items(&c, "src", "/app", true, &mut out);
        context_items(&c, "a.txt", "/app/", true, &mut out);
        context_items(&c, "b.txt", "/etc/b.conf", false, &mut out);
        let paths: Vec<&str> = out.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, vec!["app/m.rs", "app/a.txt", "etc/b.conf"]);
    }

    #[test]
    fn owner_flags() {
        assert_eq!(parse_chown("10:20"), Ok((10, 20)));
        assert_eq!(parse_chown("root"), Ok((0, 0)));
        assert!(parse_chown("nobody").is_err());
        let p = "root:x:0:0::/:/bin/sh\nalice:x:1000:1001::/home/alice:/bin/sh\n";
        let g = "staff:x:50:alice\n";
        assert_eq!(parse_chown_db("alice", p, g), Ok((1000, 1001)));
        assert_eq!(parse_chown_db("alice:staff", p, g), Ok((1000, 50)));
        assert_eq!(parse_chown_db("7:staff", p, g), Ok((7, 50)));
        assert!(parse_chown_db("bob", p, g).is_err());
        assert_eq!(parse_chmod("755"), Ok(0o755));
        assert!(parse_chmod("u+x").is_err());
    }
}
