//! `logs` and `up`'s attached output: every container's log, each line prefixed with the
//! container's name (padded, coloured by container on a terminal) as docker compose does.

use std::io::{self, Read, Write};

use berth_compose::Loaded;
use serde_json::Value;

use super::args::LogsArgs;
use super::project::{self, Ctr, Target};
use crate::client::{demux, Body, Client};
use crate::Failure;

/// Docker compose's colour rotation (ANSI SGR codes).
const COLORS: [&str; 12] = [
    "36", "33", "32", "35", "34", "31", "1;36", "1;33", "1;32", "1;35", "1;34", "1;31",
];

/// Writes whole lines, each after a prefix, to stdout (one lock per line, so the lines of
/// several containers never interleave).
struct Prefixed {
    prefix: String,
    buf: Vec<u8>,
}

impl Prefixed {
    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let line: Vec<u8> = self.buf.drain(..upto).collect();
        let mut out = io::stdout().lock();
        out.write_all(self.prefix.as_bytes())?;
        out.write_all(&line)?;
        out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.buf.push(b'\n');
            let n = self.buf.len();
            self.emit(n)?;
        }
        Ok(())
    }
}

impl Write for Prefixed {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
            self.emit(i + 1)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The prefix of each container: `name | `, padded to the longest name.
fn prefixes(ctrs: &[Ctr], color: bool, none: bool) -> Vec<String> {
    let width = ctrs.iter().map(|c| c.name.len()).max().unwrap_or(0);
    ctrs.iter()
        .enumerate()
        .map(|(i, c)| {
            if none {
                return String::new();
            }
            let text = format!("{:<width$} | ", c.name);
            if color {
                format!("\x1b[{}m{text}\x1b[0m", COLORS[i % COLORS.len()])
            } else {
                text
            }
        })
        .collect()
}

/// Streams one container's log into the prefixed writer.
fn pump(c: &Client, id: &str, query: &str, w: &mut Prefixed) -> Result<(), Failure> {
    let mut resp = c.request(
        "GET",
        &format!("/containers/{id}/logs?stdout=1&stderr=1{query}"),
        Body::Empty,
    )?;
    if resp.content_type.contains("raw-stream") {
        let mut buf = [0u8; 8192];
        loop {
            let n = resp.read(&mut buf)?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n])?;
        }
    } else {
        // stderr lines get the same prefix: one writer for both.
        let mut err = Prefixed {
            prefix: w.prefix.clone(),
            buf: Vec::new(),
        };
        demux(resp, w, &mut err)?;
        err.finish()?;
    }
    w.finish()?;
    Ok(())
}

/// Follows (or dumps) every container's log in parallel; `after` runs when a stream ends.
fn stream_all(
    c: &Client,
    ctrs: &[Ctr],
    query: &str,
    prefixes: Vec<String>,
    after: &(dyn Fn(&Ctr) + Sync),
) -> Result<(), Failure> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ctrs
            .iter()
            .zip(prefixes)
            .map(|(ctr, prefix)| {
                s.spawn(move || {
                    let mut w = Prefixed {
                        prefix,
                        buf: Vec::new(),
                    };
                    let r = pump(c, &ctr.id, query, &mut w);
                    after(ctr);
                    r
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| project::fail("log reader failed"))??;
        }
        Ok(())
    })
}

/// `logs [-f] [-n N] [-t] [--no-color] [--no-log-prefix] [SVC...]`.
pub fn logs(c: &Client, t: &Target, a: &LogsArgs) -> Result<i32, Failure> {
    let ctrs = project::select(t, project::containers(c, &t.name)?, &a.services)?;
    let mut q = String::new();
    if a.follow {
        q.push_str("&follow=1");
    }
    if a.timestamps {
        q.push_str("&timestamps=1");
    }
    if let Some(n) = &a.tail {
        q.push_str(&format!("&tail={}", crate::commands::enc(n)));
    }
    let color = !a.no_color && crate::commands::stream::is_tty(1);
    stream_all(
        c,
        &ctrs,
        &q,
        prefixes(&ctrs, color, a.no_log_prefix),
        &|_| {},
    )?;
    Ok(0)
}

/// `up` without `-d`: follows every container's output until all have exited, saying how
/// each exited.
pub fn attached(c: &Client, l: &Loaded, services: &[String]) -> Result<i32, Failure> {
    let ctrs: Vec<Ctr> = project::containers(c, &l.project.name)?
        .into_iter()
        .filter(|x| services.contains(&x.service) && !x.oneoff)
        .collect();
    let names: Vec<&str> = ctrs.iter().map(|c| c.name.as_str()).collect();
    println!("Attaching to {}", names.join(", "));
    let interrupted =
        super::interrupt::stop_on_signal(c, ctrs.iter().map(|x| x.id.clone()).collect());
    let color = crate::commands::stream::is_tty(1);
    let after = |ctr: &Ctr| {
        let code = c
            .json::<Value>("POST", &format!("/containers/{}/wait", ctr.id), Body::Empty)
            .ok()
            .and_then(|v| v["StatusCode"].as_i64())
            .unwrap_or(-1);
        println!("{} exited with code {code}", ctr.name);
    };
    stream_all(c, &ctrs, "&follow=1", prefixes(&ctrs, color, false), &after)?;
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(130);
    }
    Ok(0)
}
