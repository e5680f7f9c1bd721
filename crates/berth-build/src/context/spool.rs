//! Reading a build context stream: decompression, the tar's entries written one file each to
//! a spool directory, and the caps that keep a hostile stream (a gzip bomb, millions of
//! entries, megabyte-long names) from costing more than a bounded amount of memory and disk.

use std::cell::Cell;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use super::{Context, Entry, EntryKind, FileData, MAX_TEXT_FILE};
use crate::error::BuildError;
use crate::ignore::clean;

/// The longest entry name (path or link target) accepted, as Linux's PATH_MAX.
const MAX_NAME: usize = 4096;
/// The largest PAX extended header read (names, times, xattrs of one entry).
const MAX_PAX: u64 = 1 << 20;
/// All entry names together: with [`ContextLimits::max_entries`] this bounds the index's memory.
const MAX_NAME_BYTES: usize = 128 << 20;

/// Caps on what one build context may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextLimits {
    /// Decompressed bytes of the whole stream (headers and file data).
    pub max_bytes: u64,
    /// Entries (files, directories, links).
    pub max_entries: usize,
}

impl Default for ContextLimits {
    fn default() -> ContextLimits {
        ContextLimits {
            max_bytes: 2 << 30,
            max_entries: 1_000_000,
        }
    }
}

/// Decompresses if the stream starts with a gzip or zstd magic.
pub fn decompress<'a>(mut r: impl Read + 'a) -> Result<(Box<dyn Read + 'a>, Vec<u8>), BuildError> {
    let mut head = vec![0u8; 4];
    let n = read_full(&mut r, &mut head).map_err(bad)?;
    head.truncate(n);
    let chained = io::Cursor::new(head.clone()).chain(r);
    let boxed: Box<dyn Read + 'a> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(chained))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::new(chained).map_err(bad)?)
    } else {
        Box::new(chained)
    };
    Ok((boxed, head))
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A reader that fails once more than `max` bytes went through, and says so in `over`
/// (decoders and the tar reader wrap the error, so the flag is how the cap is recognised).
struct Capped<R> {
    inner: R,
    left: u64,
    over: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the cap tells "exactly at the cap" from "over it".
        let want = buf
            .len()
            .min(usize::try_from(self.left + 1).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.over.set(true);
            return Err(io::Error::other("build context size limit exceeded"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The docker CLI's stream for `-f` outside the context ends without the last entry's padding
/// and the end-of-archive blocks (Go's reader tolerates that): this restores them.
struct PadBlocks<R> {
    inner: R,
    read: u64,
    pad: Option<u64>,
}

impl<R: Read> Read for PadBlocks<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pad.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.read += n as u64;
                return Ok(n);
            }
            self.pad = Some(self.read.div_ceil(512) * 512 + 1024 - self.read);
        }
        let left = self.pad.unwrap_or(0);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        buf[..n].fill(0);
        self.pad = Some(left - n as u64);
        Ok(n)
    }
}

fn too_large(limits: &ContextLimits) -> BuildError {
    BuildError::TooLarge(format!(
        "the build context is larger than this daemon accepts ({} bytes uncompressed; \
         raise it with berthd --build-context-max-size)",
        limits.max_bytes
    ))
}

/// See [`Context::spool`].
pub(super) fn spool(
    r: impl Read,
    root: &Path,
    dockerfile: &str,
    limits: &ContextLimits,
) -> Result<Context, BuildError> {
    let io_err = BuildError::io(format!(
        "creating the build context under {}",
        root.display()
    ));
    std::fs::create_dir_all(root)
        .and_then(|()| {
            tempfile::Builder::new()
                .prefix(SPOOL_PREFIX)
                .tempdir_in(root)
        })
        .map_err(io_err)
        .and_then(|dir| {
            let over = Rc::new(Cell::new(false));
            let result = read_body(r, dir, dockerfile, limits, &over);
            // Whatever the tar or decoder made of the cap's error, it is a size error.
            result.map_err(|e| if over.get() { too_large(limits) } else { e })
        })
}

