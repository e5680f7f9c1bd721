//! `berth`: the command line. Docker's commands, flags, output and exit codes, talking to
//! berthd's Docker-compatible API over its unix socket.

mod argv;
mod autostart;
mod client;
mod commands;
mod sigproxy;
mod table;
mod template;

use std::path::PathBuf;

use clap::{CommandFactory, Parser};

use client::{Client, ClientError};

/// Default daemon socket.
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "A Docker-compatible container engine"
)]
struct Cli {
    /// Daemon socket to connect to (unix://PATH).
    #[arg(short = 'H', long = "host", env = "BERTH_HOST", global = true)]
    host: Option<String>,
    #[command(subcommand)]
    command: commands::Command,
}

/// A failed command: what to print and docker's exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// A daemon or usage error (125).
    pub fn daemon(e: impl std::fmt::Display) -> Failure {
        Failure {
            code: 125,
            message: e.to_string(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure::daemon(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::daemon(e)
    }
}

/// The socket when no `-H`/`BERTH_HOST` is given: for an unprivileged user, the rootless
/// daemon's `$XDG_RUNTIME_DIR/berth.sock` when it exists (as docker's rootless socket), else
/// the system daemon's.
fn default_socket() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
            let user = dir.join("berth.sock");
            if dir.is_absolute() && user.exists() {
                return user;
            }
        }
    }
    PathBuf::from(DEFAULT_SOCKET)
}

fn socket_of(host: Option<&str>) -> Result<(PathBuf, bool), Failure> {
    match host {
        None => Ok((default_socket(), true)),
        Some(h) => match h.strip_prefix("unix://") {
            Some(p) if !p.is_empty() => Ok((PathBuf::from(p), false)),
            _ => Err(Failure::daemon(format!(
                "unsupported host {h:?}: only unix://PATH is supported"
            ))),
        },
    }
}

/// For an ordinary user who reached no daemon on the default socket: where a rootless one
/// would listen.
fn rootless_hint(mut f: Failure, default_socket: bool) -> Failure {
    // SAFETY: geteuid has no preconditions.
    let user = unsafe { libc::geteuid() } != 0;
    if default_socket && user && f.message.starts_with("Cannot connect to the Berth daemon") {
        f.message.push_str(
            "\nAs an ordinary user, start a rootless daemon with `berthd` (it listens on \
             $XDG_RUNTIME_DIR/berth.sock), or pass -H unix://PATH.",
        );
    }
    f
}

fn main() {
    let args = argv::end_flags_at_command(Cli::command(), std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match socket_of(cli.host.as_deref()).and_then(|(socket, default)| {
        let client = Client { socket };
        if default && cli.command.needs_daemon() {
            autostart::ensure_daemon(&client)?;
        }
        commands::dispatch(&client, cli.command).map_err(|f| rootless_hint(f, default))
    }) {
        Ok(code) => code,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("berth: {}", f.message);
            }
            f.code
        }
    };
    std::process::exit(code);
}
