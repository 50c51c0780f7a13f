//! The launcher as a good init (like tini): it passes signals on to the
//! child, waits for it, and ends the way it ended.
//!
//! - SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH sent to
//!   the launcher by a process (`kill`, systemd, a container runtime) are
//!   forwarded to the child.
//! - The child stays in the launcher's process group, the terminal's
//!   foreground group when run from a shell, so it keeps the terminal: the
//!   terminal's own signals (Ctrl-C, Ctrl-\, window size, hangup) reach it
//!   directly, and are therefore not forwarded a second time (the kernel
//!   sends them with `si_code` `SI_KERNEL`). The launcher leaves SIGTSTP,
//!   SIGTTIN and SIGTTOU alone, so Ctrl-Z stops the whole job and `fg`/`bg`
//!   resume it: the shell's job control works as with the bare program, and
//!   no `tcsetpgrp` hand-over (which could steal the terminal from a
//!   background job) is needed.
//! - When the child exits, the launcher exits with its code; when a signal
//!   killed it, the launcher re-raises that signal on itself (without a
//!   core dump), so that a shell reports 128+N (137 for SIGKILL).
//! - The child gets SIGKILL if the launcher dies (`PR_SET_PDEATHSIG`, set
//!   in the child), and [`ChildGuard`] kills it on every other way out.
//! - As PID 1 of a container, it also reaps the orphans it inherits.

use std::io;

/// The signals passed on to the child.
pub const FORWARDED: [libc::c_int; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// The blocked set: the forwarded signals and SIGCHLD, taken with
/// sigwaitinfo() by the main thread.
pub struct Blocked(libc::sigset_t);

/// Blocks the forwarded signals and SIGCHLD in the calling thread. Call it
/// before starting other threads (they inherit the mask, so none of them
/// takes these signals) and before spawning the child (which unblocks them
/// before exec, see `child::prepare`).
pub fn block() -> io::Result<Blocked> {
    // SAFETY: sigemptyset/sigaddset initialise the set we own;
    // pthread_sigmask reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED.into_iter().chain([libc::SIGCHLD]) {
            libc::sigaddset(&mut set, sig);
        }
        let r = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(Blocked(set))
    }
}

/// How the child ended: a `waitpid` status.
#[derive(Clone, Copy, Debug)]
pub struct Ended(libc::c_int);

impl Ended {
    /// The exit code a shell would show: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        if libc::WIFEXITED(self.0) {
            libc::WEXITSTATUS(self.0)
        } else {
            128 + libc::WTERMSIG(self.0)
        }
    }
}

/// Passes signals on to `child` until it ends, and says how it ended.
pub fn supervise(child: libc::pid_t, blocked: &Blocked) -> io::Result<Ended> {
    loop {
        if let Some(ended) = reap(child)? {
            return Ok(ended);
        }
        // SAFETY: siginfo_t is plain data; sigwaitinfo fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: the set is initialised; info is ours.
        let sig = unsafe { libc::sigwaitinfo(&blocked.0, &mut info) };
        if sig < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(err);
        }
        // SIGCHLD: reaped at the top of the loop. A terminal's signal went
        // to the whole foreground group, the child included.
        if sig != libc::SIGCHLD && info.si_code != libc::SI_KERNEL {
            // SAFETY: kill() on our own child, which we have not reaped.
            unsafe { libc::kill(child, sig) };
        }
    }
}

/// The child's status if it has ended (not when it merely stopped). Every
/// other ended child is reaped too: the supervisor process, and, when the
/// launcher is PID 1 of a container, the orphans the kernel gives it.
fn reap(child: libc::pid_t) -> io::Result<Option<Ended>> {
    let mut ended = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own children, status is ours.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        match r {
            0 => return Ok(ended),
            r if r == child => ended = Some(Ended(status)),
            r if r > 0 => {}
            _ => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::ECHILD) => return Ok(ended),
                    _ => return Err(err),
                }
            }
        }
    }
}

/// Ends the launcher the way the child ended: its exit code, or the same
/// signal (with core dumps off, so that only the child's core is written).
pub fn end_like(ended: Ended) -> ! {
    if libc::WIFSIGNALED(ended.0) {
        let sig = libc::WTERMSIG(ended.0);
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on our own process; the signal's default
        // action ends it, and the exit below runs only if it does not.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
    }
    std::process::exit(ended.shell_code())
}

/// Kills and reaps the child when dropped, unless it has been reaped: the
/// launcher never leaves it running on an error path.
pub struct ChildGuard(pub Option<libc::pid_t>);

impl ChildGuard {
    /// The child has been reaped; nothing to do on drop.
    pub fn reaped(&mut self) {
        self.0 = None;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // SAFETY: kill and waitpid on our own unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}
