//! `berth compose`: docker compose v2's commands as a client of the Engine API. The model,
//! validation and plan come from `berth-compose`; this module sends the requests and prints
//! docker compose's output.

mod args;
mod deps;
mod down;
mod images;
mod interrupt;
mod logs;
mod ops;
mod project;
mod ps;
mod run;
mod up;

pub use args::ComposeArgs;
use args::ComposeCommand;

use crate::client::Client;
use crate::Failure;

/// Runs one `berth compose` command.
pub fn compose(c: &Client, a: ComposeArgs) -> Result<i32, Failure> {
    let mut opts = project::options(&a)?;
    opts.named_services = match &a.command {
        ComposeCommand::Up(x) => x.services.clone(),
        ComposeCommand::Run(x) => vec![x.service.clone()],
        _ => vec![],
    };
    match a.command {
        ComposeCommand::Config(x) => project::config(&opts, &x),
        ComposeCommand::Up(x) => up::up(c, &project::load(&opts)?, &x),
        ComposeCommand::Down(x) => down::down(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Ps(x) => ps::ps(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Logs(x) => logs::logs(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Exec(x) => run::exec(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Run(x) => run::run(c, &project::load(&opts)?, &x),
        ComposeCommand::Build(x) => {
            images::build(c, &project::load(&opts)?, &x.services, x.no_cache, x.pull)
        }
        ComposeCommand::Pull(x) => images::pull(
            c,
            &project::load(&opts)?,
            &x.services,
            x.ignore_pull_failures,
        ),
        ComposeCommand::Push(x) => images::push(c, &project::load(&opts)?, &x.services),
        ComposeCommand::Images(x) => images::images(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Top(x) => ops::top(c, &project::load_or_name(&opts)?, &x.services),
        ComposeCommand::Port(x) => ops::port(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Events(x) => ops::events(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Rm(x) => ops::rm(c, &project::load_or_name(&opts)?, &x),
        ComposeCommand::Start(x) => ops::lifecycle(
            c,
            &project::Target::from(&project::load(&opts)?),
            ops::Verb::Start,
            &x.services,
        ),
        ComposeCommand::Stop(x) => ops::lifecycle(
            c,
            &project::load_or_name(&opts)?,
            ops::Verb::Stop(x.timeout),
            &x.services,
        ),
        ComposeCommand::Restart(x) => ops::lifecycle(
            c,
            &project::load_or_name(&opts)?,
            ops::Verb::Restart(x.timeout),
            &x.services,
        ),
        ComposeCommand::Kill(x) => ops::lifecycle(
            c,
            &project::load_or_name(&opts)?,
            ops::Verb::Kill(x.signal),
            &x.services,
        ),
        ComposeCommand::Pause(x) => ops::lifecycle(
            c,
            &project::load_or_name(&opts)?,
            ops::Verb::Pause,
            &x.services,
        ),
        ComposeCommand::Unpause(x) => ops::lifecycle(
            c,
            &project::load_or_name(&opts)?,
            ops::Verb::Unpause,
            &x.services,
        ),
    }
}
