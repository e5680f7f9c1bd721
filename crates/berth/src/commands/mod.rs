//! The subcommands: their flags (docker's) and dispatch.

mod containers;
mod images;
mod list;
mod run;
mod system;

use clap::{Args, Subcommand};

use crate::client::Client;
use crate::Failure;

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
    /// Set environment variables (KEY=VALUE, or KEY to take it from this environment).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
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
    /// Allocate a pseudo-TTY (not supported yet).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep STDIN open (not supported yet).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// The image to run.
    pub image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `berth COMMAND`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and run a new container from an image.
    Run {
        /// Run the container in the background and print its ID.
        #[arg(short = 'd', long)]
        detach: bool,
        #[command(flatten)]
        flags: CreateFlags,
    },
    /// Create a new container.
    Create {
        #[command(flatten)]
        flags: CreateFlags,
    },
    /// Start one or more stopped containers.
    Start {
        /// Attach stdout/stderr and wait for the exit.
        #[arg(short = 'a', long)]
        attach: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop one or more running containers.
    Stop {
        /// Seconds to wait before killing the container.
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Restart one or more containers.
    Restart {
        /// Seconds to wait before killing the container.
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Execute a command in a running container.
    Exec {
        /// Detached mode: run the command in the background.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Set environment variables.
        #[arg(short = 'e', long = "env")]
        env: Vec<String>,
        /// Username or UID (format: <name|uid>[:<group|gid>]).
        #[arg(short = 'u', long)]
        user: Option<String>,
        /// Working directory inside the container.
        #[arg(short = 'w', long)]
        workdir: Option<String>,
        /// Keep STDIN open (not supported yet).
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Allocate a pseudo-TTY (not supported yet).
        #[arg(short = 't', long)]
        tty: bool,
        container: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// Manage containers (`container prune`).
    Container {
        #[command(subcommand)]
        command: ContainerCommand,
    },
    /// Display the running processes of a container.
    Top { container: String },
    /// Kill one or more running containers.
    Kill {
        /// Signal to send to the container.
        #[arg(short = 's', long = "signal")]
        signal: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove one or more containers.
    Rm {
        /// Force the removal of a running container (uses SIGKILL).
        #[arg(short = 'f', long)]
        force: bool,
        /// Remove anonymous volumes (none exist yet).
        #[arg(short = 'v', long)]
        volumes: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers.
    Ps {
        /// Show all containers (default shows just running).
        #[arg(short = 'a', long)]
        all: bool,
        /// Only display container IDs.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Don't truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// Format output using a Go template ("table" prefix: with a header).
        #[arg(long)]
        format: Option<String>,
        /// Filter output (status=, name=, id=, label=).
        #[arg(short = 'f', long = "filter")]
        filters: Vec<String>,
        /// Show the n last created containers (includes all states).
        #[arg(short = 'n', long = "last")]
        last: Option<i64>,
        /// Show the latest created container (includes all states).
        #[arg(short = 'l', long)]
        latest: bool,
    },
    /// Fetch the logs of a container.
    Logs {
        /// Follow log output.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Number of lines to show from the end of the logs ("all").
        #[arg(short = 'n', long)]
        tail: Option<String>,
        /// Show timestamps.
        #[arg(short = 't', long)]
        timestamps: bool,
        /// Show logs since a timestamp (RFC 3339 or unix seconds) or relative (e.g. 42m).
        #[arg(long)]
        since: Option<String>,
        /// Show logs before a timestamp (RFC 3339 or unix seconds) or relative (e.g. 42m).
        #[arg(long)]
        until: Option<String>,
        container: String,
    },
    /// Return low-level information on containers.
    Inspect {
        /// Format output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Block until one or more containers stop, then print their exit codes.
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List images.
    Images {
        /// Only show image IDs.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Format output using a Go template ("table" prefix: with a header).
        #[arg(long)]
        format: Option<String>,
    },
    /// Import the contents from a tarball to create a filesystem image.
    Import {
        /// File or "-" for stdin.
        file: String,
        /// REPOSITORY[:TAG].
        reference: Option<String>,
    },
    /// Remove one or more images.
    Rmi {
        /// Force removal of the image.
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Get real time events from the server.
    Events {
        /// Show all events created since timestamp.
        #[arg(long)]
        since: Option<String>,
        /// Stream events until this timestamp.
        #[arg(long)]
        until: Option<String>,
        /// Format output using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// Show the Berth version information.
    Version,
    /// Display system-wide information.
    Info,
}

/// `berth container …`.
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Remove all stopped containers.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// Runs one command; returns the process exit code.
pub fn dispatch(c: &Client, cmd: Command) -> Result<i32, Failure> {
    match cmd {
        Command::Run { detach, flags } => run::run(c, &flags, detach),
        Command::Create { flags } => run::create_only(c, &flags),
        Command::Start { attach, containers } => containers::start(c, attach, &containers),
        Command::Stop { time, containers } => containers::stop(c, time, &containers),
        Command::Restart { time, containers } => containers::restart(c, time, &containers),
        Command::Top { container } => list::top(c, &container),
        Command::Exec {
            detach,
            env,
            user,
            workdir,
            interactive,
            tty,
            container,
            command,
        } => {
            if interactive || tty {
                return Err(Failure::daemon(
                    "interactive exec (-i/-t) is not supported yet",
                ));
            }
            let body = serde_json::json!({
                "Cmd": command, "Env": env, "User": user.unwrap_or_default(),
                "WorkingDir": workdir.unwrap_or_default(),
                "AttachStdout": !detach, "AttachStderr": !detach,
            });
            containers::exec(c, &container, body, detach)
        }
        Command::Rename {
            container,
            new_name,
        } => containers::rename(c, &container, &new_name),
        Command::Container {
            command: ContainerCommand::Prune { force },
        } => containers::prune(c, force),
        Command::Kill { signal, containers } => containers::kill(c, signal.as_deref(), &containers),
        Command::Rm {
            force, containers, ..
        } => containers::rm(c, force, &containers),
        Command::Ps {
            all,
            quiet,
            no_trunc,
            format,
            filters,
            last,
            latest,
        } => {
            let query = list::ps_query(all, &filters, if latest { Some(1) } else { last })?;
            list::ps(c, &query, quiet, no_trunc, format.as_deref())
        }
        Command::Logs {
            follow,
            tail,
            timestamps,
            since,
            until,
            container,
        } => {
            let mut q = String::new();
            if timestamps {
                q.push_str("&timestamps=1");
            }
            if let Some(s) = since {
                q.push_str(&format!("&since={}", containers::unix_time(&s)?));
            }
            if let Some(u) = until {
                q.push_str(&format!("&until={}", containers::unix_time(&u)?));
            }
            containers::logs(c, follow, tail.as_deref(), &q, &container)
        }
        Command::Inspect { format, names } => containers::inspect(c, format.as_deref(), &names),
        Command::Wait { containers } => containers::wait(c, &containers),
        Command::Images { quiet, format } => list::images(c, quiet, format.as_deref()),
        Command::Import { file, reference } => images::import(c, &file, reference.as_deref()),
        Command::Rmi { force, images } => images::rmi(c, force, &images),
        Command::Events {
            since,
            until,
            format,
        } => {
            let since = since.map(|s| containers::unix_time(&s)).transpose()?;
            let until = until.map(|s| containers::unix_time(&s)).transpose()?;
            system::events(c, since, until, format.as_deref())
        }
        Command::Version => system::version(c),
        Command::Info => system::info(c),
    }
}

/// Percent-encodes a query value or path segment.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
