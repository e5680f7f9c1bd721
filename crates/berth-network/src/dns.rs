//! The embedded DNS server of a user-defined network (like podman's aardvark-dns): UDP on the
//! network's gateway address, port 53. It answers A queries for the names of the network's
//! containers (name, aliases, short id) and forwards everything else to the host's resolvers.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Names on one network (lower case, no trailing dot) → addresses.
pub type NameTable = Arc<RwLock<HashMap<String, Vec<Ipv4Addr>>>>;

const TYPE_A: u16 = 1;
const TTL: u32 = 600;

/// A running server; dropping it stops the thread.
pub struct DnsServer {
    stop: Arc<AtomicBool>,
    ip: Ipv4Addr,
    /// Names served.
    pub names: NameTable,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the TCP accept so its thread sees the flag.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from((self.ip, 53)),
            Duration::from_millis(200),
        );
    }
}

/// Threads per network that forward queries upstream (each waits for one answer at a time).
const FORWARDERS: usize = 4;
/// Forwards waiting for a free forwarder; past this, a query gets REFUSED at once.
const QUEUE: usize = 128;
/// A query queued longer than this is answered SERVFAIL without asking upstream: its client
/// is about to retry or give up, and a dead upstream must not make the queue a backlog of
/// minutes.
const STALE: Duration = Duration::from_secs(1);
/// DNS-over-TCP connections served at once; more are closed.
const TCP_CONNS: usize = 16;

/// A query to forward and who asked.
struct Forward {
    query: Vec<u8>,
    from: SocketAddr,
    queued: Instant,
}

impl DnsServer {
    /// Listens on `ip:53` and serves `names`; queries for other names go to `upstream`.
    /// Its threads are bounded whatever the containers send: one UDP and one TCP listener,
    /// [`FORWARDERS`] forwarders behind a queue of [`QUEUE`], at most [`TCP_CONNS`]
    /// connections.
    pub fn start(ip: Ipv4Addr, names: NameTable, upstream: Vec<Ipv4Addr>) -> std::io::Result<Self> {
        let sock = UdpSocket::bind((ip, 53))?;
        sock.set_read_timeout(Some(Duration::from_millis(300)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let tcp = TcpListener::bind((ip, 53))?;
        let (queue, jobs) = mpsc::sync_channel::<Forward>(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..FORWARDERS {
            let (reply, jobs, up) = (sock.try_clone()?, jobs.clone(), upstream.clone());
            std::thread::Builder::new()
                .name(format!("dns-fwd{n}-{ip}"))
                .spawn(move || forwarder(&reply, &jobs, &up))?;
        }
        let (s2, n2) = (stop.clone(), names.clone());
        std::thread::Builder::new()
            .name(format!("dns-{ip}"))
            .spawn(move || serve(sock, n2, queue, s2))?;
        let (s3, n3) = (stop.clone(), names.clone());
        std::thread::Builder::new()
            .name(format!("dns-tcp-{ip}"))
            .spawn(move || serve_tcp(tcp, n3, upstream, s3))?;
        Ok(DnsServer { stop, ip, names })
    }
}

/// Takes queued queries until the server stops (its sender is dropped).
fn forwarder(reply: &UdpSocket, jobs: &Mutex<mpsc::Receiver<Forward>>, upstream: &[Ipv4Addr]) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        if job.queued.elapsed() > STALE {
            if let Some(q) = parse_question(&job.query) {
                let _ = reply.send_to(&failure(&job.query, &q, 2), job.from);
            }
            continue;
        }
        forward(reply, &job.query, job.from, upstream);
    }
}

/// `query` answered with no records and `rcode` (2 SERVFAIL, 5 REFUSED).
fn failure(query: &[u8], q: &Question, rcode: u8) -> Vec<u8> {
    let mut r = answer(query, q, &[]);
    r[3] = (r[3] & 0xf0) | rcode;
    r
}

fn serve(sock: UdpSocket, names: NameTable, queue: SyncSender<Forward>, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let query = &buf[..n];
        let Some(q) = parse_question(query) else {
            continue;
        };
        let hit = names
            .read()
            .ok()
            .and_then(|t| t.get(&q.name.to_ascii_lowercase()).cloned());
        if let Some(ips) = hit {
            let ips = if q.qtype == TYPE_A { ips } else { Vec::new() };
            let _ = sock.send_to(&answer(query, &q, &ips), from);
            continue;
        }
        let job = Forward {
            query: query.to_vec(),
            from,
            queued: Instant::now(),
        };
        if let Err(TrySendError::Full(_)) = queue.try_send(job) {
            // Flooded: say so at once rather than queue without end (the client may retry).
            let _ = sock.send_to(&failure(query, &q, 5), from);
        }
    }
}

