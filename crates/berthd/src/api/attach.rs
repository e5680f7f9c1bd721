//! `POST /containers/{id}/attach` and `/containers/{id}/resize`: the container's stdio on a
//! hijacked connection (`Upgrade: tcp` → 101; raw bytes for a tty container, docker's
//! multiplexed stream otherwise), relayed to and from the shim's attach socket; stdin with
//! docker's detach keys (ctrl-p ctrl-q by default). Plain HTTP clients get the output as a
//! streamed body.

use std::collections::HashMap;
use std::future::Future;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_engine::AttachConn;
use berth_shim_proto::frames::{self, encode, kind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{blocking, flag, streams, ApiError, ApiResult, AppState, Query};

const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
const RAW: &str = "application/vnd.docker.raw-stream";
/// The pause between a 101 and the log replay of `logs=1` (see its use).
const REPLAY_DELAY: std::time::Duration = std::time::Duration::from_millis(50);
/// Docker's default detach sequence: ctrl-p ctrl-q.
const DEFAULT_DETACH: [u8; 2] = [0x10, 0x11];

/// What the client attaches.
#[derive(Clone)]
pub struct Streams {
    /// Forward the client's bytes to the process's stdin.
    pub stdin: bool,
    /// Send stdout.
    pub stdout: bool,
    /// Send stderr.
    pub stderr: bool,
    /// The byte sequence that detaches (empty: none).
    pub detach_keys: Vec<u8>,
    /// `logs=1`: the container whose log is sent before the live output.
    pub replay: Option<(AppState, String)>,
}

/// Parses docker's `detachKeys` (`ctrl-p,ctrl-q`, `a,ctrl-@`, …).
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, ApiError> {
    let bad = || ApiError::bad_request(format!("Invalid detach keys ({s}) provided"));
    let mut out = Vec::new();
    for key in s.split(',') {
        let b = match key.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let c = c.as_bytes()[0].to_ascii_lowercase();
                match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => return Err(bad()),
                }
            }
            None if key.len() == 1 => key.as_bytes()[0],
            _ => return Err(bad()),
        };
        out.push(b);
    }
    Ok(out)
}

impl Streams {
    /// The streams named in an attach query (neither stdout nor stderr named: both).
    pub fn from_query(q: &HashMap<String, String>) -> Result<Streams, ApiError> {
        let (stdout, stderr) = (flag(q, "stdout"), flag(q, "stderr"));
        let detach_keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
            Some(k) => parse_detach_keys(k)?,
            None => DEFAULT_DETACH.to_vec(),
        };
        Ok(Streams {
            stdin: flag(q, "stdin"),
            stdout,
            stderr,
            detach_keys,
            replay: None,
        })
    }
}

/// The attach handler.
pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    mut req: Request,
) -> ApiResult<Response> {
    let mut streams = Streams::from_query(&q)?;
    if flag(&q, "logs") {
        streams.replay = Some((engine.clone(), id.clone()));
    }
    // As dockerd: without `stream=1` the attach ends after the logs (an exited container's
    // `attach(logs=True, stream=False)` answers at once).
    let live = flag(&q, "stream");
    // Errors (no such container) are answered now, and an attach before the start is counted
    // before the 101 goes out (clients start right after it); the wait for the start happens
    // after the 101.
    let mut ticket = streams::setup(move || engine.containers().attach(&id)).await?;
    let tty = ticket.tty;
    let connect = async move {
        if !live || !ticket.wait_start().await {
            return None;
        }
        streams::run(move || ticket.connect()).await.flatten()
    };
    Ok(serve(&mut req, tty, connect, streams))
}

/// `POST /containers/{id}/resize?h=ROWS&w=COLS`.
pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let (rows, cols) = size(&q)?;
    blocking(move || engine.containers().resize(&id, rows, cols)).await?;
    Ok(StatusCode::OK)
}

