//! A container flooding its network's embedded DNS server with names it must forward: berthd's
//! threads stay bounded (no thread per query) and peer names still resolve meanwhile. The
//! upstream is a resolver this test runs on a loopback address (`berthd --dns`) that answers
//! one name and ignores the rest, like a dead server: no query leaves the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{stderr, stdout, Daemon};

/// berthd's threads during the flood (a thread per forwarded query would be thousands).
const MAX_THREADS: usize = 64;
/// The one name the test resolver answers, and its answer.
const KNOWN: &str = "known.flood.test";
const KNOWN_IP: [u8; 4] = [192, 0, 2, 7];

/// The test's upstream resolver on `ip:53`.
struct Upstream {
    stop: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    fn start(ip: Ipv4Addr) -> Upstream {
        let sock = UdpSocket::bind((ip, 53)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let (s, q) = (stop.clone(), queries.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                q.fetch_add(1, Ordering::Relaxed);
                if let Some(reply) = known_answer(&buf[..n]) {
                    let _ = sock.send_to(&reply, from);
                }
            }
        });
        Upstream {
            stop,
            queries,
            thread: Some(thread),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An answer for an A query of [`KNOWN`]; `None` for anything else (left unanswered).
fn known_answer(q: &[u8]) -> Option<Vec<u8>> {
    let mut name = Vec::new();
    let mut pos = 12;
    while *q.get(pos)? != 0 {
        let len = usize::from(q[pos]);
        name.push(String::from_utf8_lossy(q.get(pos + 1..pos + 1 + len)?).into_owned());
        pos += 1 + len;
    }
    let end = pos + 5;
    if name.join(".") != KNOWN || q.get(pos + 1..pos + 3)? != [0, 1] {
        return None;
    }
    let mut r = q[..2].to_vec();
    r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(q.get(12..end)?);
    r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    r.extend_from_slice(&KNOWN_IP);
    Some(r)
}

/// Removes the test's containers and network (the bridge with it) even when it fails.
struct Cleanup<'a> {
    d: &'a Daemon,
    net: String,
    bridge: Option<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let ids = self.d.berth(&["ps", "-a", "-q", "--no-trunc"]);
        for id in stdout(&ids).lines() {
            let _ = self.d.berth(&["rm", "-f", id]);
        }
        let _ = self.d.berth(&["network", "rm", &self.net]);
        if let Some(b) = &self.bridge {
            let _ = Command::new("ip").args(["link", "del", b]).output();
        }
    }
}

fn threads(pid: u32) -> usize {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// The address `nslookup NAME` gives inside a container on `net`.
fn lookup(d: &Daemon, net: &str, name: &str) -> String {
    let script = format!("nslookup {name} | awk '/^Address/ {{a=$NF}} END {{print a}}'");
    let o = d.berth(&[
        "run",
        "--rm",
        "--network",
        net,
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_owned()
}

#[test]
fn dns_flood_keeps_threads_bounded_and_peers_resolvable() {
    let pid = std::process::id();
    let upstream_ip = Ipv4Addr::new(127, 53, ((pid >> 8) & 0xff) as u8, (pid & 0xff) as u8);
    let upstream = Upstream::start(upstream_ip);
    let d = Daemon::start_with(&["--bridge", "none", "--dns", &upstream_ip.to_string()]);
    let daemon_pid = d.pid().unwrap();
    d.import_busybox();
    let net = format!("flood{pid}");
    let subnet = format!("10.{}.{}.0/24", ((pid >> 8) & 0x3f) + 192, pid & 0xff);
    let mut guard = Cleanup {
        d: &d,
        net: net.clone(),
        bridge: None,
    };
    let id = d.ok(&["network", "create", "--subnet", &subnet, &net]);
    guard.bridge = Some(format!("br-{}", &id.trim()[..12]));
    d.ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        &net,
        "busybox",
        "sleep",
        "600",
    ]);
    let peer_ip = d
        .ok(&[
            "inspect",
            "--format",
            &format!("{{{{.NetworkSettings.Networks.{net}.IPAddress}}}}"),
            "peer",
        ])
        .trim()
        .to_owned();
    // Forwarding reaches the test's resolver.
    assert_eq!(lookup(&d, &net, KNOWN), "192.0.2.7");
    let before = threads(daemon_pid);

    // A hundred lookups a second for names only the upstream could know.
    // (Not waiting for them: each lives until the resolver's answer or its own timeout.)
    let flood = "while true; do i=0; while [ $i -lt 100 ]; do \
                 nslookup f$i-$RANDOM.flood.test >/dev/null 2>&1 & i=$((i+1)); done; \
                 echo batch; sleep 1; done";
    d.ok(&[
        "run",
        "-d",
        "--name",
        "flood",
        "--network",
        &net,
        "busybox",
        "sh",
        "-c",
        flood,
    ]);
    let start = Instant::now();
    let mut most = 0;
    let mut resolved = Vec::new();
    while start.elapsed() < Duration::from_secs(8) {
        most = most.max(threads(daemon_pid));
        if resolved.len() < 3 && start.elapsed() > Duration::from_secs(2) {
            let t = Instant::now();
            resolved.push((lookup(&d, &net, "peer"), t.elapsed()));
            most = most.max(threads(daemon_pid));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let forwarded = upstream.queries.load(Ordering::Relaxed);
    let batches = d.ok(&["logs", "flood"]).matches("batch").count();
    eprintln!(
        "threads: {before} before, at most {most} during the flood of {batches} x 100 lookups; \
         {forwarded} queries reached the upstream; peer lookups: {resolved:?}"
    );
    // Each lookup is two queries (A, AAAA); the dead upstream gets what the forwarders take.
    assert!(batches >= 5, "the flood did not run: {batches} batches");
    assert!(forwarded >= 8, "nothing was forwarded: {forwarded}");
    assert!(
        most < MAX_THREADS,
        "berthd reached {most} threads under the DNS flood"
    );
    assert_eq!(resolved.len(), 3);
    for (ip, took) in &resolved {
        assert_eq!(ip, &peer_ip, "peer lookup during the flood (took {took:?})");
    }
    drop(guard);
}
