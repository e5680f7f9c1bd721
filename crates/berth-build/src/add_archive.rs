//! `ADD` of a local tar archive (plain, gzip or zstd): its entries become the step's items.
//! The archive is decompressed into an unnamed temporary file, at most the context's byte and
//! entry caps, and each file is read from there when the layer is written — nothing of it is
//! held in memory, so a small bomb in the context cannot grow the daemon (issue 14).

use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::context::{decompress, ContextLimits, FileData};
use crate::copy::{Data, Item, ItemKind};
use crate::ignore::clean;

/// The largest GNU long-name or PAX header accepted (the tar parser holds it in memory).
const EXTENSION_MAX: u64 = 1 << 20;

/// A byte range of a file, read with `pread` (several items share one file).
pub struct FileSlice {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl FileSlice {
    /// `len` bytes of `file` from `offset`.
    pub fn new(file: &Arc<File>, offset: u64, len: u64) -> FileSlice {
        FileSlice {
            file: Arc::clone(file),
            pos: offset,
            end: offset.saturating_add(len),
        }
    }
}

impl Read for FileSlice {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive file ended early",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn too_large(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, what)
}

/// Decompresses `file` into a new unnamed temporary file, failing past `max` bytes.
fn decompress_to_temp(file: &FileData, max: u64) -> io::Result<File> {
    let (plain, _) = decompress(file.open()?).map_err(io::Error::other)?;
    let mut tmp = tempfile::tempfile()?;
    let n = io::copy(&mut plain.take(max.saturating_add(1)), &mut tmp)?;
    if n > max {
        return Err(too_large(format!(
            "the archive is larger than {max} bytes once decompressed (build-context-max-size)"
        )));
    }
    tmp.rewind()?;
    Ok(tmp)
}

/// If `file` is a tar archive, its entries as items under `dest`; `None` if it is no tar (then
/// ADD copies it as a file).
pub fn items(
    file: &FileData,
    dest: &str,
    limits: &ContextLimits,
) -> io::Result<Option<Vec<Item<'static>>>> {
    let tmp = decompress_to_temp(file, limits.max_bytes)?;
    let mut magic = [0u8; 5];
    if tmp.read_at(&mut magic, 257).ok() != Some(5) || &magic != b"ustar" {
        return Ok(None);
    }
    let tmp = Arc::new(tmp);
    let mut out = Vec::new();
    let root = clean(dest);
    let guarded = berth_fs::ExtensionCap::new(&*tmp, EXTENSION_MAX);
    for e in tar::Archive::new(guarded).entries()? {
        let e = e?;
        if out.len() >= limits.max_entries {
            return Err(too_large(format!(
                "the archive has more than {} entries (build-context-max-files)",
                limits.max_entries
            )));
        }
        let path = clean(&format!(
            "{root}/{}",
            String::from_utf8_lossy(&e.path_bytes())
        ));
        let mode = e.header().mode()? & 0o7777;
        let kind =
            match e.header().entry_type() {
                tar::EntryType::Directory => ItemKind::Dir,
                tar::EntryType::Symlink => ItemKind::Symlink(
                    e.link_name()?
                        .map(|l| l.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                tar::EntryType::Regular | tar::EntryType::Continuous => ItemKind::File(
                    Data::Slice(Arc::clone(&tmp), e.raw_file_position(), e.size()),
                ),
                _ => continue,
            };
        out.push(Item { path, kind, mode });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o640);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn entries_are_read_from_the_temporary_file() {
        let data = FileData::Memory(tar_gz(&[("a.txt", b"alpha"), ("d/b.txt", b"beta")]));
        let items = items(&data, "/opt", &ContextLimits::default())
            .unwrap()
            .unwrap();
        let mut got = Vec::new();
        for it in &items {
            let ItemKind::File(Data::Slice(f, off, len)) = &it.kind else {
                panic!("{}: not a slice", it.path);
            };
            let mut s = String::new();
            FileSlice::new(f, *off, *len)
                .read_to_string(&mut s)
                .unwrap();
            got.push((it.path.clone(), s, it.mode));
        }
        assert_eq!(
            got,
            [
                ("opt/a.txt".to_owned(), "alpha".to_owned(), 0o640),
                ("opt/d/b.txt".to_owned(), "beta".to_owned(), 0o640)
            ]
        );
    }

    #[test]
    fn a_bomb_stops_at_the_cap_and_plain_files_are_no_archives() {
        let zeros = vec![0u8; 4 << 20];
        let data = FileData::Memory(tar_gz(&[("zeros", &zeros)]));
        let caps = ContextLimits {
            max_bytes: 1 << 20,
            max_entries: 10,
        };
        let e = items(&data, "/", &caps).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge, "{e}");
        let caps = ContextLimits {
            max_bytes: 1 << 30,
            max_entries: 1,
        };
        let two = FileData::Memory(tar_gz(&[("a", b"1"), ("b", b"2")]));
        assert!(items(&two, "/", &caps).is_err());
        let text = FileData::Memory(b"just text".to_vec());
        assert!(items(&text, "/", &ContextLimits::default())
            .unwrap()
            .is_none());
    }
}
