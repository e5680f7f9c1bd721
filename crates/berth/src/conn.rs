//! Where the daemon is (`unix://`, `tcp://` with or without TLS, `ssh://`) and one
//! connection to it, readable and writable from two threads (attach reads output while
//! stdin is written).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::ssh::{SshStream, SshTarget};
use crate::tls::TlsStream;

/// How long a TCP connect may take before the CLI gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A daemon address, with what it takes to talk to it.
#[derive(Clone)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `tcp://HOST:PORT`; TLS when a client configuration is given.
    Tcp {
        host: String,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
    },
    Ssh(SshTarget),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp { host, port, .. } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Ssh(t) => {
                write!(f, "ssh://")?;
                if let Some(u) = &t.user {
                    write!(f, "{u}@")?;
                }
                write!(f, "{}", t.host)?;
                match t.port {
                    Some(p) => write!(f, ":{p}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `tcp://HOST[:PORT]` as the docker CLI reads it: the port defaults to 2376 with TLS and
/// 2375 without.
pub fn parse_tcp(rest: &str, tls: bool) -> Result<(String, u16), String> {
    let rest = rest.trim_end_matches('/');
    let default = if tls { 2376 } else { 2375 };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !rest.ends_with(']') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("invalid port in tcp://{rest}"))?,
        ),
        _ => (rest, default),
    };
    if host.is_empty() {
        return Err(format!("no host in tcp://{rest}"));
    }
    Ok((host.to_owned(), port))
}

impl Endpoint {
    /// Opens a new connection (with the TLS handshake done, or ssh started).
    pub fn connect(&self) -> io::Result<Stream> {
        match self {
            Endpoint::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
            Endpoint::Tcp { host, port, tls } => {
                let tcp = tcp_connect(host, *port)?;
                match tls {
                    Some(config) => {
                        TlsStream::handshake(tcp, config.clone(), host).map(Stream::Tls)
                    }
                    None => Ok(Stream::Tcp(tcp)),
                }
            }
            Endpoint::Ssh(t) => t.connect().map(Stream::Ssh),
        }
    }
}

fn tcp_connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"));
    for addr in (bare, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                // Attach sends keystrokes one by one.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One connection to the daemon. Clones share it (one side reads, the other writes).
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(TlsStream),
    Ssh(SshStream),
}

impl Stream {
    /// A second handle on the same connection.
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Tls(s) => Stream::Tls(s.clone()),
            Stream::Ssh(s) => Stream::Ssh(s.clone()),
        })
    }

    /// Half-closes (`Write`: the daemon sees the end of stdin) or closes the connection.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Tls(s) => s.shutdown(how),
            Stream::Ssh(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => (&*s).read(buf),
            Stream::Ssh(s) => (&*s).read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(data),
            Stream::Tcp(s) => s.write(data),
            Stream::Tls(s) => (&*s).write(data),
            Stream::Ssh(s) => (&*s).write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => (&*s).flush(),
            Stream::Ssh(s) => (&*s).flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tcp_hosts_default_ports_as_docker() {
        assert_eq!(parse_tcp("h:1", true).unwrap(), ("h".into(), 1));
        assert_eq!(parse_tcp("h", true).unwrap(), ("h".into(), 2376));
        assert_eq!(parse_tcp("h", false).unwrap(), ("h".into(), 2375));
        assert_eq!(parse_tcp("[::1]:9", true).unwrap(), ("[::1]".into(), 9));
        assert!(parse_tcp(":9", true).is_err());
        assert!(parse_tcp("h:x", true).is_err());
    }
}
