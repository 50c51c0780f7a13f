//! `mptcpize-rs`: the command-line front end. It parses the command line
//! (see [`cli`]), hands each subcommand to its module (`try_main`), and
//! turns what failed into a one-line message and the exit code its kind
//! calls for ([`error`]: the only place that knows exit codes).
//!
//! `mptcpize-rs run` sits in front of every program it starts, so it starts
//! fast: with `no_main`, std's runtime set-up (a main-thread stack guard that
//! parses /proc/self/maps: about a quarter of the launcher's instructions)
//! is skipped. std works as usual otherwise; `main` ends through
//! `std::process::exit`, which flushes stdout.
#![cfg_attr(not(test), no_main)]

mod assets;
mod check;
mod cli;
mod envvars;
mod error;
mod locate;
mod policy;
mod report_dest;
mod run;
mod say;
mod seccomp;
mod systemd;
pub mod target;
mod top;

use std::ffi::{c_char, c_int};

/// The C entry point (see the top of the file for why not Rust's). Unit
/// tests keep the test harness's own.
#[cfg_attr(not(test), no_mangle)]
#[cfg_attr(test, allow(dead_code))]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    std::process::exit(run_command().into())
}

/// Runs the subcommand and gives the exit status.
fn run_command() -> u8 {
    // Our own output failing must never stop us, nor the program we start.
    say::ignore_sigpipe();
    match try_main() {
        Ok(code) => code,
        Err(e) => error::report(&e),
    }
}

fn try_main() -> Result<u8, error::Error> {
    let cli = match cli::parse() {
        cli::Invocation::User(cli) => cli,
        cli::Invocation::GenerateAssets(dir) => return assets::generate(&dir),
    };
    Ok(match cli.command {
        cli::Command::Run(args) => run::run(args)?,
        cli::Command::PreloadPath => locate::print_preload_path()?,
        cli::Command::Check(args) => check::check(args)?,
        cli::Command::Enable(args) => systemd::enable(args)?,
        cli::Command::Disable(args) => systemd::disable(args)?,
        cli::Command::Status(args) => systemd::status(args)?,
        cli::Command::Top(args) => top::top(args)?,
    })
}