/// The prefix of spool directories, so a daemon can remove those a crash left behind.
pub const SPOOL_PREFIX: &str = "build-context-";

fn read_body(
    r: impl Read,
    dir: tempfile::TempDir,
    dockerfile: &str,
    limits: &ContextLimits,
    over: &Rc<Cell<bool>>,
) -> Result<Context, BuildError> {
    let (plain, _) = decompress(r)?;
    let mut plain = Capped {
        inner: plain,
        left: limits.max_bytes,
        over: over.clone(),
    };
    let mut head = vec![0u8; 1024];
    let n = read_full(&mut plain, &mut head).map_err(bad)?;
    head.truncate(n);
    let is_tar = head.len() >= 512 && &head[257..262] == b"ustar";
    if !is_tar && !head.iter().all(|&b| b == 0) {
        // A bare Dockerfile (`docker build - < Dockerfile`).
        let mut text = head;
        (&mut plain)
            .take(MAX_TEXT_FILE + 1 - text.len() as u64)
            .read_to_end(&mut text)
            .map_err(bad)?;
        if text.len() as u64 > MAX_TEXT_FILE {
            return Err(BuildError::TooLarge(format!(
                "the Dockerfile is larger than {MAX_TEXT_FILE} bytes"
            )));
        }
        return Ok(Context::from_dockerfile(text));
    }
    let mut ctx = Context::default();
    let mut r = PadBlocks {
        inner: io::Cursor::new(head).chain(plain),
        read: 0,
        pad: None,
    };
    read_tar(&mut ctx, &mut r, Some(dir.path()), limits)?;
    // The rest (end-of-archive blocks, the compressor's trailer) is read too, under the same
    // cap, so the client sees our answer rather than a reset connection.
    io::copy(&mut r, &mut io::sink()).map_err(bad)?;
    ctx.spool = Some(dir);
    ctx.apply_ignore(dockerfile)?;
    Ok(ctx)
}

/// Names from GNU long-name/long-link and PAX headers, for the next real entry.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    /// A PAX `size`: tar-rs's raw mode (which keeps extension headers bounded) does not apply
    /// it, so an entry whose size differs from its header's is refused rather than misread.
    size: Option<Vec<u8>>,
}

fn bad(e: io::Error) -> BuildError {
    BuildError::Context(format!("reading the stream: {e}"))
}

/// An extension entry's data, refused past `max` bytes (tar-rs would read any size).
fn small_data(e: &mut tar::Entry<'_, &mut dyn Read>, max: u64) -> Result<Vec<u8>, BuildError> {
    if e.size() > max {
        return Err(BuildError::Context(format!(
            "an extension header of {} bytes (at most {max})",
            e.size()
        )));
    }
    let mut v = Vec::with_capacity(e.size() as usize);
    e.read_to_end(&mut v).map_err(bad)?;
    Ok(v)
}

/// Handles an extension header; false if `e` is a real entry.
fn extension(e: &mut tar::Entry<'_, &mut dyn Read>, p: &mut Pending) -> Result<bool, BuildError> {
    let t = e.header().entry_type();
    let trim = |mut v: Vec<u8>| {
        while v.last() == Some(&0) {
            v.pop();
        }
        v
    };
    if t.is_gnu_longname() {
        p.path = Some(trim(small_data(e, MAX_NAME as u64)?));
    } else if t.is_gnu_longlink() {
        p.link = Some(trim(small_data(e, MAX_NAME as u64)?));
    } else if t.is_pax_local_extensions() {
        let data = small_data(e, MAX_PAX)?;
        for ext in tar::PaxExtensions::new(&data).flatten() {
            match ext.key_bytes() {
                b"path" => p.path = Some(ext.value_bytes().to_vec()),
                b"linkpath" => p.link = Some(ext.value_bytes().to_vec()),
                b"size" => p.size = Some(ext.value_bytes().to_vec()),
                _ => {}
            }
        }
    } else if !t.is_pax_global_extensions() {
        return Ok(false);
    }
    Ok(true)
}

