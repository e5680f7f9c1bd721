//! Interactive streams for `run -i/-t`, `start -a -i`, `attach` and `exec -i/-t`: the
//! terminal in raw mode while attached, stdin copied to the hijacked connection (with the
//! ctrl-p ctrl-q detach sequence on a terminal), the output back (raw for a tty, else
//! demultiplexed), and the window size sent now and on every SIGWINCH.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::client::{demux, Body, Client, Response};
use crate::conn::Stream;
use crate::Failure;

/// Docker's default detach sequence: ctrl-p ctrl-q.
const DETACH: [u8; 2] = [0x10, 0x11];

/// How an attached session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The output ended (the process exited).
    Ended,
    /// The user typed the detach sequence; the process keeps running.
    Detached,
}

/// Whether `fd` is a terminal.
pub fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Our terminal in raw mode; restored when dropped.
struct RawMode(Option<libc::termios>);

impl RawMode {
    fn enter() -> RawMode {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios we own.
        unsafe {
            let mut orig: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut orig) != 0 {
                return RawMode(None);
            }
            let mut raw = orig;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSANOW, &raw);
            RawMode(Some(orig))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            // SAFETY: restoring the attributes read in `enter`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
    }
}

/// The size of our terminal (rows, cols), if stdout or stdin is one.
fn window_size() -> Option<(u16, u16)> {
    for fd in [1, 0] {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills a winsize we own.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// Blocks SIGWINCH in this thread (and threads spawned later), so the resize thread can wait
/// for it. Call before spawning other threads.
pub fn block_winch() {
    // SAFETY: sigset operations on a local set; pthread_sigmask on our thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Sends our window size to `resize_path` (`/containers/ID/resize` or `/exec/ID/resize`) now
/// and on every SIGWINCH (see [`block_winch`]).
pub fn follow_window_size(c: &Client, resize_path: &str) {
    let send = {
        let c = c.clone();
        let path = resize_path.to_owned();
        move || {
            if let Some((h, w)) = window_size() {
                let _ = c.request("POST", &format!("{path}?h={h}&w={w}"), Body::Empty);
            }
        }
    };
    send();
    let _ = std::thread::Builder::new()
        .name("winch".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait on a set holding SIGWINCH, blocked by `block_winch`.
            let rc = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGWINCH);
                libc::sigwait(&set, &mut sig)
            };
            if rc != 0 {
                return;
            }
            send();
        });
}

/// Copies stdin to the connection until EOF (then half-closes it) or the detach sequence
/// (then closes it and sets `detached`).
fn copy_stdin(mut conn: Stream, detach: bool, detached: Arc<AtomicBool>) {
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 4096];
    let mut matched = 0usize;
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = conn.shutdown(std::net::Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            if detach && b == DETACH[matched] {
                matched += 1;
                if matched == DETACH.len() {
                    let _ = conn.write_all(&out);
                    detached.store(true, Ordering::SeqCst);
                    let _ = conn.shutdown(std::net::Shutdown::Both);
                    return;
                }
                continue;
            }
            out.extend_from_slice(&DETACH[..matched]);
            matched = 0;
            if detach && b == DETACH[0] {
                matched = 1;
            } else {
                out.push(b);
            }
        }
        if conn.write_all(&out).is_err() {
            return;
        }
    }
}

/// Relays one attached session: stdin (if `stdin`) to `writer`, the output of `resp` to our
/// stdout/stderr, with our terminal raw when `tty`.
pub fn pump(resp: Response, writer: Stream, tty: bool, stdin: bool) -> io::Result<Outcome> {
    let raw = (tty && stdin && is_tty(0)).then(RawMode::enter);
    let detached = Arc::new(AtomicBool::new(false));
    if stdin {
        let d = detached.clone();
        let detach = tty;
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || copy_stdin(writer, detach, d))?;
    }
    let result = if tty {
        copy_raw(resp)
    } else {
        demux(resp, &mut io::stdout(), &mut io::stderr())
    };
    drop(raw);
    if detached.load(Ordering::SeqCst) {
        return Ok(Outcome::Detached);
    }
    result.map(|()| Outcome::Ended)
}

fn copy_raw(mut r: impl Read) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let mut buf = [0u8; 16 << 10];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A detach closed the connection under us.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

/// `-t` needs a terminal on stdin when stdin is attached, as docker checks.
pub fn check_tty(tty: bool, stdin: bool) -> Result<(), Failure> {
    if tty && stdin && !is_tty(0) {
        return Err(Failure {
            code: 1,
            message: "the input device is not a TTY".into(),
        });
    }
    Ok(())
}
