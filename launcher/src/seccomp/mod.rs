//! `mptcpize-rs run --mode seccomp`: reaches the programs LD_PRELOAD cannot
//! (statically linked, Go before 1.21), and every descendant, without root.
//!
//! The launcher forks twice. The first child is the supervisor
//! ([`supervisor`]): its threads answer the notifications with MPTCP sockets,
//! for as long as any process of the tree lives. The second child
//! ([`child`]) installs a seccomp filter ([`filter`]) that sends only TCP
//! `socket()` calls to a user notification, passes the listener to the
//! launcher (which hands it to the supervisor) and executes PROG; the filter
//! is inherited by every descendant. The launcher stays PROG's parent, like
//! tini: it forwards signals, waits for PROG and ends the way PROG ended
//! ([`signals`]).

mod child;
mod filter;
mod netns;
mod signals;
mod supervisor;

use crate::cli::RunArgs;
use crate::failure::{Failure, CANNOT_EXECUTE, LAUNCHER_FAILED, NOT_FOUND};
use child::{Report, Stage};
use mptcpize_rules::env::Settings;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Set in the supervised tree to the launcher's pid, so that a nested
/// `mptcpize-rs run --mode seccomp` knows its sockets are already covered
/// (the kernel allows one listener per filter chain).
pub const SUPERVISOR_ENV: &str = mptcpize_rules::env::SUPERVISOR;

/// Runs `path` (found for `prog`) with `args` under a supervisor and ends
/// the way it ends.
pub fn run(
    path: &Path,
    prog: &OsStr,
    rest: &[std::ffi::OsString],
    args: &RunArgs,
    mut cmd: Command,
) -> crate::failure::Outcome {
    let vars: Vec<_> = std::env::vars_os().collect();
    let env = Settings::of(
        vars.iter()
            .map(|(k, v)| (k.as_encoded_bytes(), v.as_encoded_bytes())),
    );
    let config = supervisor::Config {
        debug: args.debug || env.debug(),
        no_fallback: args.no_fallback || env.no_fallback(),
    };
    cmd.arg0(prog).args(rest);
    if already_supervised() {
        if config.debug {
            eprintln!(
                "mptcpize-rs: already under a seccomp supervisor: running {} directly",
                path.display()
            );
        }
        return Err(exec_failure(cmd.exec(), prog));
    }
    let fail = |why: String| Failure::new(LAUNCHER_FAILED, why);
    filter::check_support().map_err(fail)?;
    supervisor::check_sizes().map_err(fail)?;
    let program = filter::Program::native().expect("checked by check_support");

    // The supervisor first, while the launcher has no other thread.
    let to_supervisor =
        supervisor::fork(config).map_err(|e| fail(format!("cannot start the supervisor: {e}")))?;
    let blocked = signals::block().map_err(|e| fail(format!("cannot block signals: {e}")))?;
    let (parent_end, child_end) =
        child::socketpair().map_err(|e| fail(format!("socketpair: {e}")))?;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    cmd.env(SUPERVISOR_ENV, me.to_string());
    child::prepare(&mut cmd, program, &child_end, me);
    let spawned = cmd.spawn();
    drop(child_end);
    let child = match spawned {
        Ok(child) => child,
        Err(e) => return Err(spawn_failure(e, &parent_end, prog)),
    };
    let mut guard = signals::ChildGuard(Some(child.id() as libc::pid_t));
    let listener = match child::receive(&parent_end, true) {
        Ok(Some(Report::Listener(fd))) => fd,
        Ok(_) | Err(_) => {
            return Err(fail(
                "the child did not pass on its seccomp listener".into(),
            ))
        }
    };
    drop(parent_end);
    child::send_listener(&to_supervisor, &listener)
        .map_err(|e| fail(format!("cannot pass the listener to the supervisor: {e}")))?;
    drop((listener, to_supervisor));
    let ended = signals::supervise(child.id() as libc::pid_t, &blocked)
        .map_err(|e| fail(format!("waiting for the child: {e}")))?;
    guard.reaped();
    signals::end_like(ended)
}

/// The one-line failure for a child that never ran PROG: the stage it
/// reported, or else the exec error.
fn spawn_failure(err: std::io::Error, parent_end: &OwnedFd, prog: &OsStr) -> Failure {
    match child::receive(parent_end, false) {
        Ok(Some(Report::Failed(stage, errno))) => {
            let cause = std::io::Error::from_raw_os_error(errno);
            let why = match stage {
                Stage::NoNewPrivs => format!("cannot set no_new_privs for seccomp mode: {cause}"),
                Stage::Filter if errno == libc::EBUSY => "this process is already under another seccomp user-notification supervisor (a container runtime?); the kernel allows only one: use --mode preload".to_string(),
                Stage::Filter => format!("the kernel refused the seccomp filter: {cause}"),
                Stage::ParentGone | Stage::Ready => "the supervisor went away before the program started".to_string(),
            };
            Failure::new(LAUNCHER_FAILED, why)
        }
        _ => exec_failure(err, prog),
    }
}

/// The failure of executing PROG, with env(1)'s exit codes.
pub fn exec_failure(err: std::io::Error, prog: &OsStr) -> Failure {
    let name = prog.to_string_lossy();
    match err.kind() {
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
    }
}

/// True inside a tree that a seccomp supervisor already covers: the
/// variable is set and this process has a seccomp filter.
fn already_supervised() -> bool {
    if std::env::var_os(SUPERVISOR_ENV).is_none() {
        return false;
    }
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Seccomp_filters:"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .is_some_and(|n| n > 0)
    })
}
