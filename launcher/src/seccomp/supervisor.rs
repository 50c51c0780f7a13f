//! The supervisor: a process that answers each TCP `socket()` call of the
//! supervised tree, with a few threads waiting on the notification listener.
//!
//! It is forked (twice: it is no child of PROG) from the launcher before
//! anything else (so before any thread and before the filter), leaves the
//! job's session, receives the listener from the launcher, and serves until
//! the last process of the tree is gone (the listener reports POLLHUP).
//! Being its own process lets it outlive PROG: descendants that PROG left
//! running (daemons, `cmd &` in a script) keep getting MPTCP sockets instead
//! of ENOSYS, which is what a socket() call gets once nobody listens.
//!
//! For each notification the rules (`mptcpize_rules::plan`) decide, as in
//! the shim. To convert, the supervisor creates the MPTCP socket itself and
//! puts it into the calling process with `SECCOMP_IOCTL_NOTIF_ADDFD` and
//! `SECCOMP_ADDFD_FLAG_SEND`, which also completes the call with the new fd
//! as its result (Linux 5.14+). `SOCK_NONBLOCK` is set on the socket it
//! creates, `SOCK_CLOEXEC` becomes `O_CLOEXEC` on the injected fd.
//!
//! When MPTCP is unavailable (an error `is_fallback_errno` accepts) and
//! fallback is on, the call is let through (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`):
//! the kernel then makes exactly the TCP socket asked for, in the caller's
//! own context; later calls skip the MPTCP attempt, like the shim does. With
//! fallback off the call fails with the MPTCP error.
//!
//! A caller in another network namespace than the supervisor (it called
//! unshare or setns) gets its socket made in its own namespace (see
//! [`netns`]), or, where the supervisor may not enter it (without root), its
//! call is let through and stays TCP; `--debug` says so.
//!
//! With `run --report` every answer is also counted per process, and the
//! filter hands over `exit_group()` too, which is answered by writing that
//! process's line and letting the exit go on (see [`report`]).

use super::handoff;
use super::listener::{Answer, Listener, Notification};
use super::netns;
use super::report::{self, Outcome, Report};
use mptcpize_rules::names::{Errno as ErrnoName, SocketCall};
use mptcpize_rules::{is_fallback_errno, plan, Plan, IPPROTO_MPTCP};
use rustix::io::Errno;
use rustix::net::{AddressFamily, Protocol, SocketFlags, SocketType};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

/// How the supervisor answers.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Log each answer on stderr.
    pub debug: bool,
    /// Fail instead of falling back to TCP.
    pub no_fallback: bool,
}

/// The shared state of the answering threads.
pub struct Supervisor {
    listener: Listener,
    config: Config,
    /// The fallback error an MPTCP socket failed with (0: none yet).
    mptcp_unavailable: AtomicI32,
    /// Notifications being answered right now (their debug lines may
    /// still be coming when the tree is gone).
    busy: AtomicUsize,
    /// The supervisor's network namespace; `None` without /proc (then
    /// callers are assumed to share it).
    netns: Option<netns::NsName>,
    /// An fd of that namespace, to return to after making a socket in
    /// another one.
    home: Option<netns::Home>,
    /// The per-process counts, with `run --report`.
    report: Option<Report>,
}

/// How many threads answer at once: a socket() waits only for another
/// socket() being answered, so a few threads keep up with many callers.
fn thread_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

/// Forks the supervisor process and returns the socket to hand it the
/// listener with ([`handoff::send`]); dropping that socket without sending
/// makes the supervisor exit. The supervisor is forked twice, so that it is
/// no child of PROG (which takes the launcher's place): a program never
/// meets a child it did not start. Call while the launcher has no other
/// thread.
pub fn fork(config: Config, report: Option<report::Request>) -> io::Result<OwnedFd> {
    let (launcher_end, supervisor_end) = handoff::socketpair()?;
    // SAFETY: fork() while the launcher is single-threaded; the children run
    // ordinary code and end with exit, never returning from here.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: as above; the middle process only forks and exits.
            match unsafe { libc::fork() } {
                0 => {}
                // SAFETY: _exit ends the middle process without running the
                // launcher's exit handlers twice.
                -1 => unsafe { libc::_exit(1) },
                // SAFETY: as above.
                _ => unsafe { libc::_exit(0) },
            }
            drop(launcher_end);
            // Before detach() lets go of the launcher's stderr. Without a
            // descriptor to write to (stderr closed), nothing is reported.
            let report = report.and_then(|r| r.settings().ok()).map(Report::new);
            detach(config.debug);
            match handoff::receive(&supervisor_end) {
                Ok(Some(listener)) => {
                    drop(supervisor_end);
                    serve_until_orphaned(Listener::new(listener), config, report)
                }
                // The launcher failed before the program ran.
                _ => std::process::exit(0),
            }
        }
        middle => {
            drop(supervisor_end);
            let pid = rustix::process::Pid::from_raw(middle);
            match rustix::process::waitpid(pid, rustix::process::WaitOptions::empty())? {
                Some((_, status)) if status.exit_status() == Some(0) => Ok(launcher_end),
                _ => Err(io::Error::other("the supervisor could not be forked")),
            }
        }
    }
}

