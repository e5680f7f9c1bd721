//! `berth cp`: copies between a container and the host through the archive API, with docker's
//! directory semantics (copy into an existing directory, rename to a new name, `dir/.` for a
//! directory's content, `-` for a tar stream on stdin/stdout).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::enc;
use crate::client::{Body, Client, ClientError};
use crate::Failure;

/// `berth cp` flags.
#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Suppress progress output (berth prints none).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a host path, or - (a tar on stdin).
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or - (a tar on stdout).
    pub dest: String,
}

fn fail(msg: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: msg.to_string(),
    }
}

/// `CONTAINER:PATH` → (container, path); a path starting with `/` or `.` is local.
fn split_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => (Some(c), p),
        _ => (None, arg),
    }
}

/// The daemon's stat of a container path (`None`: it does not exist).
struct Stat {
    is_dir: bool,
    link_target: String,
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = s.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= val(*b)? << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

fn parse_stat(header: &str) -> Option<Stat> {
    let v: Value = serde_json::from_slice(&decode_base64(header)?).ok()?;
    let mode = v["mode"].as_u64()?;
    Some(Stat {
        is_dir: mode & (1 << 31) != 0,
        link_target: v["linkTarget"].as_str().unwrap_or_default().to_owned(),
    })
}

fn stat(c: &Client, container: &str, path: &str) -> Result<Option<Stat>, Failure> {
    let url = format!("/containers/{}/archive?path={}", enc(container), enc(path));
    match c.request("HEAD", &url, Body::Empty) {
        Ok(r) => Ok(parse_stat(&r.path_stat)),
        Err(ClientError::Api {
            status: 404,
            message,
        }) if !message.starts_with("No such container") => Ok(None),
        Err(ClientError::Api { status: 404, .. }) => Err(fail(format!(
            "Error response from daemon: No such container: {container}"
        ))),
        Err(e) => Err(fail(e)),
    }
}

/// `berth cp`.
pub fn cp(c: &Client, a: &CpArgs) -> Result<i32, Failure> {
    match (split_arg(&a.src), split_arg(&a.dest)) {
        ((Some(_), _), (Some(_), _)) => Err(fail("copying between containers is not supported")),
        ((None, _), (None, _)) => Err(fail("must specify at least one container source")),
        ((Some(ctr), src), (None, dest)) => from_container(c, a, ctr, src, dest),
        ((None, src), (Some(ctr), dest)) => to_container(c, a, src, ctr, dest),
    }
}

fn base_name(p: &str) -> String {
    Path::new(p.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into())
}

fn from_container(
    c: &Client,
    a: &CpArgs,
    ctr: &str,
    src: &str,
    dest: &str,
) -> Result<i32, Failure> {
    let mut path = if src.is_empty() {
        "/".to_owned()
    } else {
        src.to_owned()
    };
    let st = stat(c, ctr, &path)?.ok_or_else(|| {
        fail(format!(
            "Error response from daemon: Could not find the file {path} in container {ctr}"
        ))
    })?;
    let mut is_dir = st.is_dir;
    if a.follow_link && !st.link_target.is_empty() {
        path = st.link_target;
        is_dir = stat(c, ctr, &path)?.is_some_and(|s| s.is_dir);
    }
    let url = format!("/containers/{}/archive?path={}", enc(ctr), enc(&path));
    let mut resp = c.request("GET", &url, Body::Empty).map_err(fail)?;
    if dest == "-" {
        let mut out = io::stdout().lock();
        io::copy(&mut resp, &mut out)?;
        out.flush()?;
        return Ok(0);
    }
    // `dir/.`: the archive holds the directory's content (entries relative to it).
    let contents = path.ends_with("/.");
    let d = Path::new(dest);
    let (base, first): (PathBuf, Rename) = match fs::metadata(d) {
        Ok(m) if m.is_dir() => (d.to_path_buf(), Rename::Keep),
        Ok(_) if is_dir => return Err(fail(format!("cannot copy a directory to a file: {dest}"))),
        Ok(_) => (parent_of(d), Rename::To(base_name(dest))),
        Err(_) => {
            if dest.ends_with('/') && !is_dir {
                return Err(fail(format!("destination directory {dest} does not exist")));
            }
            let parent = parent_of(d);
            if !parent.is_dir() {
                return Err(fail(format!("no such directory: {}", parent.display())));
            }
            if contents {
                fs::create_dir(d).map_err(|e| fail(format!("mkdir {dest}: {e}")))?;
                (d.to_path_buf(), Rename::Keep)
            } else {
                (parent, Rename::To(base_name(dest)))
            }
        }
    };
    extract(&mut resp, &base, &first, a.archive)?;
    Ok(0)
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(x) if !x.as_os_str().is_empty() => x.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What happens to the first component of each entry.
enum Rename {
    Keep,
    To(String),
}

fn rewrite(raw: &Path, first: &Rename) -> Result<Option<PathBuf>, Failure> {
    let mut comps = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => comps.push(n.to_owned()),
            Component::CurDir => comps.push(".".into()),
            Component::RootDir => {}
            _ => return Err(fail(format!("invalid path in archive: {}", raw.display()))),
        }
    }
    if comps.is_empty() {
        return Ok(None);
    }
    match first {
        Rename::Keep => {}
        Rename::To(n) => comps[0] = n.into(),
    }
    let out: PathBuf = comps.iter().filter(|c| c.as_os_str() != ".").collect();
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Unpacks the daemon's tar under `base`, never writing through a symlink on the way.
fn extract(r: &mut dyn Read, base: &Path, first: &Rename, archive: bool) -> Result<(), Failure> {
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_preserve_ownerships(archive);
    ar.set_overwrite(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let Some(rel) = rewrite(&entry.path()?, first)? else {
            continue;
        };
        let mut at = base.to_path_buf();
        let n = rel.components().count();
        for (i, comp) in rel.components().enumerate() {
            at.push(comp);
            if i + 1 < n && fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(fail(format!(
                    "refusing to write through symlink {}",
                    at.display()
                )));
            }
        }
        if entry.header().entry_type() == tar::EntryType::Link {
            let target = entry
                .link_name()?
                .ok_or_else(|| fail("hard link without target"))?
                .into_owned();
            if let Some(t) = rewrite(&target, first)? {
                let _ = fs::remove_file(&at);
                fs::hard_link(base.join(t), &at)?;
            }
            continue;
        }
        entry.unpack(&at)?;
    }
    Ok(())
}

