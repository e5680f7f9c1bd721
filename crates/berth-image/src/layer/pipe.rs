//! A two-stage pipeline for layer application: one thread decompresses and hashes (diff id),
//! the caller's thread parses tar entries and writes files, so decoding overlaps with disk
//! writes the way `tar -xz` overlaps with its `gzip -d` child.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::Compression;
use crate::digest::{Algorithm, Digest, Digester};

const CHUNK: usize = 1 << 20;
const DEPTH: usize = 8;

/// What the producer thread learned about the stream.
pub(super) struct Produced {
    pub(super) diff_id: Digest,
    pub(super) tar_size: u64,
}

/// Reader side of the pipeline.
pub(super) struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0), // producer finished
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

pub(super) fn channel() -> (SyncSender<io::Result<Vec<u8>>>, ChannelReader) {
    let (tx, rx) = sync_channel(DEPTH);
    (
        tx,
        ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        },
    )
}

/// Producer: decode `reader`, hash the tar bytes, send them on. Stops early (without error)
/// when the consumer hangs up; forwards read errors to the consumer.
pub(super) fn produce(
    reader: impl Read,
    media_type: Option<&str>,
    tx: SyncSender<io::Result<Vec<u8>>>,
) -> io::Result<(Produced, Compression)> {
    let (mut dec, compression) = match super::Decoder::new(reader, media_type) {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(e);
        }
    };
    let mut digester = Digester::new(Algorithm::Sha256);
    let mut total = 0u64;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            match dec.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            }
        }
        if filled == 0 {
            break;
        }
        buf.truncate(filled);
        digester.update(&buf);
        total += filled as u64;
        if tx.send(Ok(buf)).is_err() {
            break;
        }
    }
    Ok((
        Produced {
            diff_id: digester.finish(),
            tar_size: total,
        },
        compression,
    ))
}
