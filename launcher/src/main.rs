//! `mptcpize-rs`: the command-line front end. It parses the command line
//! (see [`cli`]), hands each subcommand to its module, and turns a
//! [`Failure`] into a one-line message and the exit code its kind calls for.

mod cli;
mod envvars;
mod failure;
mod locate;
mod run;
mod systemd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run(args) => run::run(args),
        cli::Command::PreloadPath => locate::print_preload_path(),
        cli::Command::Enable(args) => systemd::enable(args),
        cli::Command::Disable(args) => systemd::disable(args),
        cli::Command::Status(args) => systemd::status(args),
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
