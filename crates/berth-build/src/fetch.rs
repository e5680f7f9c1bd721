//! ADD's remote sources: a plain HTTP/1.0 GET with timeouts (no TLS: an `https://` source is
//! a clear error rather than a silent skip).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(15);

/// Downloads `url`; errors say why in words a user can act on.
pub fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "cannot fetch {url}: only http:// URLs are supported by ADD (no TLS client built in)"
        ));
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/".to_owned()),
    };
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    let addr = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let fail = |e: std::io::Error| format!("cannot fetch {url}: {e}");
    let sock = addr
        .to_socket_addrs()
        .map_err(fail)?
        .next()
        .ok_or_else(|| format!("cannot fetch {url}: no address for {host}"))?;
    let mut s = TcpStream::connect_timeout(&sock, TIMEOUT).map_err(fail)?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: berth-build\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(fail)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(fail)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("cannot fetch {url}: malformed HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    if status != 200 {
        return Err(format!("cannot fetch {url}: HTTP status {status}"));
    }
    Ok(raw[split + 4..].to_vec())
}

/// The file name an URL downloads to.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if name.is_empty() || name.contains(':') {
        "index.html".into()
    } else {
        name.into()
    }
}
