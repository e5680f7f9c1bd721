//! The shim's command line. The engine builds it with [`ShimArgs::to_args`] and the shim reads
//! it with [`ShimArgs::parse`] (both without the program name):
//!
//! - start: `ID BUNDLE RUNTIME_ROOT STATE_DIR LOG_PATH [MAX_SIZE MAX_FILE [OPTS]]` — MAX_SIZE
//!   in bytes (0: no rotation), OPTS a comma list of `tty`, `stdin`, `stdin-once`, `hold=N`
//!   (N attaches made before the start are awaited before output is read);
//! - `exec CONTAINER_ID RUNTIME_ROOT PROCESS_JSON [stdin]` — one `docker exec` process;
//! - `monitor ID RUNTIME_ROOT STATE_DIR LOG_PATH MAX_SIZE MAX_FILE INIT_PID OPTS OUT_FD ERR_FD
//!   STDIN_FD LISTEN_FD` — the image the starting shim re-executes into, with the descriptors
//!   it relays passed by number (-1: none).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// A command line the shim does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// Too few or too many arguments for the mode.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// One argument has a bad value.
    #[error("bad {what} {value:?}")]
    Bad {
        /// Which argument.
        what: &'static str,
        /// What was given.
        value: String,
    },
}

/// Usage of the start mode.
pub const START_USAGE: &str =
    "berth-shim ID BUNDLE RUNTIME_ROOT STATE_DIR LOG_PATH [MAX_SIZE MAX_FILE [OPTS]]";
/// Usage of the exec mode.
pub const EXEC_USAGE: &str = "berth-shim exec CONTAINER_ID RUNTIME_ROOT PROCESS_JSON [stdin]";
/// Usage of the monitor mode.
pub const MONITOR_USAGE: &str = "berth-shim monitor ID RUNTIME_ROOT STATE_DIR LOG_PATH MAX_SIZE \
     MAX_FILE INIT_PID OPTS OUT_FD ERR_FD STDIN_FD LISTEN_FD";

/// json-file log rotation: bytes per file (0: no rotation) and how many files to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate past this many bytes; 0 never rotates.
    pub max_size: u64,
    /// Files kept, the live one included.
    pub max_file: u32,
}

impl Default for Rotation {
    fn default() -> Rotation {
        Rotation {
            max_size: 0,
            max_file: 1,
        }
    }
}

/// How the container's stdio is set up (docker's `Tty`, `OpenStdin`, `StdinOnce`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StdioOpts {
    /// A pty instead of pipes.
    pub tty: bool,
    /// Keep a stdin for attaches.
    pub stdin: bool,
    /// Close the container's stdin when the first attach's stdin ends.
    pub stdin_once: bool,
    /// Attach subscriptions to await before reading the output.
    pub hold: usize,
}

impl StdioOpts {
    /// The comma list (`tty,stdin,stdin-once,hold=N`); empty for the defaults.
    pub fn render(&self) -> String {
        let mut o = Vec::new();
        for (on, name) in [
            (self.tty, "tty"),
            (self.stdin, "stdin"),
            (self.stdin_once, "stdin-once"),
        ] {
            if on {
                o.push(name.to_owned());
            }
        }
        if self.hold > 0 {
            o.push(format!("hold={}", self.hold));
        }
        o.join(",")
    }

    /// Reads [`StdioOpts::render`]'s format; unknown items are an error.
    pub fn parse(s: &str) -> Result<StdioOpts, ArgsError> {
        let bad = || ArgsError::Bad {
            what: "stdio options",
            value: s.to_owned(),
        };
        let mut o = StdioOpts::default();
        for item in s.split(',').filter(|i| !i.is_empty()) {
            match item {
                "tty" => o.tty = true,
                "stdin" => o.stdin = true,
                "stdin-once" => o.stdin_once = true,
                _ => {
                    let n = item.strip_prefix("hold=").ok_or_else(bad)?;
                    o.hold = n.parse().map_err(|_| bad())?;
                }
            }
        }
        Ok(o)
    }
}

