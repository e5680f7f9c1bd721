//! Attaching to a container's stdio through its shim: the shim serves `attach.sock` in the
//! container's exec dir and speaks docker's 8-byte frame header in both directions (defined in
//! `berth_shim_proto::frames`). Because the shim owns the pty or pipes, an attach works the
//! same before and after a daemon restart.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_shim_proto::frames::{self, kind};
use berth_shim_proto::{StdioOpts, ATTACH_SOCKET};

use crate::containers::exits::{WaitCondition, Waiter};
use crate::containers::Containers;
use crate::error::{EngineError, Result};

/// How long an attach made before `start` waits for it.
const START_WAIT: Duration = Duration::from_secs(300);
/// How often a pending attach looks whether the container started if it has no event feed.
const START_POLL: Duration = Duration::from_millis(250);

/// A live attach: the connection to the shim, whether its output is a terminal, and what to
/// do with an exec's exit code when its `EXIT` frame arrives.
pub struct AttachConn {
    /// The shim's end speaking the frame protocol.
    pub stream: UnixStream,
    /// The output is a terminal (one raw stream).
    pub tty: bool,
    /// Whether stdin frames reach the process.
    pub stdin: bool,
    on_exit: Option<Box<dyn FnOnce(i32) + Send>>,
}

impl AttachConn {
    pub(crate) fn new(stream: UnixStream, tty: bool, stdin: bool) -> AttachConn {
        AttachConn {
            stream,
            tty,
            stdin,
            on_exit: None,
        }
    }

    pub(crate) fn with_exit(mut self, f: impl FnOnce(i32) + Send + 'static) -> AttachConn {
        self.on_exit = Some(Box::new(f));
        self
    }

    /// Takes the exit handler (the relay calls it on the `EXIT` frame).
    pub fn take_on_exit(&mut self) -> Option<Box<dyn FnOnce(i32) + Send>> {
        self.on_exit.take()
    }
}

/// Connects to `dir/attach.sock` through `/proc/self/fd` (the full path may be longer than a
/// socket address allows).
fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    let d = std::fs::File::open(dir)?;
    UnixStream::connect(format!("/proc/self/fd/{}/{ATTACH_SOCKET}", d.as_raw_fd()))
}

/// An attach accepted (the container exists), not yet connected. While it waits for a start it
/// is counted, so the start tells the shim to hold the output for it; dropping it uncounts it.
pub struct AttachTicket {
    engine: Arc<Containers>,
    id: String,
    /// Whether the container has a terminal (decides the stream's content type).
    pub tty: bool,
    stdin: bool,
    /// The next exit, when the container was not running at attach time.
    waiter: Option<Waiter>,
}

impl AttachTicket {
    /// Whether the attach can connect now: `Some(true)` when the container runs (or ran and
    /// exited since: its shim still holds the output for this attach), `Some(false)` while it
    /// has not started, `None` when it is gone.
    fn ready(&self) -> Option<bool> {
        let Some(waiter) = &self.waiter else {
            return Some(true);
        };
        let running = self
            .engine
            .lock()
            .containers
            .get(&self.id)
            .map(|r| r.state.running)?;
        match (running, waiter.try_result()) {
            (true, _) | (_, Ok(Some(_))) => Some(true),
            (false, Ok(None)) => Some(false),
            (false, Err(())) => None,
        }
    }

    /// Awaits the container's start (at most five minutes) without holding a thread: it looks
    /// again at each engine event (the start emits one) and at the exit of a quick program.
    /// `false` when it will not start.
    pub async fn wait_start(&mut self) -> bool {
        // Subscribed before the first look, so a start in between still wakes us.
        let mut events = self
            .engine
            .events
            .subscribe(None, None, crate::EventFilter::default());
        let deadline = tokio::time::Instant::now() + START_WAIT;
        loop {
            match self.ready() {
                Some(true) => return true,
                None => return false,
                Some(false) => {}
            }
            let Some(changed) = self.waiter.as_ref().map(Waiter::changed) else {
                return true;
            };
            tokio::select! {
                e = events.next() => {
                    if e.is_none() {
                        // No feed (cannot happen while we hold the engine): look now and then.
                        tokio::time::sleep(START_POLL).await;
                    }
                }
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    /// Connects to the shim and subscribes to the output (after [`AttachTicket::wait_start`]
    /// for a container that was not running). `None` when it exited meanwhile.
    pub fn connect(self) -> Option<AttachConn> {
        // Fails when it exited meanwhile (the shim removes its socket first).
        let mut stream = connect(&self.engine.exec_dir(&self.id)).ok()?;
        stream
            .write_all(&frames::encode(kind::SUBSCRIBE, &[]))
            .ok()?;
        Some(AttachConn::new(stream, self.tty, self.stdin))
    }
}

impl Drop for AttachTicket {
    fn drop(&mut self) {
        if self.waiter.is_none() {
            return;
        }
        let mut inner = self.engine.lock();
        if let Some(n) = inner.attach_pending.get_mut(&self.id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.attach_pending.remove(&self.id);
            }
        }
    }
}

impl Containers {
    /// The shim's stdio options for container `id`: its config, and the attaches waiting for
    /// this start (the shim holds the output for them).
    pub(crate) fn shim_stdio_opts(&self, id: &str, cfg: &crate::ContainerConfig) -> StdioOpts {
        StdioOpts {
            tty: cfg.tty,
            stdin: cfg.open_stdin,
            stdin_once: cfg.stdin_once,
            hold: self.lock().attach_pending.get(id).copied().unwrap_or(0),
        }
    }

    /// `POST /containers/{id}/attach?stream=1`: checks the container and, if it is not
    /// running, registers the attach for its next start; [`AttachTicket::connect`] then
    /// waits for that start (the shim holds the output until this attach is connected).
    pub fn attach(self: &Arc<Self>, key: &str) -> Result<AttachTicket> {
        let id = Self::find_id(&self.lock(), key)?;
        let waiter = self.wait(&id, WaitCondition::NextExit)?;
        let mut inner = self.lock();
        let rec = inner
            .containers
            .get(&id)
            .ok_or_else(|| EngineError::NoSuchContainer(key.to_owned()))?;
        let (running, tty, stdin) = (rec.state.running, rec.config.tty, rec.config.open_stdin);
        if !running {
            *inner.attach_pending.entry(id.clone()).or_insert(0) += 1;
        }
        Ok(AttachTicket {
            engine: self.clone(),
            id,
            tty,
            stdin,
            waiter: (!running).then_some(waiter),
        })
    }

    /// `POST /containers/{id}/resize`: sets the terminal size of a running tty container.
    pub fn resize(&self, key: &str, rows: u16, cols: u16) -> Result<()> {
        let id = {
            let inner = self.lock();
            let id = Self::find_id(&inner, key)?;
            if !inner.containers.get(&id).is_some_and(|r| r.state.running) {
                return Err(EngineError::Conflict(format!(
                    "Container {id} is not running"
                )));
            }
            id
        };
        let mut s = connect(&self.exec_dir(&id))
            .map_err(|e| EngineError::Conflict(format!("Container {id} is not running: {e}")))?;
        s.write_all(&frames::resize(rows, cols))
            .map_err(|e| EngineError::Internal(format!("resize {id}: {e}")))
    }
}
