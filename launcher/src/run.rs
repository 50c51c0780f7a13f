//! `mptcpize-rs run`: puts the shim into the environment and executes the
//! program in place of the launcher (execvp semantics: PATH search, no fork,
//! no shell), so the program keeps our pid, signals, stdio and exit status.

use crate::cli::RunArgs;
use crate::envvars::{godebug_with, ld_preload_with};
use crate::failure::{Failure, Outcome, CANNOT_EXECUTE, NOT_FOUND};
use crate::locate;
use std::os::unix::process::CommandExt;
use std::process::Command;

pub fn run(args: RunArgs) -> Outcome {
    let shim = locate::shim()?;
    let (prog, rest) = args.command.split_first().expect("clap requires PROG");
    let ld_preload = ld_preload_with(std::env::var_os("LD_PRELOAD").as_deref(), &shim);
    let godebug = godebug_with(std::env::var_os("GODEBUG").as_deref());
    // The launcher is single-threaded and about to exec: setting its own
    // environment is safe, and spares Command a copy of the whole of it.
    std::env::set_var("LD_PRELOAD", ld_preload);
    std::env::set_var("GODEBUG", godebug);
    if args.debug {
        std::env::set_var("MPTCPIZE_DEBUG", "1");
    }
    if args.no_fallback {
        std::env::set_var("MPTCPIZE_FALLBACK", "0");
    }
    // exec() only returns on failure.
    let err = Command::new(prog).args(rest).exec();
    let name = prog.to_string_lossy();
    Err(match err.kind() {
        std::io::ErrorKind::NotFound if !name.contains('/') => {
            Failure::new(NOT_FOUND, format!("{name}: command not found"))
        }
        std::io::ErrorKind::NotFound if std::path::Path::new(prog).exists() => Failure::new(
            NOT_FOUND,
            format!("{name}: its interpreter (#!) or ELF loader was not found"),
        ),
        std::io::ErrorKind::NotFound => Failure::new(NOT_FOUND, format!("{name}: no such file")),
        std::io::ErrorKind::PermissionDenied => Failure::new(
            CANNOT_EXECUTE,
            format!("{name}: permission denied (not executable?)"),
        ),
        _ => Failure::new(CANNOT_EXECUTE, format!("{name}: cannot execute: {err}")),
    })
}