/// Starting a container: what the engine passes for `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartArgs {
    /// The container id (the runtime's id too).
    pub id: String,
    /// The OCI bundle.
    pub bundle: PathBuf,
    /// The runtime's state root.
    pub runtime_root: PathBuf,
    /// Where `shim.pid`, `attach.sock` and `exit.json` go.
    pub state_dir: PathBuf,
    /// The json-file log (empty: no log, the `none` driver).
    pub log_path: PathBuf,
    /// The log's rotation.
    pub rotation: Rotation,
    /// The container's stdio.
    pub stdio: StdioOpts,
}

/// Running one exec'd process; the shim speaks the attach frames on its fd 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecArgs {
    /// The running container.
    pub container: String,
    /// The runtime's state root.
    pub runtime_root: PathBuf,
    /// The OCI `process` to run, as JSON in this file.
    pub process: PathBuf,
    /// Whether the client's stdin reaches the process.
    pub stdin: bool,
}

/// The monitor image's arguments: the start's, plus the init and the descriptors it relays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorArgs {
    /// The container id.
    pub id: String,
    /// The runtime's state root.
    pub runtime_root: PathBuf,
    /// The state dir.
    pub state_dir: PathBuf,
    /// The json-file log (empty: no log, the `none` driver).
    pub log_path: PathBuf,
    /// The log's rotation.
    pub rotation: Rotation,
    /// The container's init.
    pub init: i32,
    /// `tty`, `stdin-once`, `hold` as at the start (`stdin` is the descriptor below).
    pub stdio: StdioOpts,
    /// The container's stdout (or the pty master).
    pub out_fd: Option<i32>,
    /// The container's stderr.
    pub err_fd: Option<i32>,
    /// The write end of the container's stdin.
    pub stdin_fd: Option<i32>,
    /// The bound attach socket.
    pub listen_fd: i32,
}

/// The shim's command line in one of its modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimArgs {
    /// Create and start a container, then monitor it.
    Start(StartArgs),
    /// Run one exec'd process.
    Exec(ExecArgs),
    /// The re-executed monitor.
    Monitor(MonitorArgs),
}

impl ShimArgs {
    /// The arguments after the program name.
    pub fn to_args(&self) -> Vec<OsString> {
        match self {
            ShimArgs::Start(a) => a.to_args(),
            ShimArgs::Exec(a) => a.to_args(),
            ShimArgs::Monitor(a) => a.to_args(),
        }
    }

    /// Reads the arguments after the program name.
    pub fn parse(args: &[OsString]) -> Result<ShimArgs, ArgsError> {
        match args.first().map(OsString::as_os_str) {
            Some(m) if m == "exec" => ExecArgs::parse(&args[1..]).map(ShimArgs::Exec),
            Some(m) if m == "monitor" => MonitorArgs::parse(&args[1..]).map(ShimArgs::Monitor),
            _ => StartArgs::parse(args).map(ShimArgs::Start),
        }
    }
}

fn utf8<'a>(what: &'static str, s: &'a OsStr) -> Result<&'a str, ArgsError> {
    s.to_str().ok_or_else(|| ArgsError::Bad {
        what,
        value: s.to_string_lossy().into_owned(),
    })
}

fn number<T: std::str::FromStr>(what: &'static str, s: &OsStr) -> Result<T, ArgsError> {
    let text = utf8(what, s)?;
    text.parse().map_err(|_| ArgsError::Bad {
        what,
        value: text.to_owned(),
    })
}

fn fd_arg(fd: Option<i32>) -> OsString {
    fd.unwrap_or(-1).to_string().into()
}

fn parse_fd(what: &'static str, s: &OsStr) -> Result<Option<i32>, ArgsError> {
    let n: i32 = number(what, s)?;
    match n {
        -1 => Ok(None),
        n if n >= 0 => Ok(Some(n)),
        _ => Err(ArgsError::Bad {
            what,
            value: n.to_string(),
        }),
    }
}

impl StartArgs {
    /// The arguments after the program name (always the long form).
    pub fn to_args(&self) -> Vec<OsString> {
        vec![
            self.id.clone().into(),
            self.bundle.clone().into(),
            self.runtime_root.clone().into(),
            self.state_dir.clone().into(),
            self.log_path.clone().into(),
            self.rotation.max_size.to_string().into(),
            self.rotation.max_file.to_string().into(),
            self.stdio.render().into(),
        ]
    }