/// DNS over TCP (clients retry there after a truncated answer): one query per connection
/// turn, each connection on its own thread, at most [`TCP_CONNS`] at once.
fn serve_tcp(l: TcpListener, names: NameTable, upstream: Vec<Ipv4Addr>, stop: Arc<AtomicBool>) {
    let open = Arc::new(AtomicUsize::new(0));
    for conn in l.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut c) = conn else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= TCP_CONNS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closed
        }
        let (names, upstream, done) = (names.clone(), upstream.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("dns-tcp-conn".into())
            .spawn(move || {
                serve_conn(&mut c, &names, &upstream);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Answers the queries of one TCP connection until it closes or idles for 5 s.
fn serve_conn(c: &mut TcpStream, names: &NameTable, upstream: &[Ipv4Addr]) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut len = [0u8; 2];
    while c.read_exact(&mut len).is_ok() {
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if c.read_exact(&mut q).is_err() {
            return;
        }
        let Some(reply) = resolve(&q, names, upstream) else {
            return;
        };
        let n = (reply.len() as u16).to_be_bytes();
        if c.write_all(&n).and_then(|()| c.write_all(&reply)).is_err() {
            return;
        }
    }
}

/// The answer to one query: ours, or the first upstream's (over UDP).
fn resolve(query: &[u8], names: &NameTable, upstream: &[Ipv4Addr]) -> Option<Vec<u8>> {
    let q = parse_question(query)?;
    let hit = names
        .read()
        .ok()
        .and_then(|t| t.get(&q.name.to_ascii_lowercase()).cloned());
    if let Some(ips) = hit {
        let ips = if q.qtype == TYPE_A { ips } else { Vec::new() };
        return Some(answer(query, &q, &ips));
    }
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = vec![0u8; 65535];
    for up in upstream {
        if s.send_to(query, (*up, 53)).is_ok() {
            if let Ok(n) = s.recv(&mut buf) {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    Some(failure(query, &q, 2))
}

/// Asks the upstream resolvers in turn; relays the first answer.
fn forward(reply: &UdpSocket, query: &[u8], client: SocketAddr, upstream: &[Ipv4Addr]) {
    let Ok(s) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    for up in upstream {
        if s.send_to(query, (*up, 53)).is_err() {
            continue;
        }
        if let Ok(n) = s.recv(&mut buf) {
            let _ = reply.send_to(&buf[..n], client);
            return;
        }
    }
    // No resolver answered: SERVFAIL, so the client does not wait for its own timeout.
    if let Some(q) = parse_question(query) {
        let _ = reply.send_to(&failure(query, &q, 2), client);
    }
}

/// The first question of a query.
#[derive(Debug, PartialEq)]
pub struct Question {
    /// Dotted name, no trailing dot.
    pub name: String,
    /// Query type.
    pub qtype: u16,
    /// Offset just past the question.
    pub end: usize,
}

/// Parses the header and first question of a DNS query.
pub fn parse_question(msg: &[u8]) -> Option<Question> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 || u16::from_be_bytes([msg[4], msg[5]]) == 0 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *msg.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(msg.get(pos..pos + len)?).into_owned());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    msg.get(pos + 3)?;
    Some(Question {
        name: labels.join("."),
        qtype,
        end: pos + 4,
    })
}

/// An authoritative answer to `query` with A records `ips` (none: NOERROR, empty).
pub fn answer(query: &[u8], q: &Question, ips: &[Ipv4Addr]) -> Vec<u8> {
    let mut r = Vec::with_capacity(q.end + ips.len() * 16);
    r.extend_from_slice(&query[..2]);
    // QR, the query's opcode and RD, AA; RA; NOERROR.
    r.push(0x80 | (query[2] & 0x79) | 0x04);
    r.push(0x80);
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&(ips.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&query[12..q.end]);
    for ip in ips {
        r.extend_from_slice(&[0xc0, 0x0c]);
        r.extend_from_slice(&TYPE_A.to_be_bytes());
        r.extend_from_slice(&[0, 1]);
        r.extend_from_slice(&TTL.to_be_bytes());
        r.extend_from_slice(&[0, 4]);
        r.extend_from_slice(&ip.octets());
    }
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn parses_and_answers() {
        let q = query("web.local", TYPE_A);
        let p = parse_question(&q).unwrap();
        assert_eq!(p.name, "web.local");
        assert_eq!(p.qtype, TYPE_A);
        let r = answer(&q, &p, &[Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[2] & 0x80, 0x80);
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1);
        assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 2]);
        assert!(parse_question(&q[..10]).is_none());
    }

    #[test]
    fn serves_names_on_loopback() {
        let names: NameTable = Arc::default();
        names
            .write()
            .unwrap()
            .insert("web".into(), vec![Ipv4Addr::new(10, 1, 2, 3)]);
        // Port 53 needs root; skip quietly otherwise.
        let Ok(srv) = DnsServer::start(Ipv4Addr::new(127, 0, 0, 53 + 100), names, vec![]) else {
            return;
        };
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.send_to(&query("web", TYPE_A), "127.0.0.153:53").unwrap();
        let mut buf = [0u8; 512];
        let n = c.recv(&mut buf).unwrap();
        assert_eq!(&buf[n - 4..n], &[10, 1, 2, 3]);
        let mut t = TcpStream::connect("127.0.0.153:53").unwrap();
        let q = query("WEB", TYPE_A);
        t.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
        t.write_all(&q).unwrap();
        let mut len = [0u8; 2];
        t.read_exact(&mut len).unwrap();
        let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
        t.read_exact(&mut r).unwrap();
        assert_eq!(&r[r.len() - 4..], &[10, 1, 2, 3]);
        drop(srv);
    }
}
