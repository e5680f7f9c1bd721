//! Reading a container's json-file log (`docker logs`): stream selection, `tail`, and
//! `follow` until the container stops.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::containers::Containers;
use crate::error::{EngineError, Result};

/// The most rotated files looked for (`LOG.1` … `LOG.N`).
const ROTATED_MAX: u32 = 100;

/// `LOG.n`.
fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut p = path.to_path_buf().into_os_string();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// How often a followed log is checked for more lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// Which output stream a log entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// The container's stdout.
    Stdout,
    /// The container's stderr.
    Stderr,
}

/// One entry: the bytes the container wrote (a line, with its `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Which stream.
    pub stream: LogStream,
    /// When the shim read it (RFC 3339).
    pub time: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What `docker logs` asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Keep streaming while the container runs.
    pub follow: bool,
    /// Only the last N entries (of the selected streams).
    pub tail: Option<usize>,
    /// Only entries at or after this unix time.
    pub since: Option<i64>,
    /// Only entries before this unix time.
    pub until: Option<i64>,
}

#[derive(Deserialize)]
struct Line {
    log: String,
    stream: String,
    #[serde(default)]
    time: String,
}

/// An iterator over log entries; with `follow` it blocks for new ones while the container runs.
pub struct LogReader {
    file: Option<BufReader<File>>,
    /// Inode of `file`, to notice that the live log was rotated under us.
    ino: u64,
    /// Files still to read after `file`: rotated ones, oldest first, then the live log.
    queue: VecDeque<PathBuf>,
    /// The live log (what the shim writes now).
    live: PathBuf,
    opts: LogOptions,
    backlog: VecDeque<LogEntry>,
    partial: String,
    running: Box<dyn Fn() -> bool + Send>,
    finished: bool,
}

impl LogReader {
    fn parse(&self, line: &str) -> Option<LogEntry> {
        let l: Line = serde_json::from_str(line).ok()?;
        let stream = match l.stream.as_str() {
            "stdout" if self.opts.stdout => LogStream::Stdout,
            "stderr" if self.opts.stderr => LogStream::Stderr,
            _ => return None,
        };
        if self.opts.since.is_some() || self.opts.until.is_some() {
            let t = crate::time::parse_rfc3339(&l.time)?;
            if self.opts.since.is_some_and(|s| t < s) || self.opts.until.is_some_and(|u| t >= u) {
                return None;
            }
        }
        Some(LogEntry {
            stream,
            time: l.time,
            data: l.log.into_bytes(),
        })
    }

    fn new(
        file: Option<File>,
        queue: VecDeque<PathBuf>,
        live: PathBuf,
        opts: LogOptions,
        running: Box<dyn Fn() -> bool + Send>,
    ) -> LogReader {
        let ino = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.ino());
        LogReader {
            file: file.map(BufReader::new),
            ino,
            queue,
            live,
            opts,
            backlog: VecDeque::new(),
            partial: String::new(),
            running,
            finished: false,
        }
    }

    fn open(&mut self, path: &Path) {
        self.partial.clear();
        match File::open(path) {
            Ok(f) => {
                self.ino = f.metadata().map_or(0, |m| m.ino());
                self.file = Some(BufReader::new(f));
            }
            Err(_) => self.file = None,
        }
    }

    /// Reads the next complete line, moving through rotated files to the live log and onto a
    /// new live log after a rotation; `None` if nothing more is there now.
    fn read_line(&mut self) -> Option<String> {
        loop {
            if let Some(file) = self.file.as_mut() {
                loop {
                    let mut buf = String::new();
                    match file.read_line(&mut buf) {
                        Ok(0) | Err(_) => {
                            self.partial.push_str(&buf);
                            break;
                        }
                        Ok(_) => {
                            self.partial.push_str(&buf);
                            if self.partial.ends_with('\n') {
                                return Some(std::mem::take(&mut self.partial));
                            }
                        }
                    }
                }
            }
            if let Some(next) = self.queue.pop_front() {
                self.open(&next);
                continue;
            }
            let live_ino = std::fs::metadata(&self.live).map_or(0, |m| m.ino());
            if live_ino != 0 && live_ino != self.ino {
                // The file we read was rotated away (and is drained): continue in the new one.
                let live = self.live.clone();
                self.open(&live);
                continue;
            }
            return None;
        }
    }

    fn load_tail(&mut self, n: usize) {
        while let Some(line) = self.read_line() {
            if let Some(e) = self.parse(&line) {
                self.backlog.push_back(e);
                if self.backlog.len() > n {
                    self.backlog.pop_front();
                }
            }
        }
    }
}

/// What [`LogReader::poll_entry`] found.
#[derive(Debug)]
pub enum LogPoll {
    /// The next entry.
    Entry(LogEntry),
    /// Nothing new yet; the container still runs (follow): look again later.
    Pending,
    /// The end: everything read and not following (or the container stopped).
    End,
}

impl LogReader {
    /// The next entry without waiting, so a follower can sleep on a timer between looks
    /// instead of parking a thread.
    pub fn poll_entry(&mut self) -> LogPoll {
        if let Some(e) = self.backlog.pop_front() {
            return LogPoll::Entry(e);
        }
        if self.finished {
            return LogPoll::End;
        }
        while let Some(line) = self.read_line() {
            if let Some(e) = self.parse(&line) {
                return LogPoll::Entry(e);
            }
        }
        if self.opts.follow && (self.running)() {
            return LogPoll::Pending;
        }
        // One last pass: the shim writes everything before the exit is recorded.
        self.finished = true;
        while let Some(line) = self.read_line() {
            if let Some(e) = self.parse(&line) {
                self.backlog.push_back(e);
            }
        }
        self.backlog
            .pop_front()
            .map_or(LogPoll::End, LogPoll::Entry)
    }
}

impl Iterator for LogReader {
    type Item = LogEntry;

    /// Blocks (polling) for new entries while following.
    fn next(&mut self) -> Option<LogEntry> {
        loop {
            match self.poll_entry() {
                LogPoll::Entry(e) => return Some(e),
                LogPoll::End => return None,
                LogPoll::Pending => std::thread::sleep(FOLLOW_POLL),
            }
        }
    }
}

impl Containers {
    /// `docker logs`: entries of container `key`'s log.
    pub fn logs(self: &Arc<Self>, key: &str, opts: LogOptions) -> Result<LogReader> {
        let id = Self::find_id(&self.lock(), key)?;
        self.logs_readable(&id)?;
        let path = self.log_path(&id);
        // Rotated files first, oldest (highest number) first, then the live log.
        let mut queue: VecDeque<PathBuf> = (1..=ROTATED_MAX)
            .rev()
            .map(|n| rotated(&path, n))
            .filter(|p| p.exists())
            .collect();
        queue.push_back(path.clone());
        let weak = Arc::downgrade(self);
        let running_id = id.clone();
        let mut reader = LogReader::new(
            None,
            queue,
            path,
            opts,
            Box::new(move || {
                weak.upgrade().is_some_and(|e| {
                    e.lock()
                        .containers
                        .get(&running_id)
                        .is_some_and(|r| r.state.running)
                })
            }),
        );
        if let Some(n) = opts.tail {
            reader.load_tail(n);
        }
        if !opts.stdout && !opts.stderr {
            return Err(EngineError::InvalidParameter(
                "Bad parameters: you must choose at least one stream".into(),
            ));
        }
        Ok(reader)
    }
}
