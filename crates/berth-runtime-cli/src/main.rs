//! `berth-runtime`: a runc-compatible command line over the `berth-runtime` library, so podman,
//! containerd and Berth's engine can drive it by the flags they already pass to runc.

mod cli;
mod commands;
mod logging;
mod relay;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    logging::init(&cli.global);
    if cli.command.needs_protected_binary() {
        if let Err(e) = berth_runtime::seal::ensure_sealed() {
            logging::report(&e.into());
            std::process::exit(1);
        }
    }
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            logging::report(&e);
            1
        }
    };
    std::process::exit(code);
}
