//! stdin and terminals: `run -i` with piped stdin, `run -it` on a real pty (window size,
//! exit code), detaching with ctrl-p ctrl-q and attaching again (also after a daemon restart),
//! `start -ai`, `exec -i` and `exec -it`, logs of a tty container.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{stderr, stdout, Daemon, BERTH};

/// A pty pair sized `rows`×`cols`: (master, slave).
fn pty(rows: u16, cols: u16) -> (File, File) {
    let (mut m, mut s) = (0, 0);
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills two fds; the winsize is ours.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: fresh descriptors we own.
    unsafe {
        (
            File::from(OwnedFd::from_raw_fd(m)),
            File::from(OwnedFd::from_raw_fd(s)),
        )
    }
}

/// `berth ARGS` on a pty; the output read so far is in `out`.
struct OnPty {
    child: Child,
    master: File,
    out: Arc<Mutex<Vec<u8>>>,
}

impl OnPty {
    fn spawn(d: &Daemon, args: &[&str]) -> OnPty {
        let (master, slave) = pty(33, 101);
        let child = Command::new(BERTH)
            .arg("-H")
            .arg(format!("unix://{}", d.sock.display()))
            .args(args)
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave)
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave closes.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnPty { child, master, out }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the output contains `what`.
    fn expect(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.text().contains(what) {
            assert!(
                Instant::now() < deadline,
                "{what:?} never came; got {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, data: &[u8]) {
        self.master.write_all(data).unwrap();
    }

    /// Waits for the CLI's exit code.
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("berth did not exit; output {:?}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `berth ARGS` with `input` on stdin.
fn with_input(d: &Daemon, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(BERTH)
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn run_i_pipes_stdin_and_start_ai() {
    let d = Daemon::start();
    d.import_busybox();
    let o = with_input(&d, &["run", "-i", "--rm", "busybox", "cat"], b"hello\nworld\n");
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("hello\nworld\n", Some(0)),
        "{}",
        stderr(&o)
    );
    let o = with_input(
        &d,
        &["run", "-i", "--rm", "busybox", "sh", "-c", "read x; echo got $x >&2; exit 4"],
        b"abc\n",
    );
    assert_eq!((stderr(&o).as_str(), o.status.code()), ("got abc\n", Some(4)));
    // Without -i stdin is not read.
    let o = with_input(&d, &["run", "--rm", "busybox", "cat"], b"ignored\n");
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("", Some(0)));

    d.ok(&["create", "-i", "--name", "cat1", "busybox", "cat"]);
    let o = with_input(&d, &["start", "-a", "-i", "cat1"], b"again\n");
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("again\n", Some(0)),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.ok(&["logs", "cat1"]), "again\n");
}

#[test]
fn run_it_gives_a_terminal_with_its_size_and_exit_code() {
    let d = Daemon::start();
    d.import_busybox();
    let mut t = OnPty::spawn(&d, &["run", "-it", "--name", "term", "busybox", "sh"]);
    t.send(b"echo v=$((6*7)); stty size; tty\n");
    t.expect("v=42");
    t.expect("33 101");
    t.expect("/dev/pts/0");
    t.send(b"exit 3\n");
    assert_eq!(t.exit_code(), Some(3), "{}", t.text());
    let st = d.ok(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "term"]);
    assert_eq!(st, "exited 3\n");
    // A tty container's log is the terminal's output (one stream, \r\n).
    assert!(d.ok(&["logs", "term"]).contains("v=42\r\n"));
    // -t without a terminal on stdin is refused, as docker does.
    let o = with_input(&d, &["run", "-it", "--rm", "busybox", "true"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a TTY"), "{}", stderr(&o));
}

#[test]
fn detach_and_attach_again_across_a_daemon_restart() {
    let mut d = Daemon::start();
    d.import_busybox();
    let mut t = OnPty::spawn(&d, &["run", "-it", "--name", "det", "busybox", "sh"]);
    t.send(b"echo first-$((1+1))\n");
    t.expect("first-2");
    t.send(&[0x10, 0x11]);
    assert_eq!(t.exit_code(), Some(0), "{}", t.text());
    let st = d.ok(&["inspect", "--format", "{{.State.Running}}", "det"]);
    assert_eq!(st, "true\n");

    d.restart();
    let mut t = OnPty::spawn(&d, &["attach", "det"]);
    // The prompt is not repeated on attach: type first, then look for the answer.
    std::thread::sleep(Duration::from_millis(300));
    t.send(b"echo second-$((2+2))\n");
    t.expect("second-4");
    t.send(b"exit 5\n");
    assert_eq!(t.exit_code(), Some(5), "{}", t.text());

    // A stopped container cannot be attached.
    let o = d.berth(&["attach", "det"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("start it first"), "{}", stderr(&o));
}

#[test]
fn exec_with_stdin_and_terminal() {
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let o = with_input(&d, &["exec", "-i", "box", "sh", "-c", "cat; exit 6"], b"piped\n");
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("piped\n", Some(6)),
        "{}",
        stderr(&o)
    );
    let mut t = OnPty::spawn(&d, &["exec", "-it", "box", "sh"]);
    t.send(b"echo in-$((3*3)); stty size; tty\n");
    t.expect("in-9");
    t.expect("33 101");
    t.expect("/dev/pts/");
    t.send(b"exit 7\n");
    assert_eq!(t.exit_code(), Some(7), "{}", t.text());
    // Without -i, stdin stays closed for the process.
    let o = with_input(&d, &["exec", "box", "cat"], b"nope\n");
    assert_eq!((stdout(&o).as_str(), o.status.code()), ("", Some(0)));
}
