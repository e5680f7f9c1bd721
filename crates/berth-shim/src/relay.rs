//! The shim's one poll loop: the container's output (pty master or stdout/stderr pipes) goes to
//! the json-file log and to every subscribed attach client; clients' stdin frames go to the
//! container's stdin (buffered, never blocking the loop), resize frames to the pty; SIGCHLD
//! reaps the init (and any orphan inherited as subreaper).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::logger::{JsonLog, Stream};
use berth_shim_proto::frames::{self, kind, Parser};

/// How long output is still collected after the init died (a grandchild may hold the pipe).
const DRAIN: Duration = Duration::from_secs(2);
/// Output queued for a client that does not read; beyond it the client is dropped.
const CLIENT_BACKLOG: usize = 8 << 20;
/// Stdin queued for the container before clients are no longer read.
const STDIN_BACKLOG: usize = 64 << 10;
/// Size of the read buffer (kept small: the shim's memory is per container).
const BUF: usize = 16 << 10;
/// Quiet time (ms) after which the monitor drops its code's page mappings (`trim.rs`)...
const IDLE_TRIM_MS: u16 = 200;
/// ...at most this often (output in between maps the logging code again).
const RETRIM: Duration = Duration::from_secs(30);

/// The container's side of the stdio.
pub struct Stdio {
    /// The pty master (tty) or the stdout pipe's read end.
    pub out: Option<OwnedFd>,
    /// The stderr pipe's read end (none with a tty).
    pub err: Option<OwnedFd>,
    /// Where stdin bytes go: the stdin pipe's write end, or a duplicate of the pty master.
    pub stdin: Option<OwnedFd>,
    /// Whether `out` is a pty master (resize applies, EIO means the terminal closed).
    pub tty: bool,
}

struct Client {
    sock: UnixStream,
    parser: Parser,
    pending: Vec<u8>,
    subscribed: bool,
    dead: bool,
}

impl Client {
    fn new(sock: UnixStream, subscribed: bool) -> Client {
        Client {
            sock,
            parser: Parser::default(),
            pending: Vec::new(),
            subscribed,
            dead: false,
        }
    }

    /// Writes what it can of the queue without blocking.
    fn flush(&mut self) {
        while !self.pending.is_empty() && !self.dead {
            match self.sock.write(&self.pending) {
                Ok(0) => self.dead = true,
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.dead = true,
            }
        }
    }
}

/// Which descriptor a poll entry stands for.
#[derive(Clone, Copy)]
enum Tag {
    Signal,
    Listen,
    Out(usize),
    Stdin,
    Client(usize),
}

/// The loop's state.
pub struct Relay {
    io: Stdio,
    stdin_buf: Vec<u8>,
    close_stdin: bool,
    /// Whether a client's end of stdin closes the container's (docker's `StdinOnce`).
    stdin_once: bool,
    listener: Option<UnixListener>,
    clients: Vec<Client>,
    log: Option<JsonLog>,
    /// Subscriptions still expected before output is read (attaches made before start).
    hold: usize,
    hold_until: Instant,
}

impl Relay {
    /// A relay for `io`; `hold` attach subscriptions are awaited (at most `hold_for`) before the
    /// output is read, so an attach made before the start sees the first bytes.
    pub fn new(io: Stdio, stdin_once: bool, hold: usize, hold_for: Duration) -> Relay {
        Relay {
            io,
            stdin_buf: Vec::new(),
            close_stdin: false,
            stdin_once,
            listener: None,
            clients: Vec::new(),
            log: None,
            hold,
            hold_until: Instant::now() + hold_for,
        }
    }

    /// Accepts attach connections on `l`.
    pub fn listen(&mut self, l: UnixListener) {
        let _ = l.set_nonblocking(true);
        self.listener = Some(l);
    }

    /// Adds a client that is subscribed from the start (an exec's berthd end).
    pub fn add_client(&mut self, sock: UnixStream) {
        let _ = sock.set_nonblocking(true);
        self.clients.push(Client::new(sock, true));
    }

    /// Writes the output to `log` as well.
    pub fn log_to(&mut self, log: JsonLog) {
        self.log = Some(log);
    }

    fn holding(&self) -> bool {
        let subscribed = self.clients.iter().filter(|c| c.subscribed).count();
        subscribed < self.hold && Instant::now() < self.hold_until
    }

