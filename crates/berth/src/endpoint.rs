//! Which daemon the CLI talks to, in the docker CLI's order: `-H`, `--context`, then
//! `BERTH_HOST`/`DOCKER_HOST`, `BERTH_CONTEXT`, the current context (`berth context use`),
//! else the local socket. TLS comes from `--tls`/`--tlsverify`/`DOCKER_TLS_VERIFY` and the
//! certificate files (flags, `DOCKER_CERT_PATH`) for a host, from the store for a context.

use crate::conn::{parse_tcp, Endpoint};
use crate::context;
use crate::tls::TlsOptions;
use crate::{Cli, Failure};

/// The endpoint chosen, and how.
pub struct Choice {
    pub endpoint: Endpoint,
    /// The local default socket (no host, no context): berthd may be started on demand.
    pub local_default: bool,
    /// What the `default` context stands for (`berth context ls`).
    pub described: String,
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// A host URL as an endpoint; `tls` applies to `tcp://` only.
pub fn parse_host(h: &str, tls: Option<&TlsOptions>) -> Result<Endpoint, Failure> {
    if let Some(p) = h.strip_prefix("unix://") {
        if p.is_empty() {
            return Err(Failure::daemon(format!(
                "invalid host {h:?}: no socket path"
            )));
        }
        return Ok(Endpoint::Unix(p.into()));
    }
    if let Some(rest) = h.strip_prefix("tcp://") {
        let (host, port) = parse_tcp(rest, tls.is_some()).map_err(Failure::daemon)?;
        let tls = match tls {
            Some(t) => Some(t.client_config().map_err(Failure::daemon)?),
            None => None,
        };
        return Ok(Endpoint::Tcp { host, port, tls });
    }
    if let Some(rest) = h.strip_prefix("ssh://") {
        return crate::ssh::parse(rest)
            .map(Endpoint::Ssh)
            .map_err(Failure::daemon);
    }
    Err(Failure::daemon(format!(
        "unsupported host {h:?}: use unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
    )))
}

/// TLS as the flags and environment ask (`None`: plain).
fn flag_tls(cli: &Cli) -> Option<TlsOptions> {
    // As the docker CLI: any non-empty DOCKER_TLS_VERIFY turns verification on.
    let verify = cli.tlsverify || env(&["BERTH_TLS_VERIFY", "DOCKER_TLS_VERIFY"]).is_some();
    (cli.tls || verify).then(|| TlsOptions {
        verify,
        ca: cli.tlscacert.clone(),
        cert: cli.tlscert.clone(),
        key: cli.tlskey.clone(),
    })
}

fn from_context(name: &str) -> Result<Endpoint, Failure> {
    let c = context::load(name)?.ok_or_else(|| {
        Failure::daemon(format!(
            "context {name:?} does not exist (see `berth context ls`)"
        ))
    })?;
    parse_host(&c.host, c.tls().as_ref())
}

/// Chooses the endpoint for this invocation.
pub fn choose(cli: &Cli) -> Result<Choice, Failure> {
    if cli.host.is_some() && cli.context.is_some() {
        return Err(Failure::daemon(
            "conflicting options: either specify --host or --context, not both",
        ));
    }
    let host = cli
        .host
        .clone()
        .or_else(|| env(&["BERTH_HOST", "DOCKER_HOST"]).filter(|_| cli.context.is_none()));
    let local = format!("unix://{}", crate::default_socket().display());
    let described = host.clone().unwrap_or_else(|| local.clone());
    let choice = |endpoint, local_default| Choice {
        endpoint,
        local_default,
        described: described.clone(),
    };
    if let Some(h) = &host {
        return Ok(choice(parse_host(h, flag_tls(cli).as_ref())?, false));
    }
    let name = match cli.context.clone().or_else(|| env(&["BERTH_CONTEXT"])) {
        Some(n) => n,
        None => context::current()?,
    };
    if name == context::DEFAULT {
        let tls = flag_tls(cli);
        return Ok(choice(parse_host(&local, tls.as_ref())?, true));
    }
    Ok(choice(from_context(&name)?, false))
}
