//! Reading a container's json-file log (`docker logs`): stream selection, `tail`, and
//! `follow` until the container stops.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{EngineError, Result};
use crate::Engine;

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
        Some(LogEntry {
            stream,
            time: l.time,
            data: l.log.into_bytes(),
        })
    }

    /// Reads the next complete line from the file, if any is there now.
    fn read_line(&mut self) -> Option<String> {
        let file = self.file.as_mut()?;
        loop {
            let mut buf = String::new();
            match file.read_line(&mut buf) {
                Ok(0) | Err(_) => {
                    self.partial.push_str(&buf);
                    return None;
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

impl Iterator for LogReader {
    type Item = LogEntry;

    fn next(&mut self) -> Option<LogEntry> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        loop {
            if self.finished {
                return None;
            }
            while let Some(line) = self.read_line() {
                if let Some(e) = self.parse(&line) {
                    return Some(e);
                }
            }
            if !self.opts.follow || !(self.running)() {
                // One last pass: the shim writes everything before the exit is recorded.
                self.finished = true;
                while let Some(line) = self.read_line() {
                    if let Some(e) = self.parse(&line) {
                        self.backlog.push_back(e);
                    }
                }
                return self.backlog.pop_front();
            }
            std::thread::sleep(FOLLOW_POLL);
        }
    }
}

impl Engine {
    /// `docker logs`: entries of container `key`'s log.
    pub fn logs(self: &Arc<Self>, key: &str, opts: LogOptions) -> Result<LogReader> {
        let id = Self::find_id(&self.lock(), key)?;
        let path = self.log_path(&id);
        let file = match File::open(&path) {
            Ok(f) => Some(BufReader::new(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(crate::error::io_err("open", &path)(e)),
        };
        let weak = Arc::downgrade(self);
        let running_id = id.clone();
        let mut reader = LogReader {
            file,
            opts,
            backlog: VecDeque::new(),
            partial: String::new(),
            running: Box::new(move || {
                weak.upgrade().is_some_and(|e| {
                    e.lock()
                        .containers
                        .get(&running_id)
                        .is_some_and(|r| r.state.running)
                })
            }),
            finished: false,
        };
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

    /// `docker attach` for output: what the container writes from now on, until its next exit
    /// (so attaching before `start` sees the whole run). Reads the log the shim writes.
    pub fn attach_output(&self, key: &str, stdout: bool, stderr: bool) -> Result<LogReader> {
        use std::io::Seek;
        let id = Self::find_id(&self.lock(), key)?;
        let waiter = self.wait(&id, crate::exits::WaitCondition::NextExit)?;
        let path = self.log_path(&id);
        // The log exists from create on; the shim appends to it.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(crate::error::io_err("open", &path))?;
        f.seek(std::io::SeekFrom::End(0))
            .map_err(crate::error::io_err("seek", &path))?;
        let exited = std::cell::Cell::new(false);
        Ok(LogReader {
            file: Some(BufReader::new(f)),
            opts: LogOptions {
                stdout,
                stderr,
                follow: true,
                tail: None,
            },
            backlog: VecDeque::new(),
            partial: String::new(),
            running: Box::new(move || {
                if !exited.get() && waiter.wait_timeout(Duration::ZERO).is_some() {
                    exited.set(true);
                }
                !exited.get()
            }),
            finished: false,
        })
    }
}