    /// Relays until the process `init` has exited and its output is drained (or [`DRAIN`]
    /// passed). Returns docker's exit code (128+N for signal N).
    pub fn run(&mut self, init: i32, sfd: &SignalFd) -> i32 {
        let mut code = reap(init);
        let mut exited_at = code.map(|_| Instant::now());
        let mut buf = vec![0u8; BUF];
        let mut last_trim: Option<Instant> = None;
        loop {
            let holding = self.holding();
            let outputs_open = self.io.out.is_some() || self.io.err.is_some();
            let mut deadline = None;
            if holding {
                deadline = Some(self.hold_until);
            } else if let Some(t) = exited_at {
                if !outputs_open || t.elapsed() >= DRAIN {
                    break;
                }
                deadline = Some(t + DRAIN);
            }
            let idle_trim = deadline.is_none() && last_trim.is_none_or(|t| t.elapsed() >= RETRIM);
            let timeout = match deadline {
                Some(d) => PollTimeout::try_from(d.saturating_duration_since(Instant::now()))
                    .unwrap_or(PollTimeout::MAX),
                None if idle_trim => PollTimeout::from(IDLE_TRIM_MS),
                None => PollTimeout::NONE,
            };
            let ready = self.poll_once(sfd, holding, timeout);
            if idle_trim && ready.is_empty() {
                crate::trim::drop_clean_mappings();
                last_trim = Some(Instant::now());
            }
            for (tag, ev) in ready {
                match tag {
                    Tag::Signal => {
                        while let Ok(Some(_)) = sfd.read_signal() {}
                        if let Some(c) = reap(init) {
                            if code.is_none() {
                                code = Some(c);
                                exited_at = Some(Instant::now());
                            }
                        }
                    }
                    Tag::Listen => self.accept(),
                    Tag::Out(i) => self.read_output(i, &mut buf),
                    Tag::Stdin => self.write_stdin(),
                    Tag::Client(i) => self.serve_client(i, ev, &mut buf),
                }
            }
            self.clients.retain(|c| !c.dead);
        }
        if let Some(log) = self.log.as_mut() {
            let _ = log.flush_partial(Stream::Stdout);
            let _ = log.flush_partial(Stream::Stderr);
        }
        code.unwrap_or(255)
    }

    /// Sends what is queued to each client (blocking, bounded), `last` after it, and closes.
    pub fn finish(&mut self, last: Option<Vec<u8>>) {
        for c in &mut self.clients {
            if let Some(l) = &last {
                c.pending.extend_from_slice(l);
            }
            let _ = c.sock.set_nonblocking(false);
            let _ = c.sock.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = c.sock.write_all(&c.pending);
            let _ = c.sock.shutdown(std::net::Shutdown::Both);
        }
        self.clients.clear();
    }

