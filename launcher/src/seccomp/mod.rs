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

use crate::say;
use crate::target;
use child::{Report, Stage};
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

pub use supervisor::Config;

/// Set in the supervised tree to the launcher's pid, so that a nested
/// `mptcpize-rs run --mode seccomp` knows its sockets are already covered
/// (the kernel allows one listener per filter chain).
pub const SUPERVISOR_ENV: &str = mptcpize_rules::env::SUPERVISOR;

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
    #[error("the supervisor went away before the program started")]
    SupervisorGone,
    #[error("the child did not pass on its seccomp listener")]
    NoListener,
}

fn busy_message(ours: Option<u32>) -> String {
    match ours {
        Some(pid) => format!("this process is already under the seccomp supervisor of mptcpize-rs (pid {pid}), which converts its sockets already; the kernel allows only one: keep {SUPERVISOR_ENV} in the environment (env -i removed it), or run PROG without mptcpize-rs"),
        None => "this process is already under another seccomp user-notification supervisor (a container runtime?); the kernel allows only one: use --mode preload".to_string(),
    }
}

fn setup(what: &'static str) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Setup { what, source }
}

/// Runs `cmd` (PROG, found for `prog`) under a supervisor and ends the way
/// it ends.
pub fn run(mut cmd: Command, prog: &OsStr, config: Config) -> Result<u8, Error> {
    if already_supervised() {
        if config.debug {
            say::line(format_args!(
                "already under a seccomp supervisor: running {} directly",
                prog.to_string_lossy()
            ));
        }
        // SAFETY: the hook only calls signal(2), which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                say::restore_sigpipe();
                Ok(())
            })
        };
        return Err(Error::Exec(target::Error::from_exec(&cmd.exec(), prog)));
    }
    filter::check_support().map_err(Error::Unsupported)?;
    supervisor::check_sizes().map_err(Error::Unsupported)?;
    let program = filter::Program::native().expect("checked by check_support");

    // The supervisor first, while the launcher has no other thread.
    let to_supervisor = supervisor::fork(config).map_err(setup("cannot start the supervisor"))?;
    let blocked = signals::block().map_err(setup("cannot block signals"))?;
    let (parent_end, child_end) = child::socketpair().map_err(setup("socketpair"))?;
    let me = rustix::process::getpid();
    cmd.env(SUPERVISOR_ENV, me.as_raw_nonzero().to_string());
    child::prepare(&mut cmd, program, &child_end, me.as_raw_nonzero().get());
    let spawned = cmd.spawn();
    drop(child_end);
    let child = match spawned {
        Ok(child) => child,
        Err(e) => return Err(spawn_failure(e, &parent_end, prog)),
    };
    let mut guard = signals::ChildGuard(Some(child.id() as libc::pid_t));
    let listener = match child::receive(&parent_end, true) {
        Ok(Some(Report::Listener(fd))) => fd,
        Ok(_) | Err(_) => return Err(Error::NoListener),
    };
    drop(parent_end);
    child::send_listener(&to_supervisor, &listener)
        .map_err(setup("cannot pass the listener to the supervisor"))?;
    drop((listener, to_supervisor));
    let ended = signals::supervise(child.id() as libc::pid_t, &blocked)
        .map_err(setup("waiting for the child"))?;
    guard.reaped();
    signals::end_like(ended)
}

/// The failure of a child that never ran PROG: the stage it reported, or
/// else the exec error.
fn spawn_failure(err: io::Error, parent_end: &OwnedFd, prog: &OsStr) -> Error {
    match child::receive(parent_end, false) {
        Ok(Some(Report::Failed(stage, errno))) => {
            let cause = io::Error::from_raw_os_error(errno);
            match stage {
                Stage::NoNewPrivs => Error::NoNewPrivs(cause),
                Stage::Filter if errno == libc::EBUSY => Error::OtherSupervisor {
                    ours: our_launcher_above(),
                },
                Stage::Filter => Error::FilterRefused(cause),
                Stage::ParentGone | Stage::Ready => Error::SupervisorGone,
            }
        }
        _ => Error::Exec(target::Error::from_exec(&err, prog)),
    }
}

/// True inside a tree that a seccomp supervisor of ours already covers:
/// this process has a seccomp filter, and the variable is set or an
/// ancestor is an `mptcpize-rs` launcher.
fn already_supervised() -> bool {
    let filtered = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Seccomp_filters:"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .is_some_and(|n| n > 0)
    });
    filtered && (std::env::var_os(SUPERVISOR_ENV).is_some() || our_launcher_above().is_some())
}

/// The pid of an ancestor that is an `mptcpize-rs` launcher (the process
/// that supervises a seccomp-mode tree), found through /proc.
fn our_launcher_above() -> Option<u32> {
    let mut pid = rustix::process::getppid()?.as_raw_nonzero().get() as u32;
    for _ in 0..64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // pid (comm) state ppid …: comm may hold blanks and parentheses.
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1;
        if comm == "mptcpize-rs" {
            return Some(pid);
        }
        pid = tail.split_whitespace().nth(1)?.parse().ok()?;
        if pid <= 1 {
            return None;
        }
    }
    None
}