/// Leaves the job: its own session (no terminal signals, not stopped with
/// the job), stdin and stdout on /dev/null, stderr too unless debugging,
/// so that it holds no pipe of the caller open; and a name for ps.
fn detach(debug: bool) {
    use rustix::fs::{open, Mode, OFlags};
    use rustix::stdio::{dup2_stderr, dup2_stdin, dup2_stdout};
    let _ = rustix::process::setsid();
    if let Ok(null) = open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
        let _ = dup2_stdin(&null);
        let _ = dup2_stdout(&null);
        if !debug {
            let _ = dup2_stderr(&null);
        }
    }
    let _ = rustix::thread::set_name(super::SUPERVISOR_NAME);
}

/// Closes every fd above stderr but those in `keep`: the supervisor may
/// outlive the launcher, and must not hold pipes or sockets its caller
/// passed on.
fn close_inherited_fds(keep: &[RawFd]) {
    let mut keep: Vec<libc::c_uint> = keep.iter().map(|&fd| fd as libc::c_uint).collect();
    keep.sort_unstable();
    let mut from: libc::c_uint = 3;
    for fd in keep.into_iter().chain([libc::c_uint::MAX]) {
        if fd > from {
            // SAFETY: close_range closes fds of this process only; none is
            // in use by another thread (there is none yet) or borrowed
            // elsewhere.
            unsafe { libc::syscall(libc::SYS_close_range, from, fd - 1, 0u32) };
        }
        from = from.max(fd.saturating_add(1));
    }
}

/// Answers notifications until no process uses the filter any more.
fn serve_until_orphaned(listener: Listener, config: Config, report: Option<Report>) -> ! {
    let mut keep = vec![listener.as_fd().as_raw_fd()];
    keep.extend(report.as_ref().map(Report::fd));
    close_inherited_fds(&keep);
    let supervisor = match start(listener, config, report) {
        Ok(s) => s,
        Err(e) => {
            crate::say::line(format_args!("cannot start the supervisor's threads: {e}"));
            std::process::exit(1)
        }
    };
    supervisor.listener.orphaned(true);
    // Let the answers in flight finish (and write their debug lines).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while supervisor.busy.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    if let Some(report) = &supervisor.report {
        report.finish();
    }
    std::process::exit(0);
}

/// Starts the answering threads. They run until the process exits.
fn start(
    listener: Listener,
    config: Config,
    report: Option<Report>,
) -> io::Result<Arc<Supervisor>> {
    listener.prefer_sync_wakeup();
    let supervisor = Arc::new(Supervisor {
        listener,
        config,
        mptcp_unavailable: AtomicI32::new(0),
        busy: AtomicUsize::new(0),
        netns: netns::of(std::process::id()),
        home: netns::Home::open().ok(),
        report,
    });
    for i in 0..thread_count() {
        let s = Arc::clone(&supervisor);
        std::thread::Builder::new()
            .name(format!("seccomp-answer-{i}"))
            .spawn(move || s.serve())?;
    }
    Ok(supervisor)
}

