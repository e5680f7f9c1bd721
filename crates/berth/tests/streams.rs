//! Many long-lived streams at once (issue 14): a thousand open `GET /events`, a thousand
//! `GET /containers/{id}/stats` and `logs?follow=1` streams must not hold a thread each, so
//! berthd's thread count stays bounded and `berth ps` still answers quickly; once the
//! clients go, threads and descriptors return to where they were.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, BERTH};

const EVENTS: usize = 1000;
const STATS: usize = 1000;
const LOGS: usize = 200;
/// berthd's threads with all streams open: tokio's workers, a few blocking threads for the
/// requests in flight, the engine's own. A thread per stream would be thousands.
const MAX_THREADS: usize = 64;
/// `berth ps` (a whole CLI process) with all streams open, median of several.
const PS_MEDIAN: Duration = Duration::from_millis(200);

/// Lets this process hold thousands of client sockets.
fn raise_nofile() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        l.rlim_cur = l.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0);
    }
    assert!(
        l.rlim_cur >= (2 * (EVENTS + STATS + LOGS) + 256) as u64,
        "the hard open-files limit ({}) is too low for this test",
        l.rlim_cur
    );
}

/// A field of /proc/PID/status (`Threads`, `VmRSS` in kB).
fn status(pid: u32, field: &str) -> usize {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Opens a streaming GET and waits for its response head, which must be a 200.
fn open_stream(d: &Daemon, path: &str) -> UnixStream {
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s
            .read(&mut b)
            .unwrap_or_else(|e| panic!("{path}: no response head: {e}"));
        assert_eq!(n, 1, "{path}: closed before the response head");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    s
}

/// Reads until `want` shows up in what the stream sent (chunk framing included).
fn read_until(s: &mut UnixStream, want: &str) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "stream ended before {want:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// Wall time of one `berth ps` (killed after 20 s: the old daemon never answered).
fn timed_ps(d: &Daemon) -> Duration {
    let t = Instant::now();
    let mut child = Command::new(BERTH)
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(["ps", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "berth ps failed: {st}");
            return t.elapsed();
        }
        if t.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            return t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn median_ps(d: &Daemon) -> (Duration, Vec<Duration>) {
    let all: Vec<Duration> = (0..7).map(|_| timed_ps(d)).collect();
    let mut sorted = all.clone();
    sorted.sort();
    (sorted[sorted.len() / 2], all)
}

/// Waits until `ok` holds for berthd's figures, or fails with them.
fn settle(pid: u32, what: &str, ok: impl Fn(usize, usize) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (t, f) = (status(pid, "Threads"), fds(pid));
        if ok(t, f) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: threads {t}, fds {f}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn thousands_of_streams_hold_no_threads() {
    raise_nofile();
    let d = Daemon::start();
    let pid = d.pid().unwrap();
    d.import_busybox();
    let name = format!("streams-{}", std::process::id());
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 1; done",
    ]);
    let (ps_before, _) = median_ps(&d);
    // Idle daemon: blocking threads from the commands above have had time to go.
    std::thread::sleep(Duration::from_secs(1));
    let (threads0, fds0, rss0) = (status(pid, "Threads"), fds(pid), status(pid, "VmRSS"));

    let mut streams = Vec::new();
    for _ in 0..EVENTS {
        streams.push(open_stream(&d, "/events"));
    }
    let mut stats = Vec::new();
    for _ in 0..STATS {
        stats.push(open_stream(&d, &format!("/containers/{name}/stats")));
    }
    let mut logs = Vec::new();
    for _ in 0..LOGS {
        logs.push(open_stream(
            &d,
            &format!("/containers/{name}/logs?follow=1&stdout=1&tail=0"),
        ));
    }
    // Every kind is live, not just open: a stats reading, a new log line, a new event.
    for s in stats.iter_mut().step_by(97) {
        read_until(s, "\"cpu_stats\"");
    }
    for s in logs.iter_mut().step_by(37) {
        read_until(s, "tick");
    }
    d.ok(&["pause", &name]);
    d.ok(&["unpause", &name]);
    for s in streams.iter_mut().step_by(97) {
        read_until(s, "\"unpause\"");
    }

    let threads = status(pid, "Threads");
    let (ps_median, ps_all) = median_ps(&d);
    let threads_ps = status(pid, "Threads");
    let (fds1, rss1) = (fds(pid), status(pid, "VmRSS"));
    eprintln!(
        "idle: {threads0} threads, {fds0} fds, {rss0} kB RSS, ps {ps_before:?}; \
         {} streams: {threads}/{threads_ps} threads, {fds1} fds, {rss1} kB RSS, ps {ps_all:?}",
        EVENTS + STATS + LOGS
    );
    assert!(
        threads.max(threads_ps) < MAX_THREADS,
        "berthd has {threads}/{threads_ps} threads with {} streams open",
        EVENTS + STATS + LOGS
    );
    assert!(
        ps_median < PS_MEDIAN,
        "berth ps took {ps_all:?} with the streams open (median {ps_median:?})"
    );

    drop(streams);
    drop(stats);
    drop(logs);
    settle(pid, "after the clients closed", |t, f| {
        t <= threads0 + 8 && f <= fds0 + 8
    });
}
