//! Bridges between blocking engine I/O and HTTP bodies: a request body read as a blocking
//! `Read`, and a blocking `Write` feeding a streamed response body. Neither buffers more
//! than a few chunks, so multi-gigabyte archives pass through in constant memory.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// The request body as a blocking reader (use it on a blocking thread).
pub struct BodyReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
    over: Arc<AtomicBool>,
}

impl BodyReader {
    /// Start forwarding `body` chunk by chunk; more than `max` bytes is a read error (and
    /// [`BodyReader::over_limit`] is true), so no route streams an unbounded body to disk.
    /// A client that goes away is a read error too: the work reading it stops.
    pub fn new(body: Body, max: u64) -> BodyReader {
        let (tx, rx) = mpsc::channel(8);
        let over = Arc::new(AtomicBool::new(false));
        let flag = over.clone();
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            let mut seen = 0u64;
            while let Some(chunk) = stream.next().await {
                let item =
                    chunk.map_err(|e| io::Error::other(format!("reading the request body: {e}")));
                seen += item.as_ref().map_or(0, |b| b.len() as u64);
                let item = if seen > max {
                    flag.store(true, Ordering::SeqCst);
                    Err(io::Error::other(format!(
                        "the request body is larger than this daemon accepts ({max} bytes)"
                    )))
                } else {
                    item
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        BodyReader {
            rx,
            cur: Bytes::new(),
            over,
        }
    }

    /// A handle telling, after the reader failed, whether it failed because of the size cap.
    pub fn over_limit(&self) -> Arc<AtomicBool> {
        self.over.clone()
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// A blocking writer whose bytes become a streamed response body.
pub struct BodyWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl BodyWriter {
    /// A writer and the body it feeds. The body ends when the writer is dropped; call
    /// [`BodyWriter::fail`] to abort it so the client sees a broken transfer, not a short file.
    pub fn new() -> (BodyWriter, Body) {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        (
            BodyWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
            Body::from_stream(stream),
        )
    }

    /// Abort the body with `e`.
    pub fn fail(self, e: impl std::fmt::Display) {
        let _ = self.tx.blocking_send(Err(io::Error::other(e.to_string())));
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}
