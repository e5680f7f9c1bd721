//! Running a command on a pseudo-terminal from a test: the child gets the slave as its stdio,
//! the test types into the master and reads what the child prints.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Daemon, BERTH};

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
    let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
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
pub struct OnPty {
    child: Child,
    master: File,
    out: Arc<Mutex<Vec<u8>>>,
}

impl OnPty {
    /// `berth -H unix://SOCK ARGS` on a 33×101 pty.
    pub fn berth(d: &Daemon, args: &[&str]) -> OnPty {
        let mut cmd = Command::new(BERTH);
        cmd.arg("-H")
            .arg(format!("unix://{}", d.sock.display()))
            .args(args);
        OnPty::spawn(cmd)
    }

    /// `cmd` on a 33×101 pty (its stdin, stdout and stderr).
    pub fn spawn(mut cmd: Command) -> OnPty {
        let (master, slave) = pty(33, 101);
        let child = cmd
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

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the output contains `what`.
    pub fn expect(&self, what: &str) {
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

    pub fn send(&mut self, data: &[u8]) {
        self.master.write_all(data).unwrap();
    }

    /// Waits for the CLI's exit code.
    pub fn exit_code(&mut self) -> Option<i32> {
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
