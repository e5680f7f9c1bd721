//! stdin and terminals: `run -i` with piped stdin, `run -it` on a real pty (window size,
//! exit code), detaching with ctrl-p ctrl-q and attaching again (also after a daemon restart),
//! `start -ai`, `exec -i` and `exec -it`, logs of a tty container.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod pty;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{stderr, stdout, Daemon, BERTH};
use pty::OnPty;

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
    let o = with_input(
        &d,
        &["run", "-i", "--rm", "busybox", "cat"],
        b"hello\nworld\n",
    );
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("hello\nworld\n", Some(0)),
        "{}",
        stderr(&o)
    );
    let o = with_input(
        &d,
        &[
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "read x; echo got $x >&2; exit 4",
        ],
        b"abc\n",
    );
    assert_eq!(
        (stderr(&o).as_str(), o.status.code()),
        ("got abc\n", Some(4))
    );
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
    let mut t = OnPty::berth(&d, &["run", "-it", "--name", "term", "busybox", "sh"]);
    t.send(b"echo v=$((6*7)); stty size; tty\n");
    t.expect("v=42");
    t.expect("33 101");
    t.expect("/dev/pts/0");
    t.send(b"exit 3\n");
    assert_eq!(t.exit_code(), Some(3), "{}", t.text());
    let st = d.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        "term",
    ]);
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
    let mut t = OnPty::berth(&d, &["run", "-it", "--name", "det", "busybox", "sh"]);
    t.send(b"echo first-$((1+1))\n");
    t.expect("first-2");
    t.send(&[0x10, 0x11]);
    assert_eq!(t.exit_code(), Some(0), "{}", t.text());
    let st = d.ok(&["inspect", "--format", "{{.State.Running}}", "det"]);
    assert_eq!(st, "true\n");

    d.restart();
    let mut t = OnPty::berth(&d, &["attach", "det"]);
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
    let o = with_input(
        &d,
        &["exec", "-i", "box", "sh", "-c", "cat; exit 6"],
        b"piped\n",
    );
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        ("piped\n", Some(6)),
        "{}",
        stderr(&o)
    );
    let mut t = OnPty::berth(&d, &["exec", "-it", "box", "sh"]);
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
