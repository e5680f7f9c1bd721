//! One file per verb; each is a thin call into the library.

pub mod exec;
mod info;
mod lifecycle;
mod run;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// The state root: `--root`, else /run/berth-runtime for root and $XDG_RUNTIME_DIR/berth-runtime
/// for others (runc's rule).
fn root(g: &crate::cli::Global) -> PathBuf {
    if let Some(r) = &g.root {
        return r.clone();
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/berth-runtime");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d).join("berth-runtime"),
        None => PathBuf::from(format!("/tmp/berth-runtime-{}", nix::unistd::geteuid())),
    }
}

/// Runs the command; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let root = root(&cli.global);
    let g = &cli.global;
    match cli.command {
        Command::Create(a) => lifecycle::create(&root, g, &a).map(|()| 0),
        Command::Start { id } => lifecycle::start(&root, &id).map(|()| 0),
        Command::Run {
            create,
            detach,
            keep,
        } => run::run(&root, g, &create, detach, keep),
        Command::State { id } => info::state(&root, &id).map(|()| 0),
        Command::Kill { all, id, signal } => lifecycle::kill(&root, &id, &signal, all).map(|()| 0),
        Command::Delete { force, id } => lifecycle::delete(&root, &id, force).map(|()| 0),
        Command::Exec(a) => exec::exec(&root, &a),
        Command::Ps {
            format,
            id,
            ps_args,
        } => info::ps(&root, &id, &format, &ps_args).map(|()| 0),
        Command::Pause { id } => lifecycle::pause(&root, &id, true).map(|()| 0),
        Command::Resume { id } => lifecycle::pause(&root, &id, false).map(|()| 0),
        Command::List { format, quiet } => info::list(&root, &format, quiet).map(|()| 0),
        Command::Spec { bundle, rootless } => info::spec(&bundle, rootless).map(|()| 0),
        Command::Features => info::features().map(|()| 0),
    }
}
