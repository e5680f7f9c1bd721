//! The subcommands: their flags (docker's) and dispatch.

mod build;
mod confine;
mod containers;
mod cp;
mod envfile;
mod format;
mod health;
mod images;
mod limits;
mod list;
mod network;
mod pause;
mod registry;
mod rows;
mod run;
mod stats;
mod storage;
mod stream;
mod system;
mod update;
mod volume;

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
        /// Attach the container's STDIN.
        #[arg(short = 'i', long)]
        interactive: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Attach local standard input, output, and error streams to a running container.
    Attach {
        /// Do not attach STDIN.
        #[arg(long)]
        no_stdin: bool,
        /// Proxy all received signals to the process (accepted; on without a terminal).
        #[arg(long, default_value = "true")]
        sig_proxy: String,
        container: String,
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
        /// Keep STDIN open even if not attached.
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Allocate a pseudo-TTY.
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
    Top {
        container: String,
        /// Options for ps (`-o pid,comm`, `aux`), as docker passes them on.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
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
        /// Remove anonymous volumes associated with the container.
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
        /// Display total file sizes.
        #[arg(short = 's', long)]
        size: bool,
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
        /// Return JSON for the specified type (container, image, network, volume).
        #[arg(long = "type")]
        kind: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Block until one or more containers stop, then print their exit codes.
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List images.
    Images(images::ImagesArgs),
    /// Download an image from a registry.
    Pull(registry::PullArgs),
    /// Upload an image to a registry.
    Push(registry::PushArgs),
    /// Log in to a registry.
    Login(registry::LoginArgs),
    /// Log out from a registry.
    Logout(registry::LogoutArgs),
    /// Search Docker Hub for images.
    Search(registry::SearchArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(images::ImportArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(images::TagArgs),
    /// Show the history of an image.
    History(images::HistoryArgs),
    /// Create a new image from a container's changes.
    Commit(images::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff { container: String },
    /// Export a container's filesystem as a tar archive.
    Export(images::ExportArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(images::SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(images::LoadArgs),
    /// Manage images.
    Image {
        #[command(subcommand)]
        command: images::ImageCommand,
    },
    /// Manage volumes.
    Volume {
        #[command(subcommand)]
        command: volume::VolumeCommand,
    },
    /// Manage networks.
    Network {
        #[command(subcommand)]
        command: network::NetworkCommand,
    },
    /// List port mappings or a specific mapping for the container.
    Port {
        container: String,
        /// PRIVATE_PORT[/PROTO]
        private_port: Option<String>,
    },
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::CpArgs),
    /// Manage contexts (named daemon endpoints).
    Context {
        #[command(subcommand)]
        command: crate::context::ContextCommand,
    },
    /// Manage Berth (`system df`, `system prune`).
    System {
        #[command(subcommand)]
        command: system::SystemCommand,
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
        /// Filter output based on conditions provided (`type=container`, `label=k=v`, …).
        #[arg(short = 'f', long = "filter")]
        filters: Vec<String>,
        /// Format output using a Go template.
        #[arg(long)]
        format: Option<String>,
    },
    /// Display a live stream of container(s) resource usage statistics.
    Stats {
        /// Show all containers (default shows just running).
        #[arg(short = 'a', long)]
        all: bool,
        /// Disable streaming stats and only pull the first result.
        #[arg(long)]
        no_stream: bool,
        /// Do not truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// Format output using a Go template ("table" prefix: with a header).
        #[arg(long)]
        format: Option<String>,
        containers: Vec<String>,
    },
    /// Pause all processes within one or more containers.
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Unpause all processes within one or more containers.
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Update configuration of one or more containers.
    Update {
        #[command(flatten)]
        limits: limits::LimitFlags,
        /// Restart policy to apply when a container exits.
        #[arg(long)]
        restart: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Manage builds (`builder prune`).
    Builder {
        #[command(subcommand)]
        command: build::BuilderCommand,
    },
    /// Generate the autocompletion script for the specified shell.
    Completion {
        /// bash, zsh, fish or powershell.
        shell: clap_complete::Shell,
    },
    /// Show the Berth version information.
    Version {
        /// Format output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
    },
    /// Display system-wide information.
    Info {
        /// Format output using a Go template.
        #[arg(short = 'f', long)]
        format: Option<String>,
    },
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
        // docker create exits 1 where docker run exits 125.
        Command::Create { flags } => run::create_only(c, &flags).map_err(|f| Failure {
            code: if f.code == 125 { 1 } else { f.code },
            ..f
        }),
        Command::Start {
            attach,
            interactive,
            containers,
        } => containers::start(c, attach, interactive, &containers),
        Command::Attach {
            no_stdin,
            container,
            ..
        } => containers::attach(c, &container, no_stdin),
        Command::Stop { time, containers } => containers::stop(c, time, &containers),
        Command::Restart { time, containers } => containers::restart(c, time, &containers),
        Command::Top { container, ps_args } => list::top(c, &container, &ps_args.join(" ")),
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
            let body = serde_json::json!({
                "Cmd": command, "Env": env, "User": user.unwrap_or_default(),
                "WorkingDir": workdir.unwrap_or_default(),
                "AttachStdin": interactive && !detach,
                "AttachStdout": !detach, "AttachStderr": !detach, "Tty": tty,
            });
            let io = containers::Io {
                tty,
                stdin: interactive,
                ..containers::Io::default()
            };
            containers::exec(c, &container, body, detach, io)
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
            force,
            volumes,
            containers,
        } => {
            if volumes {
                volume::rm_with_volumes(c, force, &containers)
            } else {
                containers::rm(c, force, &containers)
            }
        }
        Command::Ps {
            all,
            quiet,
            no_trunc,
            format,
            filters,
            last,
            latest,
            size,
        } => {
            let limit = if latest { Some(1) } else { last };
            // docker asks for sizes when the template shows them.
            let shows_size = format
                .as_deref()
                .is_some_and(|f| f.contains(".Size") || f.contains("json ."));
            let query = list::ps_query(all, size || shows_size, &filters, limit)?;
            list::ps(c, &query, quiet, no_trunc, size, format.as_deref())
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
        Command::Inspect {
            format,
            kind,
            names,
        } => containers::inspect(c, format.as_deref(), kind.as_deref(), &names),
        Command::Wait { containers } => containers::wait(c, &containers),
        Command::Images(a) => images::images(c, &a),
        Command::Pull(a) => registry::pull(c, &a),
        Command::Push(a) => registry::push(c, &a),
        Command::Login(a) => registry::login(c, &a),
        Command::Logout(a) => registry::logout(c, &a),
        Command::Search(a) => registry::search(c, &a),
        Command::Import(a) => images::import(c, &a),
        Command::Tag(a) => images::tag(c, &a),
        Command::History(a) => images::history(c, &a),
        Command::Commit(a) => images::commit(c, &a),
        Command::Diff { container } => images::diff(c, &container),
        Command::Export(a) => images::export(c, &a),
        Command::Save(a) => images::save(c, &a),
        Command::Load(a) => images::load(c, &a),
        Command::Image { command } => images::image(c, command),
        Command::System { command } => system::system(c, command),
        // Handled before connecting (`context::run`): contexts need no daemon.
        Command::Context { command } => crate::context::run(command, ""),
        Command::Volume { command } => volume::volume(c, command),
        Command::Network { command } => network::network(c, command),
        Command::Port {
            container,
            private_port,
        } => network::port(c, &container, private_port.as_deref()),
        Command::Cp(a) => cp::cp(c, &a),
        Command::Rmi { force, images } => images::rmi(c, force, &images),
        Command::Events {
            since,
            until,
            filters,
            format,
        } => {
            let since = since.map(|s| containers::unix_time(&s)).transpose()?;
            let until = until.map(|s| containers::unix_time(&s)).transpose()?;
            let filters = images::filters_query(&filters)?;
            system::events(c, since, until, &filters, format.as_deref())
        }
        Command::Stats {
            all,
            no_stream,
            no_trunc,
            format,
            containers,
        } => stats::stats(c, all, no_stream, no_trunc, format.as_deref(), &containers),
        Command::Pause { containers } => pause::pause(c, true, &containers),
        Command::Unpause { containers } => pause::pause(c, false, &containers),
        Command::Update {
            limits,
            restart,
            containers,
        } => update::update(c, &limits, restart.as_deref(), &containers),
        Command::Build(a) => build::build(c, &a),
        Command::Builder { command } => build::builder(c, command),
        Command::Completion { shell } => {
            completion(shell);
            Ok(0)
        }
        Command::Version { format } => system::version(c, format.as_deref()),
        Command::Info { format } => system::info(c, format.as_deref()),
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

/// A `-a/--attach` value, lower-cased (docker accepts any case).
fn parse_stream(s: &str) -> Result<String, String> {
    let l = s.to_ascii_lowercase();
    if ["stdin", "stdout", "stderr"].contains(&l.as_str()) {
        Ok(l)
    } else {
        Err("valid streams are STDIN, STDOUT and STDERR".into())
    }
}

/// `berth completion SHELL`: the script, generated from the clap tree the command line is
/// parsed with (no daemon needed).
pub fn completion(shell: clap_complete::Shell) {
    let mut cmd = <crate::Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "berth", &mut std::io::stdout());
}
