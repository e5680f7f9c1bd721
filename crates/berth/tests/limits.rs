//! Request limits (issue 14): no body, gzip bomb or header exhausts berthd, and `cp` out of a
//! container never ends in a silent truncation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{docker_cli, Daemon};

/// `VmHWM` (peak RSS, KiB), `VmRSS` (KiB) and `Threads` of a process.
fn proc_status(pid: u32) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"), field("Threads:"))
}

/// A chunked request body on the socket.
struct Chunked(UnixStream);

impl Write for Chunked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !buf.is_empty() {
            write!(self.0, "{:x}\r\n", buf.len())?;
            self.0.write_all(buf)?;
            self.0.write_all(b"\r\n")?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chunked {
    fn finish(mut self) -> std::io::Result<()> {
        self.0.write_all(b"0\r\n\r\n")
    }
}

/// Sends `head` (request line and headers), runs `body` on its own thread (its write errors
/// are expected once the daemon answers early), and reads the whole response.
fn exchange(
    d: &Daemon,
    head: &str,
    body: impl FnOnce(UnixStream) -> std::io::Result<()> + Send + 'static,
) -> (String, Duration) {
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let t = Instant::now();
    let mut w = s.try_clone().unwrap();
    let head = head.to_owned();
    // The daemon may answer (and close) before it read everything: write errors are expected.
    let writer = std::thread::spawn(move || {
        w.write_all(head.as_bytes())?;
        body(w)
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let took = t.elapsed();
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    (String::from_utf8_lossy(&out).into_owned(), took)
}

fn status(resp: &str) -> u16 {
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {resp:?}"))
}

/// The `message` of a JSON error body.
fn message(resp: &str) -> String {
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let v: serde_json::Value = serde_json::from_str(body.trim())
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {resp:?}"));
    v["message"].as_str().unwrap_or_default().to_owned()
}

const BUILD_HEAD: &str = "POST /v1.45/build?t=bomb HTTP/1.1\r\nHost: x\r\n\
    Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n";

/// A gzipped tar of `files` files of `size` zero bytes each, generated as it is sent (never
/// on disk uncompressed).
fn send_bomb(s: UnixStream, files: usize, size: u64) -> std::io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(Chunked(s), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for i in 0..files {
        let mut h = tar::Header::new_ustar();
        h.set_path(format!("zeros{i}"))?;
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        gz.write_all(h.as_bytes())?;
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            gz.write_all(&zeros[..n])?;
            left -= n as u64;
        }
    }
    gz.write_all(&[0u8; 1024])?;
    gz.finish()?.finish()
}

fn spool_entries(d: &Daemon) -> usize {
    std::fs::read_dir(d.dir.join("data/tmp")).map_or(0, |r| r.count())
}

/// Sends a ~3 GiB bomb as `files` files and checks the 413, the time, the peak RSS and that
/// nothing is left; returns the figures for the log.
fn bomb(d: &Daemon, files: usize) -> String {
    let pid = d.pid().expect("berthd is running");
    let before = proc_status(pid);
    let size = (3u64 << 30) / files as u64;
    let (resp, took) = exchange(d, BUILD_HEAD, move |s| send_bomb(s, files, size));
    assert_eq!(status(&resp), 413, "{resp}\n{}", d.log());
    assert!(message(&resp).contains("build context is larger"), "{resp}");
    assert!(took < Duration::from_secs(120), "took {took:?}");
    let after = proc_status(pid);
    // Peak RSS over the daemon's whole life, bomb included.
    assert!(after.0 < 200 * 1024, "peak RSS {} KiB", after.0);
    // The work stopped with the request: the spool directory is gone, threads are back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while (spool_entries(d) > 0 || proc_status(pid).2 > before.2 + 2) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        spool_entries(d),
        0,
        "a build context was left under data/tmp"
    );
    let settled = proc_status(pid);
    assert!(
        settled.2 <= before.2 + 2,
        "threads {before:?} -> {settled:?}"
    );
    format!(
        "{files} file(s): 413 after {took:?}; VmHWM {} -> {} KiB, VmRSS {} -> {} KiB, threads {} -> {}",
        before.0, settled.0, before.1, settled.1, before.2, settled.2
    )
}

#[test]
fn gzip_bomb_build_context_is_413_with_bounded_memory() {
    let d = Daemon::start();
    // One 3 GiB file: refused at its header (default cap, 2 GiB).
    let one = bomb(&d, 1);
    eprintln!("{one}");
    // Many 64 MiB files: refused once 512 MiB have been decompressed to disk.
    let d = Daemon::start_with(&["--bridge", "none", "--build-context-max-size", "512m"]);
    let many = bomb(&d, 48);
    eprintln!("{many}");
    // A build after the bombs works and leaves no context behind either.
    d.import_busybox();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\nCOPY f /f\n").unwrap();
    std::fs::write(dir.path().join("f"), "hello").unwrap();
    d.ok(&[
        "build",
        "-q",
        "-t",
        "after-bomb",
        dir.path().to_str().unwrap(),
    ]);
    let out = d.ok(&["run", "--rm", "after-bomb", "cat", "/f"]);
    assert_eq!(out, "hello");
    assert_eq!(spool_entries(&d), 0);
}

#[test]
fn huge_json_body_is_413_with_a_json_message() {
    let d = Daemon::start();
    let len = 8 << 20;
    let head = format!(
        "POST /v1.45/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n"
    );
    let (resp, took) = exchange(&d, &head, move |mut s| {
        s.write_all(b"{\"Image\":\"")?;
        s.write_all(&vec![b'a'; len - 12])?;
        s.write_all(b"\"}")
    });
    assert_eq!(status(&resp), 413, "{resp}");
    assert!(message(&resp).contains("limited to"), "{resp}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Still serving.
    assert!(d.raw("GET", "/_ping").ends_with("OK"));
}

#[test]
fn bogus_lengths_truncated_bodies_and_huge_headers_are_clear_errors() {
    let d = Daemon::start();
    let send = |head: &str, body: &'static [u8]| {
        exchange(&d, head, move |mut s| {
            s.write_all(body)?;
            s.shutdown(std::net::Shutdown::Write)
        })
        .0
    };
    let post =
        "POST /v1.45/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    let r = send(&format!("{post}Content-Length: abc\r\n\r\n"), b"{}");
    assert_eq!(status(&r), 400, "{r}");
    let r = send(
        &format!("{post}Content-Length: 2\r\nContent-Length: 3\r\n\r\n"),
        b"{}",
    );
    assert_eq!(status(&r), 400, "{r}");
    // Fewer bytes than declared, then the client closes its side.
    let r = send(
        &format!("{post}Content-Length: 1000\r\n\r\n"),
        b"{\"Image\":",
    );
    assert_eq!(status(&r), 400, "{r}");
    assert!(!message(&r).is_empty(), "{r}");
    let r = send(
        "POST /v1.45/build HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
        &[0u8; 2000],
    );
    assert_eq!(status(&r), 400, "{r}");
    assert!(message(&r).contains("build context"), "{r}");
    // A megabyte of headers.
    let big = format!(
        "GET /v1.45/_ping HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let r = send(&big, b"");
    assert_eq!(status(&r), 431, "{r}");
    assert!(d.raw("GET", "/_ping").ends_with("OK"));
    assert_eq!(spool_entries(&d), 0);
}

#[test]
fn streamed_bodies_over_max_upload_size_are_413() {
    let d = Daemon::start_with(&["--bridge", "none", "--max-upload-size", "1m"]);
    // A declared length over the cap: refused before the body is read.
    let (r, _) = exchange(
        &d,
        "POST /v1.45/images/load HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n",
        |_| Ok(()),
    );
    assert_eq!(status(&r), 413, "{r}");
    assert!(message(&r).contains("--max-upload-size"), "{r}");
    // Chunked, so the daemon counts: import and build.
    for head in [
        "POST /v1.45/images/create?fromSrc=-&repo=big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        BUILD_HEAD,
    ] {
        let (r, _) = exchange(&d, head, |s| {
            let mut c = Chunked(s);
            // Incompressible, so the compressed build context is over the cap too.
            let mut x: u32 = 1;
            let noise: Vec<u8> = (0..(3 << 20))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let mut h = tar::Header::new_ustar();
            h.set_path("noise")?;
            h.set_size(noise.len() as u64);
            h.set_cksum();
            c.write_all(h.as_bytes())?;
            c.write_all(&noise)?;
            c.finish()
        });
        assert_eq!(status(&r), 413, "{head}: {r}");
        assert!(message(&r).contains("--max-upload-size"), "{r}");
    }
    let images = d.ok(&["images", "-q"]);
    assert!(images.trim().is_empty(), "{images}");
    assert_eq!(spool_entries(&d), 0);
}

#[test]
fn cp_out_of_a_container_fails_when_a_read_fails_mid_stream() {
    let d = Daemon::start();
    d.import_busybox();
    let name = format!("cp-eio-{}", std::process::id());
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    // Sysfs attributes that fail once the stat header is out: a write-only one cannot be
    // opened (EACCES, at an entry boundary: before, the tar just ended and cp reported
    // success with nothing copied), and the directory holds files whose read fails (EIO,
    // inside an entry).
    let dir = "/sys/devices/system/clocksource/clocksource0";
    let write_only = format!("{dir}/unbind_clocksource");
    let dest = tempfile::tempdir().unwrap();
    let docker = docker_cli();
    for (i, src) in [write_only.as_str(), dir].into_iter().enumerate() {
        let target = dest.path().join(format!("berth-{i}"));
        let o = d.berth(&["cp", &format!("{name}:{src}"), target.to_str().unwrap()]);
        assert!(
            !o.status.success(),
            "berth cp {src} reported success on a failed read"
        );
        let Some(docker) = &docker else {
            eprintln!("docker CLI not installed: its half skipped");
            continue;
        };
        let target = dest.path().join(format!("docker-{i}"));
        let o = d.docker(
            docker,
            &["cp", &format!("{name}:{src}"), target.to_str().unwrap()],
        );
        assert!(
            !o.status.success(),
            "docker cp {src} reported success on a failed read: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!Path::new(&target).join("unbind_clocksource").exists());
    }
}

/// `ADD` of an archive bomb that sits in the context as a small file: it is decompressed to a
/// temporary file up to the context's cap, never into memory, and the build fails clearly.
#[test]
fn add_of_an_archive_bomb_is_refused_with_bounded_memory() {
    let d = Daemon::start_with(&["--bridge", "none", "--build-context-max-size", "64m"]);
    d.import_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let size: u64 = 256 << 20;
    let mut h = tar::Header::new_ustar();
    h.set_path("zeros").unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    gz.write_all(h.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        gz.write_all(&zeros).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    std::fs::write(ctx.path().join("bomb.tar.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nADD bomb.tar.gz /x/\n",
    )
    .unwrap();
    let pid = d.pid().expect("berthd is running");
    let (hwm_before, _, _) = proc_status(pid);
    let o = d.berth(&["build", "-t", "addbomb", &ctx.path().display().to_string()]);
    let (hwm_after, _, _) = proc_status(pid);
    assert!(!o.status.success(), "the bomb was added");
    let err = common::stderr(&o) + &common::stdout(&o);
    assert!(err.contains("larger than"), "{err}");
    assert!(
        hwm_after < 150_000,
        "berthd peaked at {hwm_after} KiB (before: {hwm_before} KiB)"
    );
    eprintln!("ADD bomb: berthd VmHWM {hwm_before} -> {hwm_after} KiB");
    let images = d.ok(&["images", "-q", "addbomb"]);
    assert!(images.trim().is_empty(), "{images}");
}

/// A tar header whose data the tar parser would hold whole in memory (a GNU long name of
/// 1.5 GiB) is refused as the stream passes, without the daemon allocating it.
#[test]
fn a_huge_long_name_header_in_a_load_is_refused_with_bounded_memory() {
    let d = Daemon::start();
    let pid = d.pid().expect("berthd is running");
    let (hwm_before, _, _) = proc_status(pid);
    let head = "POST /v1.45/images/load HTTP/1.1\r\nHost: x\r\n\
        Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (resp, took) = exchange(&d, head, |s| {
        let mut w = Chunked(s);
        let size: u64 = 3 << 29;
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_path("././@LongLink")?;
        h.set_size(size);
        h.set_cksum();
        w.write_all(h.as_bytes())?;
        let zeros = vec![b'a'; 1 << 20];
        for _ in 0..(size >> 20) {
            w.write_all(&zeros)?;
        }
        w.finish()
    });
    let (hwm_after, _, _) = proc_status(pid);
    assert!(resp.contains("extension header"), "{resp}");
    assert!(
        hwm_after < 200_000,
        "berthd peaked at {hwm_after} KiB (before: {hwm_before} KiB)"
    );
    eprintln!("long-name bomb: {took:?}, berthd VmHWM {hwm_before} -> {hwm_after} KiB");
}
