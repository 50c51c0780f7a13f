//! The one error model: each subcommand's failures are types of their own
//! domain (`run::Error`, `target::Error`, `locate::Error`, …); this file
//! alone turns them into an exit status with the meaning env(1) gives it and
//! the one line `mptcpize-rs: …` the user reads.

use crate::{check, locate, run, systemd, target, top};
use std::io;

/// The exit status of a subcommand that succeeded.
pub const SUCCESS: u8 = 0;
/// A subcommand other than `run` failed (or `check` found MPTCP unusable).
pub const FAILED: u8 = 1;
/// `run`: the launcher itself failed (no shim, bad `--report`, …).
const LAUNCHER_FAILED: u8 = 125;
/// Bad input clap cannot see (`check --peer` that does not resolve), as
/// clap's own usage errors.
const USAGE: u8 = 2;
/// PROG was found but could not be executed.
const CANNOT_EXECUTE: u8 = 126;
/// PROG was not found.
const NOT_FOUND: u8 = 127;

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `run`: PROG could not be executed, or the launcher failed before it ran.
    #[error(transparent)]
    Run(#[from] run::Error),
    /// `check PROG`: PROG cannot be found or executed.
    #[error(transparent)]
    Check(#[from] check::Error),
    /// `preload-path`: no shim.
    #[error(transparent)]
    PreloadPath(#[from] locate::Error),
    /// `enable`, `disable`, `status`.
    #[error(transparent)]
    Systemd(#[from] systemd::Error),
    /// `top`.
    #[error(transparent)]
    Top(#[from] top::Error),
    /// `generate-assets DIR`.
    #[error("cannot write {what} under {dir}: {source}")]
    Assets {
        what: &'static str,
        dir: std::path::PathBuf,
        source: io::Error,
    },
    /// The output that is the subcommand's product (a path, a report)
    /// could not be written: stdout is full, closed or gone.
    #[error("cannot write the output: {}", crate::say::short(.0))]
    Output(#[source] io::Error),
}

impl Error {
    /// The exit status, as env(1) and nice(1) use them for `run`.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Run(run::Error::Prog(e)) | Error::Check(check::Error::Prog(e)) => prog_code(e),
            Error::Run(_) => LAUNCHER_FAILED,
            Error::Check(check::Error::Usage(_)) => USAGE,
            Error::PreloadPath(_)
            | Error::Systemd(_)
            | Error::Top(_)
            | Error::Assets { .. }
            | Error::Output(_) => FAILED,
        }
    }
}

/// 127 when PROG (or its interpreter) does not exist, 126 when it exists but
/// cannot be executed.
fn prog_code(e: &target::Error) -> u8 {
    if e.not_found() {
        NOT_FOUND
    } else {
        CANNOT_EXECUTE
    }
}

/// Ends the program: the one-line message on stderr (best-effort) and the
/// exit status.
pub fn report(e: &Error) -> u8 {
    crate::say::line(format_args!("{e}"));
    e.exit_code()
}