/// Reads the tar's entries into `ctx`; file bytes go to `dir` (one spool file per entry) or,
/// without one, into memory.
pub(super) fn read_tar(
    ctx: &mut Context,
    r: &mut dyn Read,
    dir: Option<&Path>,
    limits: &ContextLimits,
) -> Result<(), BuildError> {
    let mut ar = tar::Archive::new(r);
    let mut pending = Pending::default();
    let (mut count, mut name_bytes, mut declared) = (0usize, 0usize, 0u64);
    for entry in ar.entries().map_err(bad)?.raw(true) {
        let mut e = entry.map_err(bad)?;
        if extension(&mut e, &mut pending)? {
            continue;
        }
        if let Some(size) = pending.size.take() {
            if size != e.size().to_string().into_bytes() {
                return Err(BuildError::Context(
                    "a file of more than 8 GiB given by a PAX size record is not supported \
                     in a build context"
                        .into(),
                ));
            }
        }
        // Sizes are declared up front: a context that cannot fit is refused at the first
        // header saying so, before its bytes are decompressed.
        declared = declared.saturating_add(e.size());
        if declared > limits.max_bytes {
            return Err(too_large(limits));
        }
        let raw_path = match pending.path.take() {
            Some(p) => p,
            None => e.header().path_bytes().into_owned(),
        };
        let link = pending
            .link
            .take()
            .or_else(|| e.header().link_name_bytes().map(|l| l.into_owned()));
        let names = raw_path.len() + link.as_ref().map_or(0, Vec::len);
        if raw_path.len() > MAX_NAME || link.as_ref().is_some_and(|l| l.len() > MAX_NAME) {
            return Err(BuildError::Context(format!(
                "a name longer than {MAX_NAME} bytes"
            )));
        }
        count += 1;
        name_bytes += names;
        if count > limits.max_entries || name_bytes > MAX_NAME_BYTES {
            return Err(BuildError::TooLarge(format!(
                "the build context has more than {} entries (or {MAX_NAME_BYTES} bytes of \
                 names); raise it with berthd --build-context-max-files",
                limits.max_entries
            )));
        }
        let path = clean(&String::from_utf8_lossy(&raw_path));
        if path.is_empty() {
            continue;
        }
        let link = link.map(|l| String::from_utf8_lossy(&l).into_owned());
        let Some(kind) = entry_kind(ctx, &mut e, link, dir, count)? else {
            continue;
        };
        let mode = e.header().mode().map_err(bad)? & 0o7777;
        ctx.add_parents(&path);
        ctx.entries.insert(path, Entry::new(kind, mode));
    }
    Ok(())
}

/// Copies an entry's data to a new spool file: a read error is the stream's (the client's), a
/// write error the spool directory's (the daemon's).
fn copy_to_file(r: &mut dyn Read, path: &Path) -> Result<u64, BuildError> {
    use std::io::Write;
    let write = |e| BuildError::io(format!("writing {}", path.display()))(e);
    let mut f = std::fs::File::create(path).map_err(write)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad(e)),
        };
        f.write_all(&buf[..n]).map_err(write)?;
        total += n as u64;
    }
}

/// What an entry becomes in the context (`None`: a kind a context does not carry).
fn entry_kind(
    ctx: &Context,
    e: &mut tar::Entry<'_, &mut dyn Read>,
    link: Option<String>,
    dir: Option<&Path>,
    n: usize,
) -> Result<Option<EntryKind>, BuildError> {
    Ok(Some(match e.header().entry_type() {
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink(link.unwrap_or_default()),
        tar::EntryType::Link => {
            let target = clean(&link.unwrap_or_default());
            match ctx.entries.get(&target).map(|t| &t.kind) {
                Some(EntryKind::File(f)) => EntryKind::File(f.clone()),
                _ => return Ok(None),
            }
        }
        t if t.is_file() => EntryKind::File(match dir {
            Some(dir) => {
                let path = dir.join(n.to_string());
                let size = copy_to_file(e, &path)?;
                FileData::Spooled { path, size }
            }
            None => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).map_err(bad)?;
                FileData::Memory(data)
            }
        }),
        _ => return Ok(None),
    }))
}
