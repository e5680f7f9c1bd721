//! A minimal HTTP/1.1 client over a unix socket (or TCP, TLS, ssh: see `conn`), for the
//! Docker API subset the CLI uses.
//!
//! Why hand-written instead of hyper: the CLI makes a handful of sequential requests; a
//! blocking client over a stream needs no async runtime (faster start, smaller binary)
//! and only has to speak what berthd answers: `Content-Length` or chunked bodies, or bodies
//! ending at EOF. Request bodies are sent whole or chunked from a reader (`import -`).

use std::io::{self, BufRead, BufReader, Read, Write};

use serde::de::DeserializeOwned;

use crate::conn::{Endpoint, Stream};

/// The API version the CLI speaks (prefixed to every path).
pub const API_PREFIX: &str = "/v1.45";

/// Why a request failed.
#[derive(Debug)]
pub enum ClientError {
    /// Nobody answered at the endpoint (named as `unix://…`, `tcp://…`, `ssh://…`), or the
    /// TLS handshake failed.
    Connect(String, io::Error),
    /// The connection broke or the answer was not HTTP.
    Io(io::Error),
    /// The daemon answered with an error status and message.
    Api { status: u16, message: String },
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connect(p, e) if e.raw_os_error().is_some() => write!(
                f,
                "Cannot connect to the Berth daemon at {p}. Is the berth daemon running? ({e})"
            ),
            ClientError::Connect(p, e) => write!(f, "error during connect: {p}: {e}"),
            ClientError::Io(e) => write!(f, "error during connect: {e}"),
            ClientError::Api { message, .. } => write!(f, "Error response from daemon: {message}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// What to send as the request body.
pub enum Body<'a> {
    Empty,
    Json(serde_json::Value),
    /// Streamed with chunked transfer encoding.
    Stream(&'a mut dyn Read),
}

/// The daemon at one endpoint.
#[derive(Clone)]
pub struct Client {
    pub endpoint: Endpoint,
}

/// How the response body is delimited.
enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    Eof,
}

/// A response whose body is read as a stream.
pub struct Response {
    pub status: u16,
    /// The `Content-Type` header (docker's raw or multiplexed stream, JSON, ...).
    pub content_type: String,
    /// `X-Docker-Container-Path-Stat` (base64 JSON of `cp`'s path stat), if sent.
    pub path_stat: String,
    reader: BufReader<Stream>,
    framing: Framing,
}

impl Client {
    /// Whether something answers at the endpoint.
    pub fn reachable(&self) -> bool {
        self.endpoint.connect().is_ok()
    }

    /// A new connection to the daemon.
    pub fn connect(&self) -> Result<Stream, ClientError> {
        self.endpoint
            .connect()
            .map_err(|e| ClientError::Connect(self.endpoint.to_string(), e))
    }

    /// Sends one request on a new connection; error statuses become [`ClientError::Api`].
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
    ) -> Result<Response, ClientError> {
        self.request_with_headers(method, path, body, &[])
    }

