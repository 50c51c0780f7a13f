//! The supervisor: a process that answers each TCP `socket()` call of the
//! supervised tree, with a few threads waiting on the notification listener.
//!
//! It is forked from the launcher before anything else (so before any
//! thread), leaves the job's session, receives the listener from the
//! launcher, and serves until the last process of the tree is gone (the
//! listener reports POLLHUP). Being its own process lets it outlive the
//! launcher, which exits as soon as PROG does: descendants that PROG left
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

use super::child::{self, Report};
use super::netns;
use mptcpize_rules::names::{Errno, SocketCall};
use mptcpize_rules::{is_fallback_errno, plan, Plan, IPPROTO_MPTCP};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (linux/seccomp.h, Linux 6.6).
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: libc::c_ulong = 1;

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
    listener: OwnedFd,
    config: Config,
    /// Set once an MPTCP socket failed with a fallback error.
    mptcp_unavailable: AtomicBool,
    /// Notifications being answered right now (their debug lines may
    /// still be coming when the tree is gone).
    busy: AtomicUsize,
    /// The supervisor's network namespace; `None` without /proc (then
    /// callers are assumed to share it).
    netns: Option<netns::NsName>,
    /// An fd of that namespace, to return to after making a socket in
    /// another one.
    home: Option<netns::Home>,
}

/// The kernel's buffer for one notification: `seccomp_notif` and room for
/// fields a newer kernel may add (checked against SECCOMP_GET_NOTIF_SIZES).
#[repr(C)]
struct NotifBuf {
    notif: libc::seccomp_notif,
    spare: [u8; 64],
}

/// Checks that this kernel's notification structures fit ours.
pub fn check_sizes() -> Result<(), String> {
    let mut sizes = libc::seccomp_notif_sizes {
        seccomp_notif: 0,
        seccomp_notif_resp: 0,
        seccomp_data: 0,
    };
    // SAFETY: SECCOMP_GET_NOTIF_SIZES fills the struct we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_NOTIF_SIZES,
            0,
            &raw mut sizes,
        )
    };
    if r != 0 {
        return Err(format!(
            "this kernel has no seccomp user notification ({})",
            io::Error::last_os_error()
        ));
    }
    if usize::from(sizes.seccomp_notif) > std::mem::size_of::<NotifBuf>()
        || usize::from(sizes.seccomp_notif_resp) > std::mem::size_of::<libc::seccomp_notif_resp>()
    {
        return Err(format!(
            "this kernel's seccomp notifications ({} bytes) are larger than mptcpize-rs knows",
            sizes.seccomp_notif
        ));
    }
    Ok(())
}

/// How many threads answer at once: a socket() waits only for another
/// socket() being answered, so a few threads keep up with many callers.
fn thread_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

/// Forks the supervisor process and returns the socket to hand it the
/// listener with ([`child::send`]); dropping that socket without sending
/// makes the supervisor exit. Call while the launcher has no other thread.
pub fn fork(config: Config) -> io::Result<OwnedFd> {
    let (launcher_end, supervisor_end) = child::socketpair()?;
    // SAFETY: fork() while the launcher is single-threaded; the child runs
    // ordinary code and ends with exit(), never returning from here.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(launcher_end);
            detach(config.debug);
            match child::receive(&supervisor_end, true) {
                Ok(Some(Report::Listener(listener))) => {
                    drop(supervisor_end);
                    serve_until_orphaned(listener, config)
                }
                // The launcher failed before the program ran.
                _ => std::process::exit(0),
            }
        }
        _ => Ok(launcher_end),
    }
}

/// Leaves the job: its own session (no terminal signals, not stopped with
/// the job), stdin and stdout on /dev/null, stderr too unless debugging,
/// so that it holds no pipe of the caller open; and a name for ps.
fn detach(debug: bool) {
    // SAFETY: setsid, open, dup2, close and prctl on our own process, with
    // a NUL-terminated path and name.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if !debug {
                libc::dup2(null, 2);
            }
            libc::close(null);
        }
        libc::prctl(libc::PR_SET_NAME, c"mptcpize-notify".as_ptr());
    }
}