fn to_container(c: &Client, a: &CpArgs, src: &str, ctr: &str, dest: &str) -> Result<i32, Failure> {
    let dest = if dest.is_empty() { "/" } else { dest };
    let flags = format!(
        "&noOverwriteDirNonDir=true{}",
        if a.archive { "&copyUIDGID=true" } else { "" }
    );
    if src == "-" {
        let url = format!("/containers/{}/archive?path={}{flags}", enc(ctr), enc(dest));
        c.request("PUT", &url, Body::Stream(&mut io::stdin().lock()))
            .map_err(fail)?;
        return Ok(0);
    }
    let meta = if a.follow_link {
        fs::metadata(src)
    } else {
        fs::symlink_metadata(src)
    }
    .map_err(|e| fail(format!("lstat {src}: {e}")))?;
    let contents = src.ends_with("/.") && meta.is_dir();
    let mut target = dest.to_owned();
    let mut st = stat(c, ctr, &target)?;
    if let Some(s) = st.as_ref().filter(|s| !s.link_target.is_empty()) {
        target = s.link_target.clone();
        st = stat(c, ctr, &target)?;
    }
    let (dir, name) = match st {
        Some(s) if s.is_dir => (
            target,
            if contents {
                ".".to_owned()
            } else {
                base_name(src)
            },
        ),
        Some(_) if meta.is_dir() => {
            return Err(fail(format!("cannot copy a directory to a file: {dest}")))
        }
        Some(_) => (parent_str(&target), base_name(&target)),
        None => {
            if dest.ends_with('/') && !meta.is_dir() {
                return Err(fail(format!("destination directory {dest} does not exist")));
            }
            let parent = parent_str(&target);
            if !stat(c, ctr, &parent)?.is_some_and(|s| s.is_dir) {
                return Err(fail(format!(
                    "Error response from daemon: Could not find the file {parent} in container {ctr}"
                )));
            }
            (parent, base_name(&target))
        }
    };
    let (mut reader, writer) = io::pipe()?;
    let src_path = PathBuf::from(src);
    let is_dir = meta.is_dir();
    let builder = std::thread::spawn(move || -> io::Result<()> {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(false);
        if is_dir {
            b.append_dir_all(&name, &src_path)?;
        } else {
            // -L: a symlink given as the source is copied as what it points to.
            let real = fs::canonicalize(&src_path).unwrap_or(src_path.clone());
            let p = if meta.file_type().is_symlink() {
                &src_path
            } else {
                &real
            };
            b.append_path_with_name(p, &name)?;
        }
        b.finish()
    });
    let url = format!("/containers/{}/archive?path={}{flags}", enc(ctr), enc(&dir));
    let sent = c.request("PUT", &url, Body::Stream(&mut reader));
    drop(reader);
    let built = builder
        .join()
        .map_err(|_| fail("building the archive failed"))?;
    sent.map_err(fail)?;
    built.map_err(|e| fail(format!("archiving {src}: {e}")))?;
    Ok(0)
}

fn parent_str(p: &str) -> String {
    let t = p.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => t[..i].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn args_and_paths() {
        assert_eq!(split_arg("c1:/etc"), (Some("c1"), "/etc"));
        assert_eq!(split_arg("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split_arg("./x:y"), (None, "./x:y"));
        assert_eq!(split_arg("-"), (None, "-"));
        assert_eq!(parent_str("/a/b/"), "/a");
        assert_eq!(parent_str("/a"), "/");
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        let r = |p: &str, f: &Rename| rewrite(Path::new(p), f).unwrap();
        assert_eq!(
            r("etc/passwd", &Rename::To("x".into())),
            Some(PathBuf::from("x/passwd"))
        );
        assert_eq!(r("./a", &Rename::Keep), Some(PathBuf::from("a")));
        assert_eq!(r(".", &Rename::Keep), None);
        assert!(rewrite(Path::new("a/../../x"), &Rename::Keep).is_err());
    }
}
