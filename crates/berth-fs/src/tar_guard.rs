//! A reader that keeps a tar stream's extension headers small before any tar parser sees them.
//!
//! The `tar` crate reads a GNU long name (`L`/`K`) or a PAX header (`x`/`g`) whole into memory,
//! at whatever size the header declares, so a client, an image or a registry could make the
//! daemon allocate gigabytes with one header. [`ExtensionCap`] follows the stream block by block
//! (headers, then the data they announce, PAX `size` overrides included) and fails the read
//! that would deliver an extension header larger than its cap. Everything else passes through
//! unchanged and unbuffered.

use std::io::{self, Read};

const BLOCK: usize = 512;
/// Type flags of the headers whose data the tar crate keeps in memory.
const EXTENSIONS: [u8; 4] = [b'L', b'K', b'x', b'g'];

/// Wraps a tar stream; see the module docs.
pub struct ExtensionCap<R> {
    inner: R,
    max: u64,
    header: Vec<u8>,
    /// Data bytes of the current entry still to pass (with the padding to the next block).
    skip: u64,
    /// The data of the current PAX header, kept to find a `size` record for the next entry.
    pax: Option<Vec<u8>>,
    /// A PAX `size` for the next entry, which overrides its header's size field.
    next_size: Option<u64>,
}

impl<R: Read> ExtensionCap<R> {
    /// `inner` with extension headers of at most `max` bytes.
    pub fn new(inner: R, max: u64) -> ExtensionCap<R> {
        ExtensionCap {
            inner,
            max,
            header: Vec::with_capacity(BLOCK),
            skip: 0,
            pax: None,
            next_size: None,
        }
    }

    /// Follows `data` (bytes just read) through the block structure.
    fn observe(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.skip > 0 {
                let take = data
                    .len()
                    .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
                if let Some(pax) = &mut self.pax {
                    pax.extend_from_slice(&data[..take]);
                }
                self.skip -= take as u64;
                data = &data[take..];
                if self.skip == 0 {
                    self.end_of_data();
                }
                continue;
            }
            let take = data.len().min(BLOCK - self.header.len());
            self.header.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.header.len() == BLOCK {
                self.start_entry()?;
            }
        }
        Ok(())
    }

    /// A whole header block has been read.
    fn start_entry(&mut self) -> io::Result<()> {
        let header = std::mem::take(&mut self.header);
        if header.iter().all(|b| *b == 0) {
            return Ok(()); // end-of-archive block: the next block is read as a header again
        }
        let kind = header[156];
        let declared = parse_size(&header[124..136]).ok_or_else(|| bad("a bad size field"))?;
        let size = if EXTENSIONS.contains(&kind) {
            declared
        } else {
            self.next_size.take().unwrap_or(declared)
        };
        if EXTENSIONS.contains(&kind) && size > self.max {
            return Err(bad(&format!(
                "an extension header of {size} bytes (at most {} are accepted)",
                self.max
            )));
        }
        self.pax = (kind == b'x').then(Vec::new);
        self.skip = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        if self.skip == 0 {
            self.end_of_data();
        }
        Ok(())
    }

    /// The current entry's data (and padding) has passed.
    fn end_of_data(&mut self) {
        if let Some(pax) = self.pax.take() {
            self.next_size = pax_size(&pax);
        }
    }
}

impl<R: Read> Read for ExtensionCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("tar archive: {what}"))
}

/// A header's size field: octal digits (NUL/space padded), or GNU's base-256 form.
fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        return field[1..]
            .iter()
            .try_fold(u64::from(field[0] & 0x7f), |acc, b| {
                acc.checked_mul(256)?.checked_add(u64::from(*b))
            });
    }
    let digits: &[u8] = field
        .split(|b| *b == 0 || *b == b' ')
        .find(|s| !s.is_empty())
        .unwrap_or(b"0");
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
}

/// The `size` record of PAX data (`"NN size=123\n"` records), if any.
fn pax_size(data: &[u8]) -> Option<u64> {
    data.split(|b| *b == b'\n')
        .filter_map(|rec| {
            let (_, kv) = rec.split_at(rec.iter().position(|b| *b == b' ')? + 1);
            kv.strip_prefix(b"size=")
        })
        .filter_map(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read_all(data: &[u8], max: u64, chunk: usize) -> io::Result<Vec<u8>> {
        struct Chunks<'a>(&'a [u8], usize);
        impl Read for Chunks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.1).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        ExtensionCap::new(Chunks(data, chunk), max).read_to_end(&mut out)?;
        Ok(out)
    }

    fn header(kind: u8, size: u64) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[0] = b'x';
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h
    }

    fn entry(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut out = header(kind, data.len() as u64);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    #[test]
    fn ordinary_archives_pass_unchanged_in_any_chunking() {
        let mut a = entry(b'0', &[7u8; 1000]);
        a.extend(entry(b'L', b"a/very/long/name\0"));
        a.extend(entry(b'0', b"x"));
        a.extend(entry(b'x', b"13 path=abc\n"));
        a.extend(entry(b'5', b""));
        a.extend(vec![0u8; 2 * BLOCK]);
        for chunk in [1, 7, 512, 4096] {
            assert_eq!(read_all(&a, 1 << 20, chunk).unwrap(), a);
        }
    }

    #[test]
    fn oversized_extension_headers_fail_before_their_data() {
        for kind in EXTENSIONS {
            let mut a = entry(b'0', b"ok");
            a.extend(header(kind, 5 << 30));
            let e = read_all(&a, 1 << 20, 4096).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{}", kind as char);
            assert!(e.to_string().contains("extension header"), "{e}");
        }
        // A large ordinary file is fine.
        let mut big = header(b'0', 3 << 20);
        big.resize(BLOCK + (3 << 20), 1);
        assert!(read_all(&big, 1 << 20, 65536).is_ok());
    }

    #[test]
    fn a_pax_size_moves_the_next_header() {
        // The next entry's ustar size says 0 but PAX says 1024: its data must be skipped as
        // data (a long-name header hidden there is no header).
        let mut a = entry(b'x', b"14 size=1024\n");
        a.extend(header(b'0', 0));
        let mut hidden = header(b'L', 5 << 30);
        hidden.resize(1024, 0);
        a.extend(hidden);
        a.extend(vec![0u8; 2 * BLOCK]);
        assert!(read_all(&a, 1 << 20, 100).is_ok());
    }

    #[test]
    fn base256_sizes_are_read() {
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 0x10;
        f[10] = 0x01;
        assert_eq!(parse_size(&f), Some(0x0110));
        assert_eq!(parse_size(b"00000001750\0"), Some(1000));
        assert_eq!(parse_size(b"     1750 \0\0"), Some(1000));
    }

    #[test]
    fn real_tar_crate_archives_pass() {
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("{}/file", "d".repeat(300));
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let out = read_all(&data, 1 << 20, 333).unwrap();
        let mut ar = tar::Archive::new(&out[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, [long]);
    }
}