/// Closes every fd above stderr but `keep`: the supervisor may outlive the
/// launcher, and must not hold pipes or sockets its caller passed on.
fn close_inherited_fds(keep: RawFd) {
    let keep = keep as libc::c_uint;
    // SAFETY: close_range closes fds of this process only; none is in use
    // by another thread (there is none yet) or borrowed elsewhere.
    unsafe {
        if keep > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0u32);
    }
}

/// Answers notifications until no process uses the filter any more.
fn serve_until_orphaned(listener: OwnedFd, config: Config) -> ! {
    close_inherited_fds(listener.as_raw_fd());
    let supervisor = match start(listener, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mptcpize-rs: cannot start the supervisor's threads: {e}");
            std::process::exit(1)
        }
    };
    let mut pfd = libc::pollfd {
        fd: supervisor.fd(),
        events: 0,
        revents: 0,
    };
    loop {
        // SAFETY: poll on one pollfd we own. With no events asked, it wakes
        // only for POLLHUP (no task uses the filter) or POLLERR.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            // Let the answers in flight finish (and write their debug lines).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while supervisor.busy.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            std::process::exit(0);
        }
    }
}

/// Starts the answering threads. They run until the process exits.
fn start(listener: OwnedFd, config: Config) -> io::Result<Arc<Supervisor>> {
    // Linux 6.6+: wake the answering thread synchronously, on the caller's
    // CPU, instead of through the scheduler's queues: this halves the cost
    // of a converted socket() on a busy machine. Older kernels refuse the
    // flag (EINVAL) and answer as before.
    // SAFETY: SET_FLAGS takes the flags as its integer argument.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
    let supervisor = Arc::new(Supervisor {
        listener,
        config,
        mptcp_unavailable: AtomicBool::new(false),
        busy: AtomicUsize::new(0),
        netns: netns::of(std::process::id()),
        home: netns::Home::open().ok(),
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
            // SAFETY: NotifBuf is plain data; RECV requires it zeroed.
            let mut buf: NotifBuf = unsafe { std::mem::zeroed() };
            // SAFETY: RECV writes at most the kernel's seccomp_notif size,
            // which check_sizes() found fits in NotifBuf.
            let r = unsafe {
                libc::ioctl(
                    self.fd(),
                    libc::SECCOMP_IOCTL_NOTIF_RECV,
                    &raw mut buf.notif,
                )
            };
            if r != 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    // The caller died before we read it, or nobody is left.
                    Some(libc::ENOENT) if !self.orphaned() => continue,
                    _ => return,
                }
            }
            self.busy.fetch_add(1, Ordering::SeqCst);
            self.answer(&buf.notif);
            self.busy.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// True once no process uses the filter (the listener reports POLLHUP).
    fn orphaned(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: poll on one pollfd we own, without waiting.
        unsafe { libc::poll(&mut pfd, 1, 0) > 0 && pfd.revents & libc::POLLHUP != 0 }
    }

    fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Answers one notification.
    fn answer(&self, n: &libc::seccomp_notif) {
        // socket() takes ints: the low halves of the arguments.
        let (domain, ty, protocol) = (
            n.data.args[0] as i32,
            n.data.args[1] as i32,
            n.data.args[2] as i32,
        );
        let unavailable = self.mptcp_unavailable.load(Ordering::Relaxed);
        if plan(domain, ty, protocol, unavailable) != Plan::Mptcp {
            // Known unavailable (or, never from our filter, not TCP): the
            // kernel makes the socket the program asked for.
            return self.let_through(n.id);
        }
        let foreign = self.netns.is_some() && netns::of(n.pid) != self.netns;
        let Some(_visit) = self.enter_callers_namespace(n, foreign) else {
            return;
        };
        // Our own copy is always close-on-exec; the caller's flag goes to ADDFD.
        // SAFETY: socket() takes integers.
        let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, IPPROTO_MPTCP) };
        if fd < 0 {
            let err = io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            return self.mptcp_failed(n, err, foreign);
        }
        self.inject(n, fd, ty & libc::SOCK_CLOEXEC != 0);
    }

    /// Checks that the caller still waits and, when it lives in another
    /// network namespace, moves this thread there. `None`: the call has
    /// been answered (let through) or needs no answer (the caller is gone).
    fn enter_callers_namespace(
        &self,
        n: &libc::seccomp_notif,
        foreign: bool,
    ) -> Option<Option<netns::Visit<'_>>> {
        if !foreign {
            return self.is_valid(n.id).then_some(None);
        }
        let entered = match &self.home {
            Some(home) => netns::Visit::enter(home, n.pid, || self.is_valid(n.id)),
            None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        };
        match entered {
            Ok(Some(visit)) => Some(Some(visit)),
            Ok(None) => None,
            Err(e) => {
                if self.is_valid(n.id) {
                    let why = e.to_string();
                    let why = why.split(" (os error").next().unwrap_or_default();
                    self.log(
                        n,
                        format_args!("left as TCP: in another network namespace ({why})"),
                    );
                    self.let_through(n.id);
                }
                None
            }
        }
    }

    /// The MPTCP socket failed with `err`: fall back (let the call make its
    /// TCP socket) or fail the call, as the rules and `--no-fallback` say.
    fn mptcp_failed(&self, n: &libc::seccomp_notif, err: i32, foreign: bool) {
        if self.config.no_fallback || !is_fallback_errno(err) {
            self.log(n, format_args!("= -1: MPTCP failed ({})", Errno(err)));
            return self.fail(n.id, err);
        }
        // MPTCP is enabled per namespace: only our own one's state is
        // remembered.
        if !foreign {
            self.mptcp_unavailable.store(true, Ordering::Relaxed);
        }
        self.log(
            n,
            format_args!(
                "TCP, MPTCP unavailable ({}), fallback for the rest of the tree",
                Errno(err)
            ),
        );
        self.let_through(n.id);
    }

    /// Puts our socket `fd` into the caller as the result of its call, and
    /// closes our copy.
    fn inject(&self, n: &libc::seccomp_notif, fd: RawFd, cloexec: bool) {
        let addfd = libc::seccomp_notif_addfd {
            id: n.id,
            flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
            srcfd: fd as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        // SAFETY: ADDFD reads the struct we own; fd is our socket.
        let new =
            unsafe { libc::ioctl(self.fd(), libc::SECCOMP_IOCTL_NOTIF_ADDFD, &raw const addfd) };
        let err = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        // SAFETY: closing our copy of the socket; the caller has its own.
        unsafe { libc::close(fd) };
        if new >= 0 {
            self.log(n, format_args!("= {new}: MPTCP"));
        } else if err != libc::ENOENT {
            // ENOENT: the call was interrupted or the caller died. Any other
            // error (EMFILE: the caller has no free fd) is the call's result.
            self.fail(n.id, err);
        }
    }

    /// `SECCOMP_IOCTL_NOTIF_ID_VALID`: the caller still waits on this call.
    fn is_valid(&self, id: u64) -> bool {
        // SAFETY: ID_VALID reads the u64 we own.
        unsafe { libc::ioctl(self.fd(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &raw const id) == 0 }
    }

    /// Lets the kernel run the call as the program made it.
    fn let_through(&self, id: u64) {
        self.respond(id, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32);
    }

    /// Fails the call with `errno`.
    fn fail(&self, id: u64, errno: i32) {
        self.respond(id, -errno, 0);
    }

    fn respond(&self, id: u64, error: i32, flags: u32) {
        let resp = libc::seccomp_notif_resp {
            id,
            val: 0,
            error,
            flags,
        };
        // SAFETY: SEND reads the struct we own. It fails only when the caller
        // is gone (ENOENT), which needs no answer.
        unsafe { libc::ioctl(self.fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &raw const resp) };
    }

    /// One debug line per answer, in the shim's words, written at once.
    fn log(&self, n: &libc::seccomp_notif, what: std::fmt::Arguments<'_>) {
        if !self.config.debug {
            return;
        }
        let call = SocketCall {
            domain: n.data.args[0] as i32,
            ty: n.data.args[1] as i32,
            protocol: n.data.args[2] as i32,
        };
        let line = format!("mptcpize[{}]: {call} {what} (seccomp)\n", n.pid);
        // One write(2), no lock: lines from the threads do not interleave.
        // SAFETY: writes the bytes of a live String to fd 2.
        unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
    }
}
