//! Where the API listens (`-H unix://PATH`, `-H tcp://ADDR:PORT`, as dockerd's `--host`) and
//! the TCP acceptor: TLS handshakes (or the plain-port sniff) run in their own tasks, bounded
//! in number and time, so a client that connects and says nothing holds neither the accept
//! loop nor a slot forever.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// One `-H` address.
#[derive(Debug, Clone, PartialEq)]
pub enum Host {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// How long a client has to finish the TLS handshake (or send its first byte).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; connections beyond are closed at once.
const MAX_HANDSHAKES: usize = 256;
/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;
/// What dockerd (Go's TLS server) answers an HTTP request on a TLS port.
const HTTP_ON_TLS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Parses a `-H` value: `unix://PATH` (`unix://` alone: `default_unix`) or `tcp://HOST:PORT`
/// (`tcp://:PORT` is 127.0.0.1; a missing port is 2376 with TLS, 2375 without, as dockerd).
pub fn parse_host(h: &str, default_unix: &Path, tls: bool) -> Result<Host> {
    if let Some(p) = h.strip_prefix("unix://") {
        return Ok(Host::Unix(match p {
            "" => default_unix.to_path_buf(),
            p => PathBuf::from(p),
        }));
    }
    let Some(rest) = h.strip_prefix("tcp://") else {
        bail!("unsupported host {h:?}: use unix://PATH or tcp://ADDR:PORT");
    };
    let rest = rest.trim_end_matches('/');
    let port = if tls { 2376 } else { 2375 };
    let spec = if rest.is_empty() {
        format!("127.0.0.1:{port}")
    } else if let Some(p) = rest.strip_prefix(':') {
        format!("127.0.0.1:{p}")
    } else if rest.ends_with(']') || !rest.contains(':') {
        format!("{rest}:{port}")
    } else {
        rest.to_owned()
    };
    let addr = spec
        .to_socket_addrs()
        .with_context(|| format!("invalid host {h:?}"))?
        .next()
        .with_context(|| format!("invalid host {h:?}: no address"))?;
    Ok(Host::Tcp(addr))
}

/// Connections whose TLS handshake (or plain-port check) is done, for `axum::serve`.
pub struct Incoming<Io> {
    rx: mpsc::Receiver<(Io, SocketAddr)>,
    local: SocketAddr,
}

impl<Io> axum::serve::Listener for Incoming<Io>
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    type Io = Io;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Io, SocketAddr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The acceptor only ends with the runtime; shutdown comes through axum's signal.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Binds `addr` (synchronously, so a taken port stops the daemon before it serves).
pub fn bind_tcp(addr: SocketAddr) -> Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr).with_context(|| format!("listen on tcp://{addr}"))?;
    l.set_nonblocking(true)
        .with_context(|| format!("listen on tcp://{addr}"))?;
    Ok(l)
}

/// Serves TLS on `listener`: hands on connections whose handshake succeeded.
pub fn tls(
    listener: std::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> Result<Incoming<TlsStream<TcpStream>>> {
    let acceptor = TlsAcceptor::from(config);
    spawn_acceptor(listener, move |tcp, peer| {
        let acceptor = acceptor.clone();
        async move { tls_handshake(acceptor, tcp, peer).await }
    })
}

/// Serves plain HTTP on `listener`, turning away TLS clients with a log line.
pub fn plain(listener: std::net::TcpListener) -> Result<Incoming<TcpStream>> {
    spawn_acceptor(listener, |tcp, peer| async move {
        match first_byte(&tcp).await {
            Some(TLS_HANDSHAKE) => {
                let local = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
                tracing::warn!(
                    "a TLS client ({peer}) connected to the plain HTTP port tcp://{local}: \
                     closed (this port serves HTTP without TLS; the client wants TLS)"
                );
                None
            }
            Some(_) => Some(tcp),
            None => None,
        }
    })
}

/// The first byte the client sent, without consuming it; `None` if it closed or said nothing
/// in time.
async fn first_byte(tcp: &TcpStream) -> Option<u8> {
    let mut b = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut b)).await {
        Ok(Ok(1)) => Some(b[0]),
        _ => None,
    }
}

async fn tls_handshake(
    acceptor: TlsAcceptor,
    mut tcp: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    match first_byte(&tcp).await {
        Some(TLS_HANDSHAKE) => {}
        Some(_) => {
            tracing::warn!("plain HTTP from {peer} on the TLS port: answered 400");
            let _ = tcp.write_all(HTTP_ON_TLS).await;
            let _ = tcp.shutdown().await;
            return None;
        }
        None => return None,
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::warn!("TLS handshake with {peer} failed: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("TLS handshake with {peer} timed out");
            None
        }
    }
}

/// Accepts on `listener` and runs `handshake` for each connection in its own task.
fn spawn_acceptor<Io, F, Fut>(listener: std::net::TcpListener, handshake: F) -> Result<Incoming<Io>>
where
    Io: Send + 'static,
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<Io>> + Send + 'static,
{
    let listener = TcpListener::from_std(listener).context("TCP listener")?;
    let local = listener.local_addr().context("TCP listener")?;
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors, mostly: give connections a moment to close.
                    tracing::warn!("accept on tcp://{local}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Attach and exec streams send keystrokes: no Nagle delay.
            let _ = tcp.set_nodelay(true);
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!("too many TLS handshakes at once: closed {peer}");
                continue;
            };
            let (tx, hs) = (tx.clone(), handshake(tcp, peer));
            tokio::spawn(async move {
                let conn = hs.await;
                drop(slot);
                if let Some(io) = conn {
                    let _ = tx.send((io, peer)).await;
                }
            });
        }
    });
    Ok(Incoming { rx, local })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hosts_parse_as_dockerd_reads_them() {
        let d = Path::new("/run/berth/berth.sock");
        assert_eq!(
            parse_host("unix://", d, false).unwrap(),
            Host::Unix(d.into())
        );
        assert_eq!(
            parse_host("unix:///tmp/x.sock", d, false).unwrap(),
            Host::Unix("/tmp/x.sock".into())
        );
        let tcp = |s: &str| Host::Tcp(s.parse().unwrap());
        assert_eq!(
            parse_host("tcp://127.0.0.1:2999", d, true).unwrap(),
            tcp("127.0.0.1:2999")
        );
        assert_eq!(
            parse_host("tcp://:2999", d, true).unwrap(),
            tcp("127.0.0.1:2999")
        );
        assert_eq!(
            parse_host("tcp://127.0.0.1", d, true).unwrap(),
            tcp("127.0.0.1:2376")
        );
        assert_eq!(
            parse_host("tcp://", d, false).unwrap(),
            tcp("127.0.0.1:2375")
        );
        assert_eq!(
            parse_host("tcp://[::1]:3000", d, true).unwrap(),
            tcp("[::1]:3000")
        );
        assert!(parse_host("fd://", d, true).is_err());
        assert!(parse_host("tcp://127.0.0.1:notaport", d, true).is_err());
    }
}
