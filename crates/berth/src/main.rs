//! `berth`: the command line. Docker's commands, flags, output and exit codes, talking to
//! berthd's Docker-compatible API over its unix socket, or a remote daemon's over TCP with
//! TLS or ssh (`endpoint`).

mod argv;
mod autostart;
mod client;
mod commands;
mod conn;
mod context;
mod endpoint;
mod sigproxy;
mod ssh;
mod table;
mod template;
mod tls;

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
    /// Daemon to connect to: unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]
    /// [env: BERTH_HOST, DOCKER_HOST]
    #[arg(short = 'H', long = "host", global = true)]
    host: Option<String>,
    /// Name of the context to use (see `berth context`) [env: BERTH_CONTEXT]
    #[arg(short = 'c', long)]
    context: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long)]
    tls: bool,
    /// Use TLS and verify the daemon's certificate [env: DOCKER_TLS_VERIFY]
    #[arg(long)]
    tlsverify: bool,
    /// Trust certs signed only by this CA [default: $DOCKER_CERT_PATH/ca.pem or ~/.berth/ca.pem]
    #[arg(long)]
    tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file [default: $DOCKER_CERT_PATH/cert.pem or ~/.berth/cert.pem]
    #[arg(long)]
    tlscert: Option<PathBuf>,
    /// Path to TLS key file [default: $DOCKER_CERT_PATH/key.pem or ~/.berth/key.pem]
    #[arg(long)]
    tlskey: Option<PathBuf>,
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
pub(crate) fn default_socket() -> PathBuf {
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
    let args = argv::management_aliases(std::env::args_os().collect());
    let args = argv::end_flags_at_command(Cli::command(), args);
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let commands::Command::Completion { shell } = cli.command {
        commands::completion(shell);
        std::process::exit(0);
    }
    let code = match run(cli) {
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

fn run(cli: Cli) -> Result<i32, Failure> {
    let choice = endpoint::choose(&cli)?;
    if let commands::Command::Context { command } = cli.command {
        return context::run(command, &choice.described);
    }
    let client = Client {
        endpoint: choice.endpoint,
    };
    if choice.local_default {
        autostart::ensure_daemon(&client)?;
    }
    commands::dispatch(&client, cli.command).map_err(|f| rootless_hint(f, choice.local_default))
}
