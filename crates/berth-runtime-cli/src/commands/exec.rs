//! `exec`: run a process in a running container, described by `--process` JSON or by flags.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_runtime::container::{self, Container, ExecOptions};
use berth_runtime::oci_spec::runtime::{Capabilities, Process};
use clap::Args;

/// `exec`'s flags, as runc names them.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment (KEY=VALUE), repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub tty: bool,
    /// uid[:gid] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// A process.json describing the whole process.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability, repeatable.
    #[arg(short, long = "cap")]
    pub cap: Vec<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for runc compatibility.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long = "apparmor")]
    pub apparmor: Option<String>,
    /// Accepted for runc compatibility (exec into a paused container is refused anyway).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Accepted for runc compatibility: exec'd processes join the container's own cgroup.
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The process to run: `--process` as given, else the container's own process with flags applied.
fn process(c: &Container, a: &ExecArgs) -> Result<Process> {
    if let Some(p) = &a.process {
        let data = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
        return serde_json::from_slice(&data).context("parse process json");
    }
    if a.command.is_empty() {
        bail!("exec args cannot be empty");
    }
    let spec = c.spec()?;
    let mut p = spec.process().clone().context("container has no process")?;
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let user = p.user_mut();
        user.set_uid(
            uid.parse()
                .with_context(|| format!("invalid uid {uid:?}"))?,
        );
        user.set_gid(
            gid.parse()
                .with_context(|| format!("invalid gid {gid:?}"))?,
        );
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let extra: Capabilities = a
            .cap
            .iter()
            .map(|c| serde_json::from_value(serde_json::Value::String(c.clone())))
            .collect::<Result<_, _>>()
            .context("invalid capability")?;
        let add = |s: &Option<Capabilities>| {
            let mut s = s.clone().unwrap_or_default();
            s.extend(extra.iter().copied());
            Some(s)
        };
        caps.set_bounding(add(caps.bounding()));
        caps.set_effective(add(caps.effective()));
        caps.set_permitted(add(caps.permitted()));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

pub fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    let c = Container::load(root, &a.id)?;
    let p = process(&c, a)?;
    if p.terminal().unwrap_or(false) && a.detach && a.console_socket.is_none() {
        bail!("cannot allocate tty if runc will detach without setting console socket");
    }
    let spawned = container::exec(
        &c,
        &ExecOptions {
            process: p,
            console_socket: a.console_socket.clone(),
            pid_file: a.pid_file.clone(),
            preserve_fds: a.preserve_fds,
            ignore_paused: a.ignore_paused,
        },
    )?;
    if a.detach {
        return Ok(0);
    }
    crate::relay::wait(spawned.pid, spawned.pty_master)
}
