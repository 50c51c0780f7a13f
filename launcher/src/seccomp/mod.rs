//! `mptcpize-rs run --mode seccomp`: reaches the programs LD_PRELOAD cannot
//! (statically linked, Go before 1.21), and every descendant, without root.
//!
//! The launcher first forks the supervisor ([`supervisor`]), a process of
//! its own (not PROG's child) whose threads answer the notifications with
//! MPTCP sockets for as long as any process of the tree lives. Then the
//! launcher sets `no_new_privs`, installs on itself a seccomp filter
//! ([`filter`]) that sends only TCP `socket()` calls to a user
//! notification, hands the filter's listener to the supervisor
//! ([`handoff`]) and executes PROG in its own place, as preload mode does:
//! PROG keeps the launcher's pid, so every signal, stop and continue, the
//! terminal's job control and the exit status are PROG's own. The filter
//! is inherited by every descendant.

mod filter;
mod handoff;
mod listener;
mod netns;
mod report;
mod supervisor;

use crate::say;
use crate::target;
use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

pub use report::Request as ReportRequest;
pub use supervisor::Config;

/// Set in the supervised tree to the pid PROG started with, so that a
/// nested `mptcpize-rs run --mode seccomp` knows its sockets are already
/// covered (the kernel allows one listener per filter chain).
pub const SUPERVISOR_ENV: &str = "MPTCPIZE_SUPERVISOR";

/// The name of the supervisor process (`ps`, `pgrep`).
pub const SUPERVISOR_NAME: &std::ffi::CStr = c"mptcpize-notify";

/// Why seccomp mode could not start PROG.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PROG itself could not be executed.
    #[error(transparent)]
    Exec(target::Error),
    /// This kernel or architecture cannot do it.
    #[error("{0}")]
    Unsupported(String),
    #[error("{what}: {}", say::short(.source))]
    Setup {
        what: &'static str,
        source: io::Error,
    },
    #[error("cannot set no_new_privs for seccomp mode: {}", say::short(.0))]
    NoNewPrivs(io::Error),
    #[error("the kernel refused the seccomp filter: {}", say::short(.0))]
    FilterRefused(io::Error),
    /// The kernel allows one user-notification listener per filter chain.
    #[error("{}", busy_message(*.ours))]
    OtherSupervisor { ours: Option<u32> },
}

fn busy_message(ours: Option<u32>) -> String {
    match ours {
        Some(pid) => format!("this process is already under a seccomp supervisor, and mptcpize-rs's own is running ({}, pid {pid}): the kernel allows only one; if that one covers this process, its sockets are converted already: keep {SUPERVISOR_ENV} in the environment (env -i removed it), or run PROG without mptcpize-rs", SUPERVISOR_NAME.to_string_lossy()),
        None => "this process is already under another seccomp user-notification supervisor (a container runtime?); the kernel allows only one: use --mode preload".to_string(),
    }
}

fn setup(what: &'static str) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Setup { what, source }
}

/// Executes `cmd` (PROG, found for `prog`) under a supervisor, in place of
/// the launcher; returns only why that failed. With `report`, the
/// supervisor reports each process's socket counts ([`report`]).
pub fn exec(
    mut cmd: Command,
    prog: &OsStr,
    config: Config,
    report: Option<ReportRequest>,
) -> Error {
    // SAFETY: the hook only calls signal(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            say::restore_sigpipe();
            Ok(())
        })
    };
    if already_supervised() {
        if config.debug {
            say::line(format_args!(
                "already under a seccomp supervisor: running {} directly",
                prog.to_string_lossy()
            ));
        }
        return Error::Exec(target::Error::from_exec(&cmd.exec(), prog));
    }
    match start_supervisor(config, report) {
        Ok(()) => {}
        Err(e) => return e,
    }
    cmd.env(SUPERVISOR_ENV, std::process::id().to_string());
    Error::Exec(target::Error::from_exec(&cmd.exec(), prog))
}

/// Everything before the exec: the supervisor, `no_new_privs`, the filter
/// on this process, and its listener handed over.
fn start_supervisor(config: Config, report: Option<ReportRequest>) -> Result<(), Error> {
    filter::check_support().map_err(Error::Unsupported)?;
    listener::check_sizes().map_err(Error::Unsupported)?;
    let program = filter::Program::native(report.is_some()).expect("checked by check_support");
    // The supervisor first: forked while the launcher has no filter (its
    // own socket() calls must not wait on itself).
    let to_supervisor =
        supervisor::fork(config, report).map_err(setup("cannot start the supervisor"))?;
    rustix::thread::set_no_new_privs(true).map_err(|e| Error::NoNewPrivs(e.into()))?;
    let listener = filter::install(&program).map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY) => Error::OtherSupervisor {
            ours: supervisor_running(),
        },
        _ => Error::FilterRefused(e),
    })?;
    handoff::send(&to_supervisor, &listener)
        .map_err(setup("cannot pass the listener to the supervisor"))
}

/// True inside a tree that a seccomp supervisor of ours already covers:
/// the variable is set and this process has a seccomp filter.
fn already_supervised() -> bool {
    std::env::var_os(SUPERVISOR_ENV).is_some() && seccomp_filters() > 0
}

/// How many seccomp filters this process has.
fn seccomp_filters() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Seccomp_filters:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The pid of a running supervisor of ours, if any (through /proc).
fn supervisor_running() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim_end().as_bytes() == SUPERVISOR_NAME.to_bytes()).then_some(pid)
        })
}
