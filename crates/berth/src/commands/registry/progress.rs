//! Showing docker's JSON progress stream (pull, push): on a terminal one line per layer,
//! redrawn in place with docker's bars; otherwise a plain line per status change (no bars).

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};

use serde_json::Value;

use crate::Failure;

/// Renders progress messages to stdout.
pub struct Display {
    tty: bool,
    quiet: bool,
    /// Layer ids in the order they first appeared, and their line's index.
    lines: HashMap<String, usize>,
    count: usize,
    /// Write to stderr (pulls made by `run`/`create`, whose stdout is the container's).
    stderr: bool,
}

impl Display {
    /// `tty`: redraw in place; `quiet`: show nothing (errors still end the stream).
    pub fn new(tty: bool, quiet: bool, stderr: bool) -> Self {
        Display {
            tty,
            quiet,
            lines: HashMap::new(),
            count: 0,
            stderr,
        }
    }

    /// Read the whole stream; an `error` message becomes a failure (exit 1).
    pub fn run(&mut self, body: impl Read) -> Result<(), Failure> {
        let mut out: Box<dyn Write> = if self.stderr {
            Box::new(io::stderr().lock())
        } else {
            Box::new(io::stdout().lock())
        };
        for line in BufReader::new(body).lines() {
            let line = line?;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if let Some(err) = v.get("error").and_then(Value::as_str) {
                let message = v
                    .pointer("/errorDetail/message")
                    .and_then(Value::as_str)
                    .unwrap_or(err);
                return Err(Failure {
                    code: 1,
                    message: message.to_owned(),
                });
            }
            if !self.quiet {
                self.show(&mut out, &v)?;
            }
        }
        Ok(())
    }

    fn show(&mut self, out: &mut dyn Write, v: &Value) -> io::Result<()> {
        let status = v.get("status").and_then(Value::as_str).unwrap_or("");
        let id = v.get("id").and_then(Value::as_str);
        let bar = v.get("progress").and_then(Value::as_str).unwrap_or("");
        let Some(id) = id else {
            writeln!(out, "{status}")?;
            return out.flush();
        };
        let text = if bar.is_empty() {
            format!("{id}: {status}")
        } else {
            format!("{id}: {status} {bar}")
        };
        if !self.tty {
            // Plain output: status changes only, no byte counts.
            if bar.is_empty() {
                writeln!(out, "{id}: {status}")?;
            }
            return out.flush();
        }
        // A "Pulling from" header line is not a layer line.
        if status.starts_with("Pulling from") || status.starts_with("The push refers") {
            writeln!(out, "{text}")?;
            return out.flush();
        }
        match self.lines.get(id) {
            None => {
                self.lines.insert(id.to_owned(), self.count);
                self.count += 1;
                writeln!(out, "{text}")?;
            }
            Some(&i) => {
                let up = self.count - i;
                write!(out, "\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")?;
            }
        }
        out.flush()
    }
}