    /// Reads the start form, short or long.
    pub fn parse(args: &[OsString]) -> Result<StartArgs, ArgsError> {
        let (base, rest) = match args.len() {
            5 | 7 | 8 => args.split_at(5),
            _ => return Err(ArgsError::Usage(START_USAGE)),
        };
        let [id, bundle, root, state, log] = base else {
            return Err(ArgsError::Usage(START_USAGE));
        };
        let mut a = StartArgs {
            id: utf8("container id", id)?.to_owned(),
            bundle: bundle.into(),
            runtime_root: root.into(),
            state_dir: state.into(),
            log_path: log.into(),
            rotation: Rotation::default(),
            stdio: StdioOpts::default(),
        };
        if let [size, files, opts @ ..] = rest {
            a.rotation = Rotation {
                max_size: number("max size", size)?,
                max_file: number("max file", files)?,
            };
            if let Some(o) = opts.first() {
                a.stdio = StdioOpts::parse(utf8("stdio options", o)?)?;
            }
        }
        Ok(a)
    }
}

impl ExecArgs {
    /// The arguments after the program name, `exec` first.
    pub fn to_args(&self) -> Vec<OsString> {
        vec![
            "exec".into(),
            self.container.clone().into(),
            self.runtime_root.clone().into(),
            self.process.clone().into(),
            if self.stdin { "stdin" } else { "" }.into(),
        ]
    }

    /// Reads what follows `exec`.
    pub fn parse(args: &[OsString]) -> Result<ExecArgs, ArgsError> {
        let (id, root, process, opts) = match args {
            [id, root, process] => (id, root, process, OsStr::new("")),
            [id, root, process, opts] => (id, root, process, opts.as_os_str()),
            _ => return Err(ArgsError::Usage(EXEC_USAGE)),
        };
        let stdin = match utf8("exec options", opts)? {
            "" => false,
            "stdin" => true,
            other => {
                return Err(ArgsError::Bad {
                    what: "exec options",
                    value: other.to_owned(),
                })
            }
        };
        Ok(ExecArgs {
            container: utf8("container id", id)?.to_owned(),
            runtime_root: root.into(),
            process: process.into(),
            stdin,
        })
    }
}

impl MonitorArgs {
    /// The arguments after the program name, `monitor` first.
    pub fn to_args(&self) -> Vec<OsString> {
        vec![
            "monitor".into(),
            self.id.clone().into(),
            self.runtime_root.clone().into(),
            self.state_dir.clone().into(),
            self.log_path.clone().into(),
            self.rotation.max_size.to_string().into(),
            self.rotation.max_file.to_string().into(),
            self.init.to_string().into(),
            self.stdio.render().into(),
            fd_arg(self.out_fd),
            fd_arg(self.err_fd),
            fd_arg(self.stdin_fd),
            self.listen_fd.to_string().into(),
        ]
    }

    /// Reads what follows `monitor`.
    pub fn parse(args: &[OsString]) -> Result<MonitorArgs, ArgsError> {
        let [id, root, state, log, size, files, init, opts, out, err, stdin, listen] = args else {
            return Err(ArgsError::Usage(MONITOR_USAGE));
        };
        Ok(MonitorArgs {
            id: utf8("container id", id)?.to_owned(),
            runtime_root: root.into(),
            state_dir: state.into(),
            log_path: log.into(),
            rotation: Rotation {
                max_size: number("max size", size)?,
                max_file: number("max file", files)?,
            },
            init: number("init pid", init)?,
            stdio: StdioOpts::parse(utf8("stdio options", opts)?)?,
            out_fd: parse_fd("stdout fd", out)?,
            err_fd: parse_fd("stderr fd", err)?,
            stdin_fd: parse_fd("stdin fd", stdin)?,
            listen_fd: parse_fd("listen fd", listen)?.ok_or(ArgsError::Bad {
                what: "listen fd",
                value: "-1".into(),
            })?,
        })
    }
}

#[cfg(test)]
#[path = "argv_tests.rs"]
mod tests;
