//! The child's side of seccomp mode, between fork and exec, and the message
//! that carries its notification listener to the supervisor.
//!
//! In the child (a `pre_exec` hook, so std's `Command` still does the PATH
//! search, the environment and the exec error reporting): die with the
//! supervisor (`PR_SET_PDEATHSIG`), unblock the signals the supervisor
//! blocks, set `no_new_privs`, install the filter
//! with a new listener, send the listener to the parent over a
//! `SOCK_SEQPACKET` socketpair with `SCM_RIGHTS` (this works under any Yama
//! ptrace policy, unlike `pidfd_getfd`), close it, and let std exec PROG.
//! The hook runs in a forked copy of a process, so it allocates nothing and
//! makes only system calls.
//!
//! The message is one byte of stage, an errno, and the listener as
//! ancillary data when the stage is [`Stage::Ready`]. The launcher hands the
//! listener on to the supervisor process with the same message.

use super::filter::{self, Program};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// How far the child got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// The filter is installed; the listener comes with the message.
    Ready = 0,
    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    NoNewPrivs = 1,
    /// The kernel refused the filter.
    Filter = 2,
    /// The supervisor was gone before the child could follow it.
    ParentGone = 3,
}

impl Stage {
    fn from_byte(b: u8) -> Option<Stage> {
        [
            Stage::Ready,
            Stage::NoNewPrivs,
            Stage::Filter,
            Stage::ParentGone,
        ]
        .into_iter()
        .find(|s| *s as u8 == b)
    }
}

/// What the parent received from the child.
pub enum Report {
    /// The listener of the installed filter.
    Listener(OwnedFd),
    /// The child failed at `stage` with `errno`.
    Failed(Stage, i32),
}

/// A connected pair: the supervisor's end and the child's end. Both are
/// close-on-exec, so PROG inherits neither.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair fills two ints we own.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair returned two fresh fds that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Makes `cmd`'s child install `program` and send its listener over
/// `child_end` before exec. `supervisor` is the pid of the process that
/// spawns it (and must outlive it).
pub fn prepare(cmd: &mut Command, program: Program, child_end: &OwnedFd, supervisor: libc::pid_t) {
    let sock = child_end.as_raw_fd();
    let hook = move || {
        // The supervisor blocks the signals it forwards; PROG starts with
        // none blocked, as it would without mptcpize-rs.
        // SAFETY: sigemptyset initialises the set on our stack, which
        // sigprocmask reads.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        }
        // SAFETY: prctl and getppid take integers.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0
            || unsafe { libc::getppid() } != supervisor
        {
            return fail(sock, Stage::ParentGone);
        }
        // SAFETY: as above.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return fail(sock, Stage::NoNewPrivs);
        }
        let listener = match filter::install(&program) {
            Ok(fd) => fd,
            Err(_) => return fail(sock, Stage::Filter),
        };
        let sent = send(sock, Stage::Ready, 0, Some(listener));
        // SAFETY: closing the listener this hook created; the parent has
        // its own copy now.
        unsafe { libc::close(listener) };
        sent
    };
    // SAFETY: the hook makes only async-signal-safe system calls (sigprocmask,
    // prctl, getppid, seccomp, sendmsg, close) on data prepared before fork.
    unsafe { cmd.pre_exec(hook) };
}

/// Reports `stage` with the current errno and returns that error to std.
fn fail(sock: RawFd, stage: Stage) -> io::Result<()> {
    let err = io::Error::last_os_error();
    let _ = send(sock, stage, err.raw_os_error().unwrap_or(0), None);
    Err(err)
}

/// Room for one fd of ancillary data, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// Hands `listener` on (the launcher to the supervisor process).
pub fn send_listener(sock: &OwnedFd, listener: &OwnedFd) -> io::Result<()> {
    send(
        sock.as_raw_fd(),
        Stage::Ready,
        0,
        Some(listener.as_raw_fd()),
    )
}

fn send(sock: RawFd, stage: Stage, errno: i32, fd: Option<RawFd>) -> io::Result<()> {
    let mut data = [0u8; 5];
    data[0] = stage as u8;
    data[1..].copy_from_slice(&errno.to_ne_bytes());
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut cmsg = CmsgBuf([0; 32]);
    // SAFETY: msghdr is plain data; zeroed is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE is arithmetic; the buffer is large enough for
        // one int (checked by the assert in the tests), and CMSG_FIRSTHDR
        // and CMSG_DATA point into it.
        unsafe {
            let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
            msg.msg_control = cmsg.0.as_mut_ptr().cast();
            msg.msg_controllen = space;
            let hdr = libc::CMSG_FIRSTHDR(&msg);
            (*hdr).cmsg_level = libc::SOL_SOCKET;
            (*hdr).cmsg_type = libc::SCM_RIGHTS;
            (*hdr).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(hdr).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: msg points to live buffers for the duration of the call.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives the child's report. With `wait` false, returns `None` at once
/// when no report is queued; `None` also means the child closed its end
/// without a word.
pub fn receive(parent_end: &OwnedFd, wait: bool) -> io::Result<Option<Report>> {
    let mut data = [0u8; 5];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut cmsg = CmsgBuf([0; 32]);
    // SAFETY: msghdr is plain data; zeroed is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.0.len();
    let flags = libc::MSG_CMSG_CLOEXEC | if wait { 0 } else { libc::MSG_DONTWAIT };
    let n = loop {
        // SAFETY: msg points to live buffers for the duration of the call.
        let n = unsafe { libc::recvmsg(parent_end.as_raw_fd(), &mut msg, flags) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(err),
        }
    };
    // The listener, if one came (take it first so it is never leaked).
    let mut listener = None;
    // SAFETY: CMSG_FIRSTHDR/NXTHDR walk the control data recvmsg wrote
    // into our buffer; an SCM_RIGHTS header carries one fd we now own.
    unsafe {
        let mut hdr = libc::CMSG_FIRSTHDR(&msg);
        while !hdr.is_null() {
            if (*hdr).cmsg_level == libc::SOL_SOCKET && (*hdr).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(hdr).cast::<RawFd>());
                listener = Some(OwnedFd::from_raw_fd(fd));
            }
            hdr = libc::CMSG_NXTHDR(&msg, hdr);
        }
    }
    if n < data.len() {
        return Ok(None);
    }
    let errno = i32::from_ne_bytes(data[1..].try_into().expect("4 bytes"));
    Ok(match (Stage::from_byte(data[0]), listener) {
        (Some(Stage::Ready), Some(fd)) => Some(Report::Listener(fd)),
        (Some(stage), _) if stage != Stage::Ready => Some(Report::Failed(stage, errno)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fd_fits_the_control_buffer() {
        // SAFETY: CMSG_SPACE is arithmetic.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        assert!(space <= std::mem::size_of::<CmsgBuf>());
    }

    #[test]
    fn a_listener_and_a_failure_cross_the_pair() {
        let (parent, child) = socketpair().unwrap();
        let (a, _b) = socketpair().unwrap();
        send(child.as_raw_fd(), Stage::Ready, 0, Some(a.as_raw_fd())).unwrap();
        match receive(&parent, false).unwrap() {
            Some(Report::Listener(fd)) => assert_ne!(fd.as_raw_fd(), a.as_raw_fd()),
            _ => panic!("no listener"),
        }
        send(child.as_raw_fd(), Stage::Filter, libc::EINVAL, None).unwrap();
        assert!(matches!(
            receive(&parent, false).unwrap(),
            Some(Report::Failed(Stage::Filter, libc::EINVAL))
        ));
        assert!(receive(&parent, false).unwrap().is_none());
    }
}
