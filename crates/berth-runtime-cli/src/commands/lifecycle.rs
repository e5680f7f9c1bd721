//! `create`, `start`, `kill`, `delete`, `pause`, `resume`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use berth_runtime::container::{self, Container, CreateOptions};
use nix::sys::signal::Signal;

use crate::cli::{CreateArgs, Global};

/// The library's create options from the command line.
pub fn options(root: &Path, g: &Global, a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        root: root.to_path_buf(),
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        systemd_cgroup: g.systemd_cgroup,
    }
}

/// Refuses a terminal nobody could read (runc's rule for detached containers).
pub fn check_terminal(a: &CreateArgs) -> Result<()> {
    let spec = a.bundle.join("config.json");
    let terminal = std::fs::read(&spec)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.pointer("/process/terminal").and_then(|t| t.as_bool()))
        .unwrap_or(false);
    if terminal && a.console_socket.is_none() {
        bail!("cannot allocate tty if runc will detach without setting console socket");
    }
    if !terminal && a.console_socket.is_some() {
        bail!("cannot use console socket if runc will not detach or allocate tty");
    }
    Ok(())
}

pub fn create(root: &Path, g: &Global, a: &CreateArgs) -> Result<()> {
    check_terminal(a)?;
    container::create(&options(root, g, a))?;
    Ok(())
}

pub fn start(root: &Path, id: &str) -> Result<()> {
    Ok(Container::load(root, id)?.start()?)
}

/// Parses `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).with_context(|| format!("invalid signal {s:?}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>()
        .with_context(|| format!("invalid signal {s:?}"))
}

pub fn kill(root: &Path, id: &str, sig: &str, all: bool) -> Result<()> {
    let sig = parse_signal(sig)?;
    Ok(Container::load(root, id)?.kill(sig, all)?)
}

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    match Container::load(root, id) {
        Ok(c) => Ok(c.delete(force)?),
        // runc: deleting a missing container with --force succeeds.
        Err(berth_runtime::Error::State(berth_runtime::state::StateError::NotFound)) if force => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub fn pause(root: &Path, id: &str, freeze: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    if freeze {
        Ok(c.pause()?)
    } else {
        Ok(c.resume()?)
    }
}
