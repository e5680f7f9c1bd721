//! Tar streams out of a remapped container (`export`, `cp` out) carry the container's ids, as
//! docker's do: a writer between the packer and the client rewrites each header's uid/gid from
//! the host (subordinate) ids on disk to the ids the container sees, and fixes the checksum.
//! Ids outside the maps are left as they are (nothing inside could own them).

use std::io::{self, Write};

use berth_image::snapshot::IdMapping;

const BLOCK: usize = 512;

/// A [`Write`] that passes a tar stream through with uid/gid mapped host → container.
pub struct ToContainerIds<'a, W: Write> {
    inner: W,
    uids: &'a [IdMapping],
    gids: &'a [IdMapping],
    block: Vec<u8>,
    /// Data blocks still to pass before the next header.
    data_left: u64,
}

impl<'a, W: Write> ToContainerIds<'a, W> {
    /// Wraps `inner`; `uids`/`gids` are the container's maps (container → host).
    pub fn new(inner: W, uids: &'a [IdMapping], gids: &'a [IdMapping]) -> Self {
        ToContainerIds {
            inner,
            uids,
            gids,
            block: Vec::with_capacity(BLOCK),
            data_left: 0,
        }
    }
}

fn to_container(map: &[IdMapping], id: u64) -> u64 {
    map.iter()
        .find(|m| id >= u64::from(m.host) && id - u64::from(m.host) < u64::from(m.size))
        .map_or(id, |m| id - u64::from(m.host) + u64::from(m.container))
}

/// A numeric header field: octal text, or GNU base-256 (high bit of the first byte).
fn read_num(f: &[u8]) -> u64 {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        return f[1..].iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
    }
    let s: String = f
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    u64::from_str_radix(s.trim(), 8).unwrap_or(0)
}

/// Writes `n` into an 8-byte id field: 7 octal digits + NUL when it fits, else base-256.
fn write_id(f: &mut [u8], n: u64) {
    if n < 0o7777777 {
        let s = format!("{n:07o}\0");
        f.copy_from_slice(s.as_bytes());
    } else {
        f.fill(0);
        f[0] = 0x80;
        for (i, b) in f.iter_mut().rev().take(7).enumerate() {
            *b = (n >> (8 * i)) as u8;
        }
    }
}

impl<W: Write> ToContainerIds<'_, W> {
    fn header(&self, h: &mut [u8]) {
        if h.iter().all(|b| *b == 0) {
            return;
        }
        let uid = to_container(self.uids, read_num(&h[108..116]));
        let gid = to_container(self.gids, read_num(&h[116..124]));
        write_id(&mut h[108..116], uid);
        write_id(&mut h[116..124], gid);
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    fn block_done(&mut self) -> io::Result<()> {
        let mut b = std::mem::take(&mut self.block);
        if self.data_left > 0 {
            self.data_left -= 1;
        } else if b.iter().any(|x| *x != 0) {
            let size = read_num(&b[124..136]);
            self.header(&mut b);
            self.data_left = size.div_ceil(BLOCK as u64);
        }
        self.inner.write_all(&b)?;
        b.clear();
        self.block = b;
        Ok(())
    }
}

impl<W: Write> Write for ToContainerIds<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let take = (BLOCK - self.block.len()).min(rest.len());
            self.block.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.block.len() == BLOCK {
                self.block_done()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // A partial block is only ever the tail of a stream that is not over yet.
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_are_mapped_back_and_checksums_stay_valid() {
        let map = [IdMapping {
            container: 0,
            host: 3_000_000_000,
            size: 65536,
        }];
        let mut b = tar::Builder::new(Vec::new());
        for (name, uid, len) in [
            ("a", 3_000_000_000u64, 10usize),
            ("b", 3_000_001_000, 1500),
            ("c", 7, 0),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(len as u64);
            h.set_uid(uid);
            h.set_gid(uid);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, &vec![b'x'; len][..]).unwrap();
        }
        let long = "d/".repeat(80) + "long";
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_uid(3_000_000_005);
        h.set_gid(3_000_000_005);
        b.append_data(&mut h, &long, &b"xyz"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let mut out = Vec::new();
        {
            let mut w = ToContainerIds::new(&mut out, &map, &map);
            // Odd chunk sizes: blocks are reassembled across writes.
            for c in tar.chunks(333) {
                w.write_all(c).unwrap();
            }
        }
        assert_eq!(out.len(), tar.len());
        let mut a = tar::Archive::new(&out[..]);
        let got: Vec<(String, u64, u64, usize)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut v = Vec::new();
                io::Read::read_to_end(&mut e, &mut v).unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    v.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".into(), 0, 0, 10),
                ("b".into(), 1000, 1000, 1500),
                ("c".into(), 7, 7, 0),
                (long, 5, 5, 3)
            ]
        );
    }
}
