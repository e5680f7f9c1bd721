//! `berthd`: the Berth daemon. It serves Docker's Engine API over unix sockets (and TCP with
//! TLS, see `tls`) in front of
//! `berth-engine`; containers run under their own `berth-shim`, so the daemon can be stopped,
//! killed or upgraded while they keep running.

mod api;
mod config;
mod cri;
mod listen;
mod rootless;
mod tls;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;

/// Command-line flags in dockerd's spirit. Unset flags fall back to the config file
/// (`--config-file`, default /etc/berth/daemon.json), then to the defaults shown.
#[derive(Parser, Debug)]
#[command(name = "berthd", version, about = "The Berth container engine daemon")]
struct Flags {
    /// Daemon configuration file (dockerd's daemon.json keys) [default: /etc/berth/daemon.json]
    #[arg(long)]
    config_file: Option<PathBuf>,
    /// Persistent state: containers, images [default: /var/lib/berth]
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Runtime state (container bundles, root mounts, shim files) [default: /run/berth]
    #[arg(long)]
    exec_root: Option<PathBuf>,
    /// Where to listen: unix://PATH or tcp://ADDR:PORT (repeatable). Default:
    /// unix://<exec-root>/berth.sock.
    #[arg(short = 'H', long = "host")]
    hosts: Vec<String>,
    /// Use TLS on tcp:// hosts; implied by --tlsverify. `--tls=false`: plain HTTP, only on a
    /// loopback address
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tls: Option<bool>,
    /// Use TLS and accept only clients with a certificate signed by --tlscacert
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tlsverify: Option<bool>,
    /// Trust client certificates signed only by this CA [default: ~/.berth/ca.pem]
    #[arg(long)]
    tlscacert: Option<PathBuf>,
    /// The server's TLS certificate [default: ~/.berth/cert.pem]
    #[arg(long)]
    tlscert: Option<PathBuf>,
    /// The server's TLS key [default: ~/.berth/key.pem]
    #[arg(long)]
    tlskey: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace [default: info]
    #[arg(long)]
    log_level: Option<String>,
    /// The default bridge's device (dockerd's -b); `none`: no default network, containers
    /// default to `--network none` [default: berth0]
    #[arg(short = 'b', long = "bridge")]
    bridge: Option<String>,
    /// The default bridge's address and prefix (default 172.17.0.1/16, or a free pool).
    #[arg(long)]
    bip: Option<String>,
    /// A Docker Hub mirror (repeatable), tried before registry-1.docker.io.
    #[arg(long = "registry-mirror")]
    registry_mirrors: Vec<String>,
    /// A registry reached over plain HTTP (repeatable); loopback always is.
    #[arg(long = "insecure-registry")]
    insecure_registries: Vec<String>,
    /// A DNS server for containers (repeatable), as dockerd's --dns: the resolv.conf of
    /// containers that name none themselves, and where the embedded DNS of user-defined
    /// networks forwards other names [default: the host's resolvers]
    #[arg(long = "dns")]
    dns: Vec<Ipv4Addr>,
    /// Run containers in a user namespace mapped to subordinate ids of /etc/subuid and
    /// /etc/subgid: `default` (user berthremap), USER, USER:GROUP or UID:GID
    #[arg(long = "userns-remap")]
    userns_remap: Option<String>,
    /// The largest streamed request body: a build context as sent, `load`, `import`, `cp` into
    /// a container (bytes, or 512m, 2g, ...) [default: 64g]
    #[arg(long)]
    max_upload_size: Option<String>,
    /// The largest build context once decompressed [default: 2g]
    #[arg(long)]
    build_context_max_size: Option<String>,
    /// The most files, directories and links a build context may hold [default: 1000000]
    #[arg(long)]
    build_context_max_files: Option<usize>,
    #[command(flatten)]
    cri: cri::CriFlags,
}

/// The settings in effect: flags over the config file over defaults.
struct Settings {
    data_root: PathBuf,
    exec_root: PathBuf,
    hosts: Vec<String>,
    tls: tls::TlsSettings,
    log_level: String,
    bridge: String,
    bip: Option<String>,
    /// Unprivileged: enter a user namespace first (`rootless`).
    rootless: bool,
    registry: berth_engine::registry::RegistryOptions,
    userns_remap: Option<String>,
    dns: Vec<Ipv4Addr>,
    limits: api::Limits,
    /// The CRI endpoint (`None`: off).
    cri: Option<cri::CriSettings>,
}

