//! The command line, flag for flag as runc spells it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A runc-compatible OCI runtime.
#[derive(Debug, Parser)]
#[command(name = "berth-runtime", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts (podman and containerd pass them before the verb).
#[derive(Debug, Args)]
pub struct Global {
    /// Root directory for container state.
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Log file (errors are also written there, for callers that read it).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// Enable debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Treat cgroupsPath as systemd's slice:prefix:name.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (rootless mode is detected).
    #[arg(long = "rootless", id = "global_rootless", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long, hide = true)]
    pub criu: Option<String>,
}

/// Options of `create` and `run`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's init pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted for runc compatibility.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra descriptors (3 .. 3+N) into the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Container id.
    pub id: String,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container, leaving its process waiting for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Do not wait for the container.
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Print the container's state as JSON.
    State { id: String },
    /// Send a signal to the container's init (or every process with --all).
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a stopped container (or any with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Run a process inside a running container.
    Exec(Box<crate::commands::exec::ExecArgs>),
    /// List the container's processes.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Options passed to ps(1).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of the container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List containers.
    #[command(alias = "ls")]
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Print the runtime's features as JSON.
    Features,
}

impl Command {
    /// Whether to protect our binary before running (see `berth_runtime::seal::needed_for`):
    /// always for `exec`; for `create`/`run` as the bundle's config asks (an unreadable config
    /// is reported by the command itself; protecting first costs nothing then).
    pub fn needs_protected_binary(&self) -> bool {
        let bundle = match self {
            Command::Exec(_) => return true,
            Command::Create(c) | Command::Run { create: c, .. } => &c.bundle,
            _ => return false,
        };
        match oci_spec::runtime::Spec::load(bundle.join("config.json")) {
            Ok(spec) => berth_runtime::seal::needed_for(&spec),
            Err(_) => true,
        }
    }
}
