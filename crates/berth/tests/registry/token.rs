//! A tiny token server for the registry's token auth, in the test process: a std TcpListener
//! thread answering `GET /token?service=&scope=` with an RS256 JWT (signed by `openssl`, its
//! self-signed certificate in the `x5c` header and in the registry's root bundle), granting
//! the asked scope only to the right Basic credentials. It counts the tokens it issues, so
//! tests can check that the client reuses them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::support::TempDir;

/// The registry's `service` name.
pub const SERVICE: &str = "berth-test-registry";
/// The token issuer the registry trusts.
pub const ISSUER: &str = "berth-test-issuer";

/// The running token server.
pub struct TokenServer {
    pub port: u16,
    pub cert: PathBuf,
    pub user: String,
    pub pass: String,
    /// Tokens issued so far.
    pub issued: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    _dir: TempDir,
}

fn b64(data: &[u8], url: bool) -> String {
    const STD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(STD[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if !url {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    if url {
        out = out.replace('+', "-").replace('/', "_");
    }
    out
}

fn b64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TokenServer {
    pub fn start(user: &str, pass: &str) -> TokenServer {
        let dir = TempDir::new("token");
        let (key, cert, x5c) = self_signed(&dir.0);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // Non-blocking accepts, so the thread sees `stop` and ends with the server.
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicUsize::new(0));
        let (stop2, issued2) = (stop.clone(), issued.clone());
        let signer = Signer {
            key,
            x5c,
            want: format!("{user}:{pass}"),
        };
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                signer.answer(conn, &issued2);
            }
        });
        TokenServer {
            port,
            cert,
            user: user.to_owned(),
            pass: pass.to_owned(),
            issued,
            stop,
            _dir: dir,
        }
    }
}

/// A key and self-signed certificate in `dir` (key path, cert path, the DER certificate in
/// base64 for the tokens' `x5c` header).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, String) {
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    let st = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=berth-test-token"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl req");
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .unwrap()
        .stdout;
    (key, cert, b64(&der, false))
}

/// The request line's path and the `Authorization` header of one HTTP request.
fn read_request(conn: &TcpStream) -> (String, Option<String>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let mut authz = None;
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap_or(0) == 0 || l.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authz = Some(v.trim().to_owned());
            }
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
    (path, authz)
}

/// Issues tokens signed with `key` to the one user it knows.
struct Signer {
    key: PathBuf,
    x5c: String,
    /// `user:pass` as Basic auth carries it.
    want: String,
}

impl Signer {
    /// Answers one token request: 401 for wrong credentials, else a token granting the asked
    /// scopes (none to an anonymous caller).
    fn answer(&self, mut conn: TcpStream, issued: &AtomicUsize) {
        conn.set_nonblocking(false).unwrap();
        let (path, authz) = read_request(&conn);
        let query = path.split_once('?').map_or("", |(_, q)| q);
        let scopes: Vec<String> = query
            .split('&')
            .filter_map(|kv| kv.strip_prefix("scope="))
            .map(unescape)
            .collect();
        let creds = authz
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
            .map(|b| String::from_utf8_lossy(&b64_decode(b)).into_owned());
        if creds.as_ref().is_some_and(|c| c != &self.want) {
            let _ = conn.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
        // Anonymous users get a token without access.
        let access: Vec<_> = if creds.is_some() {
            scopes
                .iter()
                .filter_map(|s| {
                    let mut p = s.splitn(3, ':');
                    let (t, n, a) = (p.next()?, p.next()?, p.next()?);
                    Some(json!({"type": t, "name": n, "actions": a.split(',').collect::<Vec<_>>()}))
                })
                .collect()
        } else {
            Vec::new()
        };
        let token = self.token(access, issued.fetch_add(1, Ordering::SeqCst));
        let body = json!({"token": token, "expires_in": 300}).to_string();
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }

    /// An RS256 JWT for `access`, valid for five minutes, signed by `openssl dgst`.
    fn token(&self, access: Vec<serde_json::Value>, n: usize) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]});
        let claims = json!({"iss": ISSUER, "sub": "alice", "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("t{n}"),
            "access": access});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes(), true),
            b64(claims.to_string().as_bytes(), true)
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-binary", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let sig = child.wait_with_output().unwrap().stdout;
        format!("{input}.{}", b64(&sig, true))
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