/// The request limits: flags over the config file over [`api::Limits::default`].
fn limits(flags: &Flags, file: &config::DaemonConfig) -> Result<api::Limits> {
    let size = |flag: &Option<String>, key: &str, file: &Option<config::Size>, default: u64| match (
        flag, file,
    ) {
        (Some(f), _) => config::parse_size(f, key),
        (None, Some(v)) => v.bytes(key),
        (None, None) => Ok(default),
    };
    let d = api::Limits::default();
    let files = flags
        .build_context_max_files
        .or(file.build_context_max_files)
        .unwrap_or(d.context.max_entries);
    if files == 0 {
        bail!("build-context-max-files must be at least 1");
    }
    Ok(api::Limits {
        upload: size(
            &flags.max_upload_size,
            "max-upload-size",
            &file.max_upload_size,
            d.upload,
        )?,
        context: berth_engine::build::ContextLimits {
            max_bytes: size(
                &flags.build_context_max_size,
                "build-context-max-size",
                &file.build_context_max_size,
                d.context.max_bytes,
            )?,
            max_entries: files,
        },
    })
}

impl Settings {
    fn resolve(flags: Flags) -> Result<Settings> {
        // Rootless: the user's own config file and directories (see `rootless`).
        let user = match rootless::needed() {
            true => Some(rootless::defaults(flags.exec_root.is_some())?),
            false => None,
        };
        let file = match (&user, &flags.config_file) {
            (Some(u), None) if !u.config_file.exists() => config::DaemonConfig::default(),
            (Some(u), None) => config::DaemonConfig::load(Some(&u.config_file))?,
            (_, given) => config::DaemonConfig::load(given.as_deref())?,
        };
        let user_default = |f: fn(&rootless::Defaults) -> &PathBuf, root: &str| {
            user.as_ref()
                .map_or_else(|| PathBuf::from(root), |u| f(u).clone())
        };
        let or_list =
            |flag: Vec<String>, file: Vec<String>| if flag.is_empty() { file } else { flag };
        let limits = limits(&flags, &file)?;
        let dns = match flags.dns.is_empty() {
            false => flags.dns,
            true => file
                .dns
                .iter()
                .map(|s| {
                    s.parse()
                        .with_context(|| format!("dns: {s} is not an IPv4 address"))
                })
                .collect::<Result<_>>()?,
        };
        let exec_root = flags
            .exec_root
            .or(file.exec_root.clone().map(PathBuf::from))
            .unwrap_or_else(|| user_default(|u| &u.exec_root, "/run/berth"));
        let cri = cri::resolve(flags.cri, &file, &exec_root)?;
        Ok(Settings {
            dns,
            limits,
            cri,
            data_root: flags
                .data_root
                .or(file.data_root.map(PathBuf::from))
                .unwrap_or_else(|| user_default(|u| &u.data_root, "/var/lib/berth")),
            exec_root,
            tls: tls::TlsSettings {
                tls: flags.tls.or(file.tls),
                verify: flags.tlsverify.or(file.tlsverify),
                ca: flags.tlscacert.or(file.tlscacert.map(PathBuf::from)),
                cert: flags.tlscert.or(file.tlscert.map(PathBuf::from)),
                key: flags.tlskey.or(file.tlskey.map(PathBuf::from)),
            },
            hosts: match (&user, or_list(flags.hosts, file.hosts)) {
                (Some(u), hosts) if hosts.is_empty() && !u.socket.as_os_str().is_empty() => {
                    vec![format!("unix://{}", u.socket.display())]
                }
                (_, hosts) => hosts,
            },
            log_level: flags
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            bridge: flags.bridge.or(file.bridge).unwrap_or_else(|| {
                // Rootless: no bridge on the host (see `rootless`).
                if user.is_some() { "none" } else { "berth0" }.into()
            }),
            bip: flags.bip.or(file.bip),
            userns_remap: flags.userns_remap.or(file.userns_remap),
            rootless: user.is_some(),
            registry: berth_engine::registry::RegistryOptions {
                insecure: or_list(flags.insecure_registries, file.insecure_registries),
                mirrors: or_list(flags.registry_mirrors, file.registry_mirrors),
            },
        })
    }
}

/// Where to listen, and what the TCP listeners serve (decided before anything starts, so a
/// missing certificate or a refused plain port stops the daemon at once).
struct Endpoints {
    hosts: Vec<listen::Host>,
    security: Option<tls::Security>,
}

fn endpoints(flags: &Settings) -> Result<Endpoints> {
    let default_unix = flags.exec_root.join("berth.sock");
    if flags.hosts.is_empty() {
        return Ok(Endpoints {
            hosts: vec![listen::Host::Unix(default_unix)],
            security: None,
        });
    }
    let tls = flags.tls.tls == Some(true) || flags.tls.verify == Some(true);
    let hosts = flags
        .hosts
        .iter()
        .map(|h| listen::parse_host(h, &default_unix, tls))
        .collect::<Result<Vec<_>>>()?;
    let tcp: Vec<_> = hosts
        .iter()
        .filter_map(|h| match h {
            listen::Host::Tcp(a) => Some(*a),
            listen::Host::Unix(_) => None,
        })
        .collect();
    let security = flags.tls.security(&tcp)?;
    Ok(Endpoints { hosts, security })
}

fn bind(path: &PathBuf) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        bail!("another daemon is listening on {}", path.display());
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    Ok(listener)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

/// Blocking threads for engine calls at once; more requests wait for one.
const MAX_BLOCKING_THREADS: usize = 128;

