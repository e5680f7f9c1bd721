//! `berth compose` flags (docker compose v2's).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `berth compose [-f FILE]... [-p NAME] [--profile P]... [--env-file F]...`.
#[derive(Args, Debug)]
pub struct ComposeArgs {
    /// Compose configuration files.
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Specify a profile to enable.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Specify an alternate environment file.
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Specify an alternate working directory (default: the path of the first compose file).
    #[arg(long = "project-directory")]
    pub project_directory: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

impl ComposeArgs {
    /// Commands that only read the compose files.
    pub fn is_offline(&self) -> bool {
        matches!(self.command, ComposeCommand::Config(_))
    }
}

/// The compose subcommands.
#[derive(Subcommand, Debug)]
pub enum ComposeCommand {
    /// Parse, resolve and render the compose file in canonical format.
    Config(ConfigArgs),
    /// Create and start containers.
    Up(UpArgs),
    /// Stop and remove containers, networks.
    Down(DownArgs),
    /// List containers.
    Ps(PsArgs),
    /// View output from containers.
    Logs(LogsArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Run a one-off command on a service.
    Run(RunArgs),
    /// Build or rebuild services.
    Build(BuildArgs),
    /// Pull service images.
    Pull(PullArgs),
    /// Push service images.
    Push(Services),
    /// List images used by the created containers.
    Images(ImagesArgs),
    /// Display the running processes.
    Top(Services),
    /// Print the public port for a port binding.
    Port(PortArgs),
    /// Receive real time events from containers.
    Events(EventsArgs),
    /// Removes stopped service containers.
    Rm(RmArgs),
    /// Start services.
    Start(Services),
    /// Stop services.
    Stop(StopArgs),
    /// Restart service containers.
    Restart(StopArgs),
    /// Force stop service containers.
    Kill(KillArgs),
    /// Pause services.
    Pause(Services),
    /// Unpause services.
    Unpause(Services),
}

#[derive(Args, Debug)]
pub struct Services {
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    pub profiles: bool,
    /// Only validate the configuration, don't print anything.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print the image names, one per line.
    #[arg(long)]
    pub images: bool,
    /// Format the output (yaml or json).
    #[arg(long, default_value = "yaml")]
    pub format: String,
}

#[derive(Args, Debug, Default)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Build images before starting containers.
    #[arg(long)]
    pub build: bool,
    /// Scale SERVICE to NUM instances (overrides `scale` in the compose file).
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Recreate containers even if their configuration and image haven't changed.
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Don't start the services after creating them.
    #[arg(long)]
    pub no_start: bool,
    /// Shutdown timeout in seconds when attached and for recreation.
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove images used by services ("local": only images without a custom tag).
    #[arg(long, value_parser = ["all", "local"])]
    pub rmi: Option<String>,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all stopped containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display services.
    #[arg(long)]
    pub services: bool,
    /// Format the output: table, json, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    pub service_names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container.
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Produce monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs.
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Disable pseudo-TTY allocation (by default one is allocated when stdin is a terminal).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Run the command as this user.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Disable pseudo-TTY allocation.
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Override the entrypoint of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run as specified username or uid.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Add or override a label (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Run command with the service's ports enabled and mapped to the host.
    #[arg(long)]
    pub service_ports: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Pull what it can and ignores images with pull failures.
    #[arg(long)]
    pub ignore_pull_failures: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only display IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub private_port: u16,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Output events as a stream of json objects.
    #[arg(long)]
    pub json: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop the containers, if required, before removing.
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container.
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    pub services: Vec<String>,
}