/// The `h` and `w` of a resize query.
pub fn size(q: &HashMap<String, String>) -> Result<(u16, u16), ApiError> {
    let get = |k: &str| -> Result<u16, ApiError> {
        let v = q.get(k).map(String::as_str).unwrap_or("0");
        v.parse()
            .map_err(|_| ApiError::bad_request(format!("invalid value for {k}: {v}")))
    };
    Ok((get("h")?, get("w")?))
}

/// Serves an attach: on the hijacked connection when the client asked for `Upgrade: tcp`
/// (101), else the output as the response body. `connect` (awaited once the response is on
/// its way) gives the shim connection; `None`: the stream is empty (the container ended
/// before it started again).
pub fn serve(
    req: &mut Request,
    tty: bool,
    connect: impl Future<Output = Option<AttachConn>> + Send + 'static,
    streams: Streams,
) -> Response {
    let ctype = if tty { RAW } else { MULTIPLEXED };
    let wants_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"));
    if !wants_upgrade {
        let (mut out, body_r) = tokio::io::duplex(64 << 10);
        tokio::spawn(async move {
            replay(&streams, tty, &mut out).await;
            if let Some(mut conn) = connect.await {
                if let Some(shim) = shim_stream(&conn) {
                    let on_exit = conn.take_on_exit();
                    let _ = copy_output(shim, &mut out, on_exit, &streams, tty).await;
                }
            }
        });
        let body = futures_util::stream::unfold(body_r, |mut r| async move {
            let mut buf = vec![0u8; 16 << 10];
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::convert::Infallible>(Bytes::from(buf)), r))
                }
            }
        });
        return ([(header::CONTENT_TYPE, ctype)], Body::from_stream(body)).into_response();
    }
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("attach upgrade: {e}");
                return;
            }
        };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        if streams.replay.is_some() {
            // docker-py reads the 101 through a buffered reader, then the frames from the raw
            // socket: log bytes that reach it together with the 101 are lost. dockerd's log
            // replay comes late enough by itself; ours is given a moment.
            tokio::time::sleep(REPLAY_DELAY).await;
        }
        replay(&streams, tty, &mut io).await;
        match connect.await {
            Some(conn) => relay(io, conn, streams).await,
            None => {
                let _ = io.shutdown().await;
            }
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "Upgrade"),
            (header::UPGRADE, "tcp"),
            (header::CONTENT_TYPE, ctype),
        ],
    )
        .into_response()
}

/// `logs=1`: the container's log so far, for the streams asked for, before the live output.
async fn replay<W: AsyncWrite + Unpin>(streams: &Streams, tty: bool, out: &mut W) {
    let Some((engine, id)) = &streams.replay else {
        return;
    };
    let both = !streams.stdout && !streams.stderr;
    let opts = berth_engine::LogOptions {
        stdout: both || streams.stdout,
        stderr: both || streams.stderr,
        ..Default::default()
    };
    if let Err(e) = super::logs::copy_log(engine.clone(), id.clone(), opts, tty, out).await {
        tracing::debug!("attach logs: {}", e.message);
    }
}

/// The shim connection as an async stream.
fn shim_stream(conn: &AttachConn) -> Option<tokio::net::UnixStream> {
    let s = conn.stream.try_clone().ok()?;
    s.set_nonblocking(true).ok()?;
    tokio::net::UnixStream::from_std(s).ok()
}

