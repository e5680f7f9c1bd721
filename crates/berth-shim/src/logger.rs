//! Docker's `json-file` log format: one JSON object per line,
//! `{"log":"...","stream":"stdout","time":"RFC3339Nano"}`.
//!
//! Why here: the shim owns the container's stdio, so it is the only process that sees every byte
//! even while berthd is down. Lines are split at `\n` (kept in `log`, as docker does); a partial
//! line is flushed when the buffer grows past [`MAX_LINE`] or the stream ends.
//!
//! Rotation (`--log-opt max-size=… max-file=…`): before a write would take the file past
//! `max_size`, `LOG` becomes `LOG.1` (`LOG.1` → `LOG.2` …, the oldest beyond `max_file - 1`
//! dropped) and a new `LOG` is started, as docker's json-file driver does.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

/// Longest partial line held before it is written out as its own entry (docker uses 16 KiB).
pub const MAX_LINE: usize = 16 * 1024;

/// Which of the container's streams a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

pub use berth_shim_proto::Rotation;

/// Opens a log file for appending with dockerd's mode 0640: the container's output is no
/// business of other local users. Set on the open file too: one an older berthd made keeps
/// no wider mode.
fn open_log(path: &std::path::Path) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(LOG_MODE)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(LOG_MODE))?;
    Ok(file)
}

/// The json-file log's mode (dockerd's).
pub const LOG_MODE: u32 = 0o640;

/// Line-splitting writer for one container log file, shared by both streams.
pub struct JsonLog {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    pending: [Vec<u8>; 2],
}

impl JsonLog {
    /// Opens (appending to) the log at `path`.
    pub fn open(path: PathBuf, rotation: Rotation) -> io::Result<JsonLog> {
        let file = open_log(&path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path,
            file,
            size,
            rotation,
            pending: [Vec::new(), Vec::new()],
        })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    /// Shifts `LOG.N` up by one, moves `LOG` to `LOG.1` and starts an empty `LOG`.
    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.rotation.max_file.max(1);
        if keep == 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(self.rotated(keep - 1));
        for n in (1..keep - 1).rev() {
            let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
        }
        std::fs::rename(&self.path, self.rotated(1))?;
        self.file = open_log(&self.path)?;
        self.size = 0;
        Ok(())
    }

    fn write(&mut self, out: &[u8]) -> io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        let max = self.rotation.max_size;
        if max > 0 && self.size > 0 && self.size + out.len() as u64 > max {
            self.rotate()?;
        }
        self.file.write_all(out)?;
        self.size += out.len() as u64;
        Ok(())
    }

    /// Adds bytes read from `stream`; complete lines are written immediately.
    pub fn push(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let idx = stream as usize;
        self.pending[idx].extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            let buf = &mut self.pending[idx];
            let cut = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => i + 1,
                None if buf.len() >= MAX_LINE => MAX_LINE,
                None => break,
            };
            let line: Vec<u8> = buf.drain(..cut).collect();
            out.clear();
            entry(&mut out, stream, &line);
            self.write(&out)?;
        }
        Ok(())
    }

    /// Writes what is left of an unterminated last line of `stream`.
    pub fn flush_partial(&mut self, stream: Stream) -> io::Result<()> {
        let idx = stream as usize;
        if self.pending[idx].is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.pending[idx]);
        let mut out = Vec::new();
        entry(&mut out, stream, &line);
        self.write(&out)
    }
}

/// Appends one JSON line for `line` to `out`.
fn entry(out: &mut Vec<u8>, stream: Stream, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let log = serde_json::to_string(&*text).unwrap_or_else(|_| "\"\"".to_owned());
    out.extend_from_slice(
        format!(
            "{{\"log\":{log},\"stream\":\"{}\",\"time\":\"{}\"}}\n",
            stream.name(),
            now_rfc3339_nano()
        )
        .as_bytes(),
    );
}

/// Now as Go's `time.RFC3339Nano` in UTC: jiff prints only the digits the fraction needs, as
/// Go does.
pub fn now_rfc3339_nano() -> String {
    jiff::Timestamp::now().to_string()
}
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{Read, Seek};

    #[test]
    fn times() {
        let now = now_rfc3339_nano();
        assert!(now.ends_with('Z') && !now.ends_with("0Z"), "{now}");
        assert!(now.parse::<jiff::Timestamp>().is_ok(), "{now}");
    }

    const NO_ROTATION: Rotation = Rotation {
        max_size: 0,
        max_file: 1,
    };

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = std::env::temp_dir().join(format!("berth-shim-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c-json.log");
        let rot = Rotation {
            max_size: 200,
            max_file: 3,
        };
        let mut log = JsonLog::open(path.clone(), rot).unwrap();
        for i in 0..20 {
            log.push(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
        let cur = read(&path);
        assert!(cur.contains("line 19"), "{cur}");
        assert!(cur.len() <= 200);
        assert!(read(&dir.join("c-json.log.1")).len() <= 200);
        assert!(!read(&dir.join("c-json.log.2")).is_empty());
        assert!(!dir.join("c-json.log.3").exists());
        // Oldest lines are gone, the newest three files hold consecutive lines.
        let all = read(&dir.join("c-json.log.2")) + &read(&dir.join("c-json.log.1")) + &cur;
        let nums: Vec<i32> = all
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["log"].as_str().unwrap()[5..].trim().parse().unwrap()
            })
            .collect();
        assert_eq!(*nums.last().unwrap(), 19);
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
        assert!(nums[0] > 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lines_split_and_escaped() {
        let path = std::env::temp_dir().join(format!("berth-shim-log-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut log = JsonLog::open(path.clone(), NO_ROTATION).unwrap();
        let mut f = File::open(&path).unwrap();
        log.push(Stream::Stdout, b"hel").unwrap();
        log.push(Stream::Stderr, b"oops\n").unwrap();
        log.push(Stream::Stdout, b"lo \"x\"\nrest").unwrap();
        log.flush_partial(Stream::Stdout).unwrap();
        let mut s = String::new();
        f.seek(io::SeekFrom::Start(0)).unwrap();
        f.read_to_string(&mut s).unwrap();
        let v: Vec<serde_json::Value> = s
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0]["log"], "oops\n");
        assert_eq!(v[0]["stream"], "stderr");
        assert_eq!(v[1]["log"], "hello \"x\"\n");
        assert_eq!(v[2]["log"], "rest");
        assert!(v[2]["time"].as_str().unwrap().ends_with('Z'));
        let _ = std::fs::remove_file(&path);
    }
}