impl Supervisor {
    /// Receives and answers notifications until the listener is unusable.
    fn serve(&self) {
        loop {
            let n = match self.listener.recv() {
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                // The caller died before we read it, or nobody is left.
                Err(Errno::NOENT) if !self.listener.orphaned(false) => continue,
                Err(_) => return,
            };
            self.busy.fetch_add(1, Ordering::SeqCst);
            self.answer(&n);
            self.busy.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Answers one notification.
    fn answer(&self, n: &Notification) {
        if n.nr == libc::SYS_exit_group as i32 {
            // Handed over only with a report: its line, then the exit.
            if let Some(report) = &self.report {
                report.exiting(n.pid);
            }
            return self.listener.respond(n.id, Answer::Continue);
        }
        // socket() takes ints: the low halves of the arguments.
        let (domain, ty, protocol) = (n.args[0] as i32, n.args[1] as i32, n.args[2] as i32);
        let unavailable = self.mptcp_unavailable.load(Ordering::Relaxed);
        match plan(domain, ty, protocol, unavailable != 0) {
            Plan::Mptcp => {}
            // Known unavailable: the kernel makes the socket the program
            // asked for.
            Plan::TcpKnownUnavailable => {
                self.count(n, Outcome::FellBack(unavailable));
                return self.listener.respond(n.id, Answer::Continue);
            }
            // Never from our filter.
            Plan::PassThrough => return self.listener.respond(n.id, Answer::Continue),
        }
        let foreign = self.netns.is_some() && netns::of(n.pid) != self.netns;
        let Some(_visit) = self.enter_callers_namespace(n, foreign) else {
            return;
        };
        // Our own copy is always close-on-exec; the caller's flag goes to
        // ADDFD. The rules passed only AF_INET/AF_INET6 SOCK_STREAM here.
        let flags =
            SocketFlags::from_bits_retain(ty as u32 & !(mptcpize_rules::SOCK_TYPE_MASK as u32));
        let socket = rustix::net::socket_with(
            AddressFamily::from_raw(domain as u16),
            SocketType::from_raw(ty as u32 & mptcpize_rules::SOCK_TYPE_MASK as u32),
            flags | SocketFlags::CLOEXEC,
            Protocol::from_raw(rustix::net::RawProtocol::new(IPPROTO_MPTCP as u32).expect("not 0"))
                .into(),
        );
        match socket {
            Ok(socket) => self.inject(n, socket, flags.contains(SocketFlags::CLOEXEC)),
            Err(e) => self.mptcp_failed(n, e.raw_os_error(), foreign),
        }
    }

    /// Checks that the caller still waits and, when it lives in another
    /// network namespace, moves this thread there. `None`: the call has
    /// been answered (let through) or needs no answer (the caller is gone).
    fn enter_callers_namespace(
        &self,
        n: &Notification,
        foreign: bool,
    ) -> Option<Option<netns::Visit<'_>>> {
        if !foreign {
            return self.listener.id_valid(n.id).then_some(None);
        }
        let entered = match &self.home {
            Some(home) => netns::Visit::enter(home, n.pid, || self.listener.id_valid(n.id)),
            None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        };
        match entered {
            Ok(Some(visit)) => Some(Some(visit)),
            Ok(None) => None,
            Err(e) => {
                if self.listener.id_valid(n.id) {
                    let why = crate::say::short(&e);
                    self.log(
                        n,
                        format_args!("left as TCP: in another network namespace ({why})"),
                    );
                    self.count(n, Outcome::LeftTcp);
                    self.listener.respond(n.id, Answer::Continue);
                }
                None
            }
        }
    }

    /// The MPTCP socket failed with `err`: fall back (let the call make its
    /// TCP socket) or fail the call, as the rules and `--no-fallback` say.
    fn mptcp_failed(&self, n: &Notification, err: i32, foreign: bool) {
        if self.config.no_fallback || !is_fallback_errno(err) {
            self.log(n, format_args!("= -1: MPTCP failed ({})", ErrnoName(err)));
            // As the report library counts: failures that fallback would
            // have turned into TCP (not EMFILE, ENOMEM, …).
            if is_fallback_errno(err) {
                self.count(n, Outcome::Failed(err));
            }
            return self.listener.respond(n.id, Answer::Fail(err));
        }
        // MPTCP is enabled per namespace: only our own one's state is
        // remembered.
        if !foreign {
            self.mptcp_unavailable.store(err, Ordering::Relaxed);
        }
        self.count(n, Outcome::FellBack(err));
        self.log(
            n,
            format_args!(
                "TCP, MPTCP unavailable ({}), fallback for the rest of the tree",
                ErrnoName(err)
            ),
        );
        self.listener.respond(n.id, Answer::Continue);
    }

    /// Puts our socket into the caller as the result of its call (our copy
    /// is closed).
    fn inject(&self, n: &Notification, socket: OwnedFd, cloexec: bool) {
        // Counted first: once the call completes, the caller may exit (and
        // have its line written) before this thread runs again.
        self.count(n, Outcome::Mptcp);
        match self.listener.addfd(n.id, socket, cloexec) {
            Ok(new) => self.log(n, format_args!("= {new}: MPTCP")),
            // The call was interrupted or the caller died.
            Err(Errno::NOENT) => self.count(n, Outcome::NotMade),
            // Any other error (EMFILE: the caller has no free fd) is the
            // call's result.
            Err(e) => {
                self.count(n, Outcome::NotMade);
                self.listener.respond(n.id, Answer::Fail(e.raw_os_error()))
            }
        }
    }

    /// Counts an answer for the report, if one was asked for (before the
    /// answer: see [`Supervisor::inject`]).
    fn count(&self, n: &Notification, outcome: Outcome) {
        if let Some(report) = &self.report {
            report.count(n.pid, outcome);
        }
    }

    /// One debug line per answer, in the shim's words, written at once.
    fn log(&self, n: &Notification, what: std::fmt::Arguments<'_>) {
        if !self.config.debug {
            return;
        }
        let call = SocketCall {
            domain: n.args[0] as i32,
            ty: n.args[1] as i32,
            protocol: n.args[2] as i32,
        };
        let line = format!("mptcpize[{}]: {call} {what} (seccomp)\n", n.pid);
        // One write(2) (stderr is unbuffered), best-effort.
        let _ = io::stderr().write_all(line.as_bytes());
    }
}
