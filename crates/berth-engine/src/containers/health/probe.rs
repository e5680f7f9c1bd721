//! One probe: the test run as an exec in the container (the engine's own exec path, as
//! dockerd's `cmdProbe`), its output kept up to 4 KiB, killed when it outlives the timeout.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_shim_proto::frames::{self, kind};

use super::{go_duration, probe_command, timeout, HealthConfig, HealthResult, MAX_OUTPUT};
use crate::containers::exec::ExecConfig;
use crate::containers::Containers;
use crate::time::now_rfc3339;

/// How long a killed probe gets to report its end before the probe gives up on it (docker
/// waits for the exec to die, so that dying probes do not pile up).
const KILL_GRACE: Duration = Duration::from_secs(10);

/// Docker's `limitedBuffer`: the first 4 KiB, then `...` if more came.
#[derive(Default)]
struct Output {
    buf: Vec<u8>,
    truncated: bool,
}

impl Output {
    fn push(&mut self, data: &[u8]) {
        let keep = MAX_OUTPUT.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..keep]);
        self.truncated |= keep < data.len();
    }

    fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

/// How reading the probe's stream ended.
enum Ended {
    Exit(i32),
    /// The stream closed without an exit code.
    Closed,
    TimedOut,
}

/// Runs container `id`'s test once.
pub(super) fn run(engine: &Arc<Containers>, id: &str, cfg: &HealthConfig) -> HealthResult {
    let start = now_rfc3339();
    let (exit_code, output) = match probe_command(cfg) {
        Some(cmd) => exec_probe(engine, id, cmd, timeout(cfg)),
        None => (-1, "no healthcheck command".to_owned()),
    };
    HealthResult {
        start,
        end: now_rfc3339(),
        exit_code,
        output,
    }
}

fn exec_probe(
    engine: &Arc<Containers>,
    id: &str,
    cmd: Vec<String>,
    limit: Duration,
) -> (i32, String) {
    let exec_cfg = ExecConfig {
        cmd: Some(cmd),
        attach_stdout: true,
        attach_stderr: true,
        ..ExecConfig::default()
    };
    let exec_id = match engine.exec_create(id, exec_cfg) {
        Ok(x) => x,
        Err(e) => return (-1, e.to_string()),
    };
    let result = match engine.exec_start(&exec_id) {
        Ok(mut conn) => {
            let mut out = Output::default();
            let ended = read_until(&mut conn.stream, &mut out, Instant::now() + limit);
            let ended = match ended {
                Ended::TimedOut => {
                    kill_probe(engine, &exec_id);
                    // Drain until the killed probe's stream ends, within a bound.
                    let _ = read_until(
                        &mut conn.stream,
                        &mut Output::default(),
                        Instant::now() + KILL_GRACE,
                    );
                    Ended::TimedOut
                }
                other => other,
            };
            match ended {
                Ended::Exit(code) => (code, out.text()),
                Ended::TimedOut => {
                    let t = go_duration(limit);
                    let msg = match out.text() {
                        o if o.is_empty() => format!("Health check exceeded timeout ({t})"),
                        o => format!("Health check exceeded timeout ({t}): {o}"),
                    };
                    (-1, msg)
                }
                Ended::Closed => (
                    -1,
                    format!("healthcheck for container {id} has no exit code"),
                ),
            }
        }
        Err(e) => (-1, e.to_string()),
    };
    // Probes are not the user's execs: nothing lists them later, so nothing keeps them.
    engine.lock().execs.remove(&exec_id);
    result
}

/// Reads frames until the exit frame, the end of the stream or `deadline`.
fn read_until(
    stream: &mut std::os::unix::net::UnixStream,
    out: &mut Output,
    deadline: Instant,
) -> Ended {
    let mut parser = frames::Parser::default();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Ended::TimedOut;
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ended::Closed,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ended::TimedOut
            }
            Err(_) => return Ended::Closed,
        };
        parser.push(&buf[..n]);
        loop {
            match parser.next_frame() {
                Ok(Some((kind::STDOUT | kind::STDERR, data))) => out.push(&data),
                Ok(Some((kind::EXIT, data))) => {
                    return frames::parse_exit(&data).map_or(Ended::Closed, Ended::Exit)
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return Ended::Closed,
            }
        }
    }
}

/// Kills the probe's process in the container (the exec shim's children; the shim then
/// reports its end and exits), as dockerd kills a probe that ran too long.
fn kill_probe(engine: &Containers, exec_id: &str) {
    let Ok(shim) = engine.exec_inspect(exec_id).map(|x| x.pid) else {
        return;
    };
    if shim == 0 {
        return;
    }
    let path = format!("/proc/{shim}/task/{shim}/children");
    let children = std::fs::read_to_string(&path).unwrap_or_default();
    for pid in children
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped_like_docker() {
        let mut o = Output::default();
        o.push(&[b'a'; 4000]);
        o.push(&[b'b'; 200]);
        let t = o.text();
        assert_eq!(t.len(), MAX_OUTPUT + 3);
        assert!(t.ends_with("bb..."));
        let mut small = Output::default();
        small.push(b"ok\n");
        assert_eq!(small.text(), "ok\n");
    }
}