    /// [`request`](Self::request) with extra headers (e.g. `X-Registry-Auth`).
    pub fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        headers: &[(&str, &str)],
    ) -> Result<Response, ClientError> {
        let mut stream = self.connect()?;
        let mut head = format!(
            "{method} {API_PREFIX}{path} HTTP/1.1\r\nHost: berth\r\nUser-Agent: berth-cli/{}\r\nConnection: close\r\n",
            env!("CARGO_PKG_VERSION")
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        match body {
            Body::Empty => {
                head.push_str("\r\n");
                stream.write_all(head.as_bytes())?;
            }
            Body::Json(v) => {
                let data = v.to_string();
                head.push_str(&format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    data.len()
                ));
                stream.write_all(head.as_bytes())?;
                stream.write_all(data.as_bytes())?;
            }
            Body::Stream(r) => {
                head.push_str(
                    "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n",
                );
                stream.write_all(head.as_bytes())?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = r.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    stream.write_all(format!("{n:x}\r\n").as_bytes())?;
                    stream.write_all(&buf[..n])?;
                    stream.write_all(b"\r\n")?;
                }
                stream.write_all(b"0\r\n\r\n")?;
            }
        }
        let mut resp = Response::read_head(stream)?;
        if resp.status >= 400 {
            let mut data = Vec::new();
            resp.read_to_end(&mut data)?;
            let message = serde_json::from_slice::<serde_json::Value>(&data)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&data).trim().to_owned());
            return Err(ClientError::Api {
                status: resp.status,
                message,
            });
        }
        Ok(resp)
    }

    /// `POST path` hijacked like docker's attach (`Upgrade: tcp`), with an optional JSON body:
    /// once the daemon answers 101 the stream is in place, and the raw connection carries the
    /// output until it closes. Also returns the connection's write side, for stdin.
    pub fn hijack_duplex(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(Response, Stream), ClientError> {
        let mut stream = self.connect()?;
        let data = body.map(|b| b.to_string()).unwrap_or_default();
        let ctype = if body.is_some() {
            "Content-Type: application/json\r\n"
        } else {
            ""
        };
        write!(
            stream,
            "POST {API_PREFIX}{path} HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n{ctype}Content-Length: {}\r\n\r\n{data}",
            data.len()
        )?;
        let writer = stream.try_clone()?;
        let mut resp = Response::read_head(stream)?;
        if resp.status != 101 {
            let mut data = Vec::new();
            resp.read_to_end(&mut data)?;
            let message = serde_json::from_slice::<serde_json::Value>(&data)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&data).trim().to_owned());
            return Err(ClientError::Api {
                status: resp.status,
                message,
            });
        }
        resp.framing = Framing::Eof;
        Ok((resp, writer))
    }

    /// A request whose JSON answer is decoded as `T`.
    pub fn json<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
    ) -> Result<T, ClientError> {
        let mut resp = self.request(method, path, body)?;
        let mut data = Vec::new();
        resp.read_to_end(&mut data)?;
        serde_json::from_slice(&data).map_err(|e| ClientError::Io(io::Error::other(e)))
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

impl Response {
    fn read_head(stream: Stream) -> io::Result<Response> {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("malformed HTTP status line"))?;
        let mut framing = Framing::Eof;
        let mut content_type = String::new();
        let mut path_stat = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-type" {
                    content_type = v.to_owned();
                } else if k == "x-docker-container-path-stat" {
                    path_stat = v.to_owned();
                } else if k == "content-length" {
                    framing = Framing::Length(v.parse().map_err(|_| bad("bad content-length"))?);
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    framing = Framing::Chunked {
                        left: 0,
                        done: false,
                    };
                }
            }
        }
        if matches!(status, 204 | 304) {
            framing = Framing::Length(0);
        }
        Ok(Response {
            status,
            content_type,
            path_stat,
            reader,
            framing,
        })
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.framing {
            Framing::Eof => self.reader.read(buf),
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let max = buf.len().min(*left as usize);
                let n = self.reader.read(&mut buf[..max])?;
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    if self.reader.read_line(&mut line)? == 0 {
                        return Err(bad("connection closed in chunked body"));
                    }
                    let size = line.trim().split(';').next().unwrap_or("");
                    *left = u64::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
                    if *left == 0 {
                        *done = true;
                        // Trailers, if any, end with an empty line.
                        loop {
                            line.clear();
                            if self.reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                                break;
                            }
                        }
                        return Ok(0);
                    }
                }
                let max = buf.len().min(*left as usize);
                let n = self.reader.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(bad("connection closed in chunk"));
                }
                *left -= n as u64;
                if *left == 0 {
                    let mut crlf = [0u8; 2];
                    self.reader.read_exact(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

/// Splits docker's multiplexed stream into stdout and stderr until it ends.
pub fn demux(mut r: impl Read, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
    let mut head = [0u8; 8];
    let mut buf = Vec::new();
    loop {
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        buf.resize(len, 0);
        r.read_exact(&mut buf)?;
        let w: &mut dyn Write = if head[0] == 2 { &mut *err } else { &mut *out };
        w.write_all(&buf)?;
        w.flush()?;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn demux_splits_streams() {
        let data = b"\x01\0\0\0\0\0\0\x03hi\n\x02\0\0\0\0\0\0\x04err\n";
        let (mut o, mut e) = (Vec::new(), Vec::new());
        demux(&data[..], &mut o, &mut e).unwrap();
        assert_eq!(o, b"hi\n");
        assert_eq!(e, b"err\n");
    }

    #[test]
    fn chunked_responses() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .unwrap();
        drop(b);
        let mut r = Response::read_head(Stream::Unix(a)).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((r.status, s.as_str()), (200, "abcde"));
    }
}