/// Raises the soft open-files limit to the hard one, as dockerd does: each client connection,
/// stream and container (log files, attach sockets) is a descriptor, and the usual soft limit
/// of 1024 would refuse clients long before anything else runs out.
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!("raising the open files limit from {soft} to {hard}: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("reading the open files limit: {e}"),
    }
}

fn main() -> Result<()> {
    // Before anything is written: records, logs and the store are no other user's to read
    // (issue 14); what containers must read is given its mode where it is made.
    berth_engine::perms::set_daemon_umask();
    let flags = Settings::resolve(Flags::parse())?;
    if flags.rootless && flags.bridge != "none" {
        bail!("rootless berthd cannot create bridge networks on the host: use --bridge none");
    }
    if flags.rootless && flags.userns_remap.is_some() {
        bail!(
            "userns-remap needs a root daemon (rootless berthd already runs in a user namespace)"
        );
    }
    // Before any thread exists (tokio, logging): unshare needs a single-threaded process.
    let mapping = match flags.rootless {
        true => Some(rootless::enter(&flags.exec_root)?),
        false => None,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&flags.log_level)
                .context("invalid --log-level")?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Some(m) = &mapping {
        tracing::info!("rootless mode: {m}");
    }
    let endpoints = endpoints(&flags)?;
    let mut engine_cfg = berth_engine::EngineConfig::new(&flags.data_root, &flags.exec_root);
    // Rootless: no bridges nor nftables (containers get `none`, `host` or `pasta`).
    engine_cfg.rootless = flags.rootless;
    if !flags.rootless {
        engine_cfg.network = Some(berth_engine::network::NetworkOptions {
            bridge: Some(flags.bridge.clone()).filter(|b| b != "none"),
            bip: flags.bip.clone(),
            dns: flags.dns.clone(),
        });
    }
    if !flags.registry.insecure.is_empty() || !flags.registry.mirrors.is_empty() {
        engine_cfg.registry = flags.registry.clone();
    }
    engine_cfg.userns_remap = config::userns_remap(flags.userns_remap.as_deref())?;
    let engine = berth_engine::Engine::open(engine_cfg).context("opening the engine")?;
    raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Streams hold no blocking thread (see api::streams); this bounds the threads that
        // ordinary requests can add in a burst (tokio's default is 512).
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let cri = flags.cri.as_ref().map(|c| c.options(&flags.data_root));
    rt.block_on(serve(engine, endpoints, flags.limits, cri))
}

/// Serves `app` on `listener` until `stop` turns true.
fn spawn_server<L>(
    listener: L,
    app: axum::routing::IntoMakeService<api::Service>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            })
            .await
    })
}

async fn serve(
    engine: Arc<berth_engine::Engine>,
    endpoints: Endpoints,
    limits: api::Limits,
    cri: Option<berth_cri::CriOptions>,
) -> Result<()> {
    let cri_socket = cri.as_ref().map(|c| c.socket.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(opts) = cri {
        let listener = berth_cri::bind(&opts.socket)?;
        tracing::info!("CRI listening on {}", opts.socket.display());
        let mut rx = stop_rx.clone();
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            berth_cri::serve(engine, opts, listener, stop)
                .await
                .map_err(std::io::Error::other)
        }));
    }
    let mut sockets = Vec::new();
    for host in &endpoints.hosts {
        let app = api::app(engine.clone(), limits);
        let rx = stop_rx.clone();
        match (host, &endpoints.security) {
            (listen::Host::Unix(path), _) => {
                let listener = bind(path)?;
                tracing::info!("API listening on {}", path.display());
                sockets.push(path.clone());
                tasks.push(spawn_server(listener, app, rx));
            }
            (listen::Host::Tcp(addr), Some(tls::Security::Tls(config))) => {
                let listener = listen::tls(listen::bind_tcp(*addr)?, config.clone())?;
                tracing::info!("API listening on tcp://{addr} (TLS)");
                tasks.push(spawn_server(listener, app, rx));
            }
            (listen::Host::Tcp(addr), _) => {
                let listener = listen::plain(listen::bind_tcp(*addr)?)?;
                tracing::info!("API listening on tcp://{addr} (plain HTTP)");
                tasks.push(spawn_server(listener, app, rx));
            }
        }
    }
    let servers = async {
        for t in tasks {
            if let Ok(Err(e)) = t.await {
                tracing::error!("serving: {e}");
            }
        }
    };
    // On SIGTERM/SIGINT: stop accepting, give open streams (logs -f, attach) a moment, then
    // exit anyway; the containers do not depend on us.
    let stop = async {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    };
    tokio::select! {
        _ = servers => {}
        _ = stop => tracing::info!("closing the remaining connections"),
    }
    for path in sockets.iter().chain(cri_socket.iter()) {
        let _ = std::fs::remove_file(path);
    }
    engine.networks().shutdown();
    tracing::info!("berthd stopped; containers keep running under their shims");
    Ok(())
}
