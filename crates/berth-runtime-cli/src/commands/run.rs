//! `run`: create + start, then (unless detached) wait for the container and delete it.

use std::path::Path;

use anyhow::Result;
use berth_runtime::container;
use nix::unistd::Pid;

use super::lifecycle::{check_terminal, options};
use crate::cli::{CreateArgs, Global};

pub fn run(root: &Path, g: &Global, a: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    if detach {
        check_terminal(a)?;
    }
    // The init may be forked by an intermediate: adopt it so we can wait for it.
    nix::sys::prctl::set_child_subreaper(true)?;
    let created = container::create(&options(root, g, a))?;
    let c = created.container;
    if let Err(e) = c.start() {
        let _ = c.delete(true);
        return Err(e.into());
    }
    if detach {
        return Ok(0);
    }
    let code = crate::relay::wait(Pid::from_raw(c.state.pid), created.pty_master);
    if !keep {
        c.delete(true)?;
    }
    code
}
