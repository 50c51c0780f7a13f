//! `mptcpize-rs run`: finds PROG, chooses the mode that reaches its sockets
//! (see [`crate::target`]), and runs it.
//!
//! Preload mode puts the shim into the environment and executes the program
//! in place of the launcher (execvp semantics: PATH search, no fork, no
//! shell), so the program keeps our pid, signals, stdio and exit status.
//! Seccomp mode runs it under a supervisor (see [`crate::seccomp`]).

use crate::cli::{RunArgs, RunMode};
use crate::envvars::{godebug_with, ld_preload_with};
use crate::failure::{Failure, Outcome, CANNOT_EXECUTE, LAUNCHER_FAILED, NOT_FOUND};
use crate::target::{self, Mode};
use crate::{locate, seccomp};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn run(args: RunArgs) -> Outcome {
    let (prog, rest) = args.command.split_first().expect("clap requires PROG");
    let target = target::inspect(prog).map_err(|e| match e {
        target::Error::NotFound { .. } => Failure::new(NOT_FOUND, e.to_string()),
        target::Error::NotExecutable { .. } => Failure::new(CANNOT_EXECUTE, e.to_string()),
    })?;
    if let target::Kind::Script { interpreter, .. } = &target.kind {
        if !interpreter.exists() {
            // execve fails with ENOENT here: 127, as env(1) exits.
            return Err(Failure::new(
                NOT_FOUND,
                format!(
                    "{}: bad interpreter {}: no such file",
                    target.path.display(),
                    interpreter.display()
                ),
            ));
        }
    }
    let mode = match args.mode {
        RunMode::Auto => {
            let choice = target::choose_mode(&target);
            if args.debug {
                eprintln!("mptcpize-rs: {} mode: {}", choice.mode, choice.reason);
            }
            choice.mode
        }
        RunMode::Preload => Mode::Preload,
        RunMode::Seccomp => Mode::Seccomp,
    };
    if args.debug && args.mode != RunMode::Auto {
        eprintln!("mptcpize-rs: {mode} mode (--mode {mode})");
    }
    if let Some(why) = target::privilege_obstacle(&target, mode) {
        return Err(Failure::new(LAUNCHER_FAILED, why));
    }
    if args.mode != RunMode::Auto {
        if let Some(why) = target::mode_mismatch(&target, mode) {
            eprintln!("mptcpize-rs: warning: {why}");
        }
    }

    // Go 1.21+ anywhere in the tree makes its own MPTCP sockets.
    let godebug = godebug_with(std::env::var_os("GODEBUG").as_deref());
    let mut env = vec![("GODEBUG", godebug)];
    if args.debug {
        env.push(("MPTCPIZE_DEBUG", "1".into()));
    }
    if args.no_fallback {
        env.push(("MPTCPIZE_FALLBACK", "0".into()));
    }
    if args.strict_options {
        env.push((mptcpize_rules::sockopt::STRICT_OPTIONS_VAR, "1".into()));
    }
    if let Some(to) = &args.report {
        env.push(("MPTCPIZE_REPORT", report_target(to)?.into_os_string()));
        if mode == Mode::Seccomp {
            eprintln!(
                "mptcpize-rs: warning: --report comes from the preload library, which seccomp mode does not load: nothing will be reported"
            );
        }
    }
    match mode {
        Mode::Preload => {
            let shim = locate::shim()?;
            let ld_preload = ld_preload_with(std::env::var_os("LD_PRELOAD").as_deref(), &shim);
            // The launcher is single-threaded and about to exec: setting its
            // own environment is safe, and spares Command a copy of the whole
            // of it.
            std::env::set_var("LD_PRELOAD", ld_preload);
            for (name, value) in env {
                std::env::set_var(name, value);
            }
            // exec() only returns on failure.
            Err(seccomp::exec_failure(
                Command::new(prog).args(rest).exec(),
                prog,
            ))
        }
        Mode::Seccomp => {
            let mut cmd = Command::new(&target.path);
            cmd.envs(env);
            seccomp::run(&target.path, prog, rest, &args, cmd)
        }
    }
}

/// The value of `MPTCPIZE_REPORT` for `--report[=FILE]`: `stderr`, or FILE
/// made absolute (the program may change directory) after checking that it
/// can be appended to. The file is created if needed and never truncated:
/// every process of the run appends its lines.
fn report_target(to: &Path) -> Result<PathBuf, Failure> {
    if to.as_os_str() == "stderr" || to.as_os_str() == "-" {
        return Ok(PathBuf::from("stderr"));
    }
    let path = std::path::absolute(to)
        .map_err(|e| Failure::new(LAUNCHER_FAILED, format!("--report={}: {e}", to.display())))?;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| {
            Failure::new(
                LAUNCHER_FAILED,
                format!(
                    "cannot write the report to {}: {e}; choose another --report=FILE",
                    path.display()
                ),
            )
        })?;
    Ok(path)
}
