//! The flags `run` and `create` share (docker's `container create` set).

use clap::Args;

use super::{confine, health, limits, network, parse_stream, storage};

/// Flags shared by `run` and `create`.
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct CreateFlags {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR.
    #[arg(short = 'a', long = "attach", value_parser = parse_stream)]
    pub attach: Vec<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from this environment).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// User namespace to use: `host` opts out of the daemon's --userns-remap.
    #[arg(long)]
    pub userns: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Pull image before running ("always", "missing", "never").
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Container host name.
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Set metadata on the container (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Restart policy: no, always, on-failure[:max-retries], unless-stopped.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Logging driver for the container (json-file).
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3).
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// Signal to stop the container.
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long)]
    pub stop_timeout: Option<i64>,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Resource limits (`-m`, `--cpus`, `--pids-limit`, ...).
    #[command(flatten)]
    pub limits: limits::LimitFlags,
    /// Devices, ulimits and confinement (`--cap-add`, `--privileged`, ...).
    #[command(flatten)]
    pub confine: confine::ConfineFlags,
    /// Volumes and mounts (`-v`, `--mount`, `--tmpfs`, `--volumes-from`).
    #[command(flatten)]
    pub storage: storage::StorageFlags,
    /// Networking (`-p`, `-P`, `--network`, `--network-alias`, `--ip`, `--dns`, ...).
    #[command(flatten)]
    pub net: network::flags::NetFlags,
    /// Healthcheck (`--health-cmd`, `--health-interval`, ..., `--no-healthcheck`).
    #[command(flatten)]
    pub health: health::HealthFlags,
    /// The image to run.
    pub image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}