    fn poll_once(
        &self,
        sfd: &SignalFd,
        holding: bool,
        timeout: PollTimeout,
    ) -> Vec<(Tag, PollFlags)> {
        // Collect (tag, fd, events) first; the poll set borrows the descriptors.
        let mut entries: Vec<(Tag, BorrowedFd<'_>, PollFlags)> =
            vec![(Tag::Signal, sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(l) = &self.listener {
            entries.push((Tag::Listen, l.as_fd(), PollFlags::POLLIN));
        }
        if !holding {
            for (i, fd) in [&self.io.out, &self.io.err].into_iter().enumerate() {
                if let Some(fd) = fd {
                    entries.push((Tag::Out(i), fd.as_fd(), PollFlags::POLLIN));
                }
            }
        }
        if let Some(fd) = &self.io.stdin {
            if !self.stdin_buf.is_empty() {
                entries.push((Tag::Stdin, fd.as_fd(), PollFlags::POLLOUT));
            }
        }
        let read_clients = self.stdin_buf.len() < STDIN_BACKLOG;
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = PollFlags::empty();
            if read_clients {
                ev |= PollFlags::POLLIN;
            }
            if !c.pending.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            entries.push((Tag::Client(i), c.sock.as_fd(), ev));
        }
        let tags: Vec<Tag> = entries.iter().map(|e| e.0).collect();
        let mut fds: Vec<PollFd> = entries
            .into_iter()
            .map(|(_, fd, ev)| PollFd::new(fd, ev))
            .collect();
        if poll(&mut fds, timeout).is_err() {
            return Vec::new();
        }
        tags.into_iter()
            .zip(fds.iter())
            .filter_map(|(t, f)| f.revents().filter(|r| !r.is_empty()).map(|r| (t, r)))
            .collect()
    }

    fn accept(&mut self) {
        let Some(l) = &self.listener else { return };
        while let Ok((sock, _)) = l.accept() {
            let _ = sock.set_nonblocking(true);
            self.clients.push(Client::new(sock, false));
        }
    }

    fn read_output(&mut self, i: usize, buf: &mut [u8]) {
        let fd = if i == 0 { &self.io.out } else { &self.io.err };
        let Some(fd) = fd else { return };
        match nix::unistd::read(fd, buf) {
            Ok(0) => self.close_output(i),
            Ok(n) => {
                let (stream, code) = if i == 0 {
                    (Stream::Stdout, kind::STDOUT)
                } else {
                    (Stream::Stderr, kind::STDERR)
                };
                if let Some(log) = self.log.as_mut() {
                    let _ = log.push(stream, &buf[..n]);
                }
                let frame = frames::encode(code, &buf[..n]);
                for c in self.clients.iter_mut().filter(|c| c.subscribed) {
                    if c.pending.len() > CLIENT_BACKLOG {
                        c.dead = true;
                        continue;
                    }
                    c.pending.extend_from_slice(&frame);
                    c.flush();
                }
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
            // EIO: the terminal's last slave closed.
            Err(_) => self.close_output(i),
        }
    }

    fn close_output(&mut self, i: usize) {
        let stream = if i == 0 {
            self.io.out = None;
            Stream::Stdout
        } else {
            self.io.err = None;
            Stream::Stderr
        };
        if let Some(log) = self.log.as_mut() {
            let _ = log.flush_partial(stream);
        }
    }

    fn write_stdin(&mut self) {
        let Some(fd) = &self.io.stdin else {
            self.stdin_buf.clear();
            return;
        };
        match nix::unistd::write(fd, &self.stdin_buf) {
            Ok(n) => {
                self.stdin_buf.drain(..n);
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
            // The container closed its stdin: drop what is queued.
            Err(_) => {
                self.stdin_buf.clear();
                self.io.stdin = None;
            }
        }
        if self.stdin_buf.is_empty() && self.close_stdin {
            self.io.stdin = None;
        }
    }

    fn serve_client(&mut self, i: usize, ev: PollFlags, buf: &mut [u8]) {
        if ev.contains(PollFlags::POLLOUT) {
            self.clients[i].flush();
        }
        if !ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return;
        }
        let c = &mut self.clients[i];
        match c.sock.read(buf) {
            // The connection went away (berthd stopped or the client detached): the
            // container's stdin stays open, as it does for docker.
            Ok(0) => c.dead = true,
            Ok(n) => c.parser.push(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => c.dead = true,
        }
        loop {
            let frame = match self.clients[i].parser.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => {
                    self.clients[i].dead = true;
                    break;
                }
            };
            self.handle_frame(i, frame);
        }
    }

    fn handle_frame(&mut self, i: usize, (kind, data): (u8, Vec<u8>)) {
        match kind {
            kind::STDIN if self.io.stdin.is_some() && !self.close_stdin => {
                self.stdin_buf.extend_from_slice(&data);
                self.write_stdin();
            }
            // As docker: a terminal's stdin stays open (a detach also ends the client's input).
            kind::STDIN_CLOSE if self.stdin_once && !self.io.tty => {
                self.close_stdin = true;
                if self.stdin_buf.is_empty() {
                    self.io.stdin = None;
                }
            }
            kind::RESIZE if self.io.tty => {
                if let (Some(out), Some((rows, cols))) = (&self.io.out, frames::parse_resize(&data))
                {
                    berth_runtime::tty::set_size(out.as_raw_fd(), rows, cols);
                }
            }
            kind::SUBSCRIBE => self.clients[i].subscribed = true,
            _ => {}
        }
    }
}

/// Reaps every exited child; returns the init's exit code if it was among them.
pub fn reap(init: i32) -> Option<i32> {
    let mut found = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) if pid.as_raw() == init => found = Some(c),
            Ok(WaitStatus::Signaled(pid, s, _)) if pid.as_raw() == init => {
                found = Some(128 + s as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(_) => {}
        }
    }
}