/// Relays both ways until the shim closes (the process ended) or the client detaches.
async fn relay<C>(client: C, mut conn: AttachConn, streams: Streams)
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let Some(shim) = shim_stream(&conn) else {
        return;
    };
    let (shim_r, mut shim_w) = shim.into_split();
    let (mut cli_r, mut cli_w) = tokio::io::split(client);
    let on_exit = conn.take_on_exit();
    let tty = conn.tty;
    let stdin = streams.stdin && conn.stdin;
    let keys = streams.detach_keys.clone();
    let output = async {
        let _ = copy_output(shim_r, &mut cli_w, on_exit, &streams, tty).await;
        let _ = cli_w.shutdown().await;
    };
    let input = async move {
        let mut buf = vec![0u8; 16 << 10];
        let mut matched = 0usize;
        loop {
            let n = match cli_r.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if stdin {
                        let _ = shim_w.write_all(&encode(kind::STDIN_CLOSE, &[])).await;
                    }
                    // Half-closed: the output keeps flowing.
                    return std::future::pending::<()>().await;
                }
                Ok(n) => n,
            };
            if !stdin {
                continue;
            }
            let mut data = Vec::with_capacity(n);
            for &b in &buf[..n] {
                if !keys.is_empty() && b == keys[matched] {
                    matched += 1;
                    if matched == keys.len() {
                        if !data.is_empty() {
                            let _ = shim_w.write_all(&encode(kind::STDIN, &data)).await;
                        }
                        return; // detached
                    }
                    continue;
                }
                data.extend_from_slice(&keys[..matched]);
                matched = 0;
                if !keys.is_empty() && b == keys[0] {
                    matched = 1;
                } else {
                    data.push(b);
                }
            }
            if !data.is_empty() && shim_w.write_all(&encode(kind::STDIN, &data)).await.is_err() {
                return std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = output => {}
        () = input => {}
    }
}

/// Reads and drops a detached exec's output until the shim closes, recording its exit code.
pub async fn drain(mut conn: AttachConn) {
    let Some(shim) = shim_stream(&conn) else {
        return;
    };
    let on_exit = conn.take_on_exit();
    let all = Streams {
        stdin: false,
        stdout: true,
        stderr: true,
        detach_keys: Vec::new(),
        replay: None,
    };
    let _ = copy_output(shim, &mut tokio::io::sink(), on_exit, &all, conn.tty).await;
}

/// Copies the shim's output frames to `out`: unchanged for a multiplexed stream, payload only
/// for a terminal; the exec `EXIT` frame goes to `on_exit`.
async fn copy_output<R, W>(
    mut shim: R,
    out: &mut W,
    mut on_exit: Option<Box<dyn FnOnce(i32) + Send>>,
    streams: &Streams,
    tty: bool,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Neither named (older clients): both.
    let both = !streams.stdout && !streams.stderr;
    let mut head = [0u8; 8];
    let mut data = Vec::new();
    loop {
        if shim.read_exact(&mut head).await.is_err() {
            return Ok(());
        }
        // The shim is ours, but a broken one must not make the daemon allocate 4 GiB.
        let (code, len) = frames::parse_header(&head)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        data.resize(len, 0);
        shim.read_exact(&mut data).await?;
        let wanted = match code {
            kind::STDOUT => both || streams.stdout,
            kind::STDERR => both || streams.stderr,
            kind::EXIT => {
                if let (Some(f), Some(c)) = (on_exit.take(), frames::parse_exit(&data)) {
                    f(c);
                }
                false
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        if !tty {
            out.write_all(&head).await?;
        }
        out.write_all(&data).await?;
        out.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_output_frames_are_bounded() {
        let all = Streams {
            stdin: false,
            stdout: true,
            stderr: true,
            detach_keys: Vec::new(),
            replay: None,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut wire = encode(kind::STDOUT, b"hi");
        // One byte over the limit, announced but never sent: refused at the header.
        let over = (berth_shim_proto::MAX_FRAME + 1) as u32;
        wire.extend_from_slice(&[kind::STDOUT, 0, 0, 0]);
        wire.extend_from_slice(&over.to_be_bytes());
        let mut out = Vec::new();
        let res = rt.block_on(copy_output(&wire[..], &mut out, None, &all, true));
        assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(out, b"hi");
    }

    #[test]
    fn detach_keys() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").ok(),
            Some(vec![0x10, 0x11])
        );
        assert_eq!(parse_detach_keys("a,ctrl-@").ok(), Some(vec![b'a', 0]));
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }
}
