//! Terminals: the pty master travels over --console-socket (runc's protocol) and the container's
//! stdio is the pty slave.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use common::*;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::json;

fn recv_fd(listener: &UnixListener) -> OwnedFd {
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 4096];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel installed this descriptor for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received");
}

#[test]
fn console_socket_receives_the_pty_master() {
    let w = World::new();
    let mut spec = base_spec(
        &shared_rootfs(),
        &[
            "sh",
            "-c",
            "tty; [ -t 0 ] && echo stdin-is-tty; read line; echo got:$line",
        ],
    );
    spec["process"]["terminal"] = json!(true);
    spec["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    w.write_spec(&spec);
    let sock = w.bundle.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let id = w.id("tty");
    let mut child = w
        .cmd(&[
            "create",
            "--bundle",
            w.bundle_str(),
            "--console-socket",
            sock.to_str().unwrap(),
            &id,
        ])
        .spawn()
        .unwrap();
    let master = recv_fd(&listener);
    assert!(child.wait().unwrap().success());
    ok(&w.rt(&["start", &id]));
    let mut f = std::fs::File::from(master);
    f.write_all(b"hello\n").unwrap();
    let mut out = String::new();
    let mut buf = [0u8; 1024];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !out.contains("got:hello") && std::time::Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(n) if n > 0 => out.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => break,
        }
    }
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert!(out.contains("stdin-is-tty"), "{out}");
    assert!(out.contains("got:hello"), "{out}");
}

#[test]
fn detached_terminal_needs_a_console_socket() {
    let w = World::new();
    let mut spec = base_spec(&shared_rootfs(), &["true"]);
    spec["process"]["terminal"] = json!(true);
    w.write_spec(&spec);
    let id = w.id("tty2");
    let out = w.rt(&["create", "--bundle", w.bundle_str(), &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("console socket"));
}
