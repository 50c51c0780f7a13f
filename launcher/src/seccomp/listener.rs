//! The seccomp notification listener as a type: the one place that makes
//! the `SECCOMP_IOCTL_NOTIF_*` ioctls, which no crate wraps. Everything
//! unsafe about the notifications is here; the supervisor holds only
//! policy.
//!
//! [`Listener::recv`] reads the next notification, [`Listener::id_valid`]
//! says whether its caller still waits, [`Listener::addfd`] puts a socket of
//! ours into the caller as the result of its call, and
//! [`Listener::respond`] answers otherwise (let the call through, or fail
//! it).

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (linux/seccomp.h, Linux 6.6).
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: libc::c_ulong = 1;

/// One system call (`socket()`, or `exit_group()` with a report) waiting
/// for an answer.
#[derive(Clone, Copy, Debug)]
pub struct Notification {
    /// The kernel's cookie for this call.
    pub id: u64,
    /// The calling thread, in the supervisor's pid namespace (0: not
    /// visible there).
    pub pid: u32,
    /// The system call's number.
    pub nr: i32,
    /// The call's arguments (socket() reads the low 32 bits of each).
    pub args: [u64; 6],
}

/// How to answer a call that gets no socket of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The kernel runs the call as the program made it.
    Continue,
    /// The call fails with this errno.
    Fail(i32),
}

/// The kernel's buffer for one notification: `seccomp_notif` and room for
/// fields a newer kernel may add (checked by [`check_sizes`]).
#[repr(C)]
struct NotifBuf {
    notif: libc::seccomp_notif,
    spare: [u8; 64],
}

/// Checks that this kernel has user notifications, and that its structures
/// fit ours.
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
            crate::say::short(&std::io::Error::last_os_error())
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

/// The errno of the ioctl that just failed.
fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}

/// The listener fd of a seccomp filter.
pub struct Listener(OwnedFd);

impl Listener {
    /// Takes `fd`, which must be a seccomp user-notification listener.
    pub fn new(fd: OwnedFd) -> Listener {
        Listener(fd)
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// Asks the kernel (Linux 6.6+) to wake the answering thread on the
    /// caller's CPU: this halves the cost of a converted socket() on a busy
    /// machine. Older kernels refuse (EINVAL), and answer as before.
    pub fn prefer_sync_wakeup(&self) {
        // SAFETY: SET_FLAGS takes the flags as its integer argument.
        unsafe {
            libc::ioctl(
                self.0.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
            )
        };
    }

    /// Waits for the next notification. `ENOENT`: its caller went away
    /// before it was read, or no process uses the filter any more.
    pub fn recv(&self) -> Result<Notification, Errno> {
        // SAFETY: NotifBuf is plain data; RECV requires it zeroed.
        let mut buf: NotifBuf = unsafe { std::mem::zeroed() };
        // SAFETY: RECV writes at most the kernel's seccomp_notif size, which
        // check_sizes() found fits in NotifBuf.
        let r = unsafe {
            libc::ioctl(
                self.0.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &raw mut buf.notif,
            )
        };
        if r != 0 {
            return Err(last_errno());
        }
        Ok(Notification {
            id: buf.notif.id,
            pid: buf.notif.pid,
            nr: buf.notif.data.nr,
            args: buf.notif.data.args,
        })
    }

    /// True while the caller of notification `id` still waits for it.
    pub fn id_valid(&self, id: u64) -> bool {
        // SAFETY: ID_VALID reads the u64 we own.
        unsafe {
            libc::ioctl(
                self.0.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
                &raw const id,
            ) == 0
        }
    }

    /// Puts `socket` into the caller of notification `id` and completes its
    /// call with the new fd number (Linux 5.14+), `O_CLOEXEC` on it when
    /// `cloexec`. Our copy is closed on return.
    pub fn addfd(&self, id: u64, socket: OwnedFd, cloexec: bool) -> Result<i32, Errno> {
        let addfd = libc::seccomp_notif_addfd {
            id,
            flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
            srcfd: socket.as_raw_fd() as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        // SAFETY: ADDFD reads the struct we own; srcfd is our open socket.
        let new = unsafe {
            libc::ioctl(
                self.0.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ADDFD,
                &raw const addfd,
            )
        };
        if new < 0 {
            return Err(last_errno());
        }
        Ok(new)
    }

    /// Answers notification `id`. Fails only when the caller is gone, which
    /// needs no answer, so nothing is returned.
    pub fn respond(&self, id: u64, answer: Answer) {
        let (error, flags) = match answer {
            Answer::Continue => (0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
            Answer::Fail(errno) => (-errno, 0),
        };
        let resp = libc::seccomp_notif_resp {
            id,
            val: 0,
            error,
            flags,
        };
        // SAFETY: SEND reads the struct we own.
        unsafe {
            libc::ioctl(
                self.0.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &raw const resp,
            )
        };
    }

    /// Waits until no process uses the filter any more (the listener reports
    /// POLLHUP), or, with `wait` false, says whether that is so now.
    pub fn orphaned(&self, wait: bool) -> bool {
        loop {
            let mut fds = [PollFd::new(&self.0, PollFlags::empty())];
            let timeout = rustix::event::Timespec::default();
            match poll(&mut fds, if wait { None } else { Some(&timeout) }) {
                Ok(_)
                    if fds[0]
                        .revents()
                        .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) =>
                {
                    return true
                }
                Ok(_) | Err(Errno::INTR) if wait => continue,
                _ => return false,
            }
        }
    }
}
