//! Network namespaces in seccomp mode: the supervisor creates sockets for
//! other processes, and a socket lives in the network namespace of the
//! thread that creates it. A process of the tree may have moved to another
//! namespace (`ip netns exec`, unshare, a container); its sockets must be
//! made there, never in the supervisor's.
//!
//! [`of`] names a task's namespace cheaply (readlink of
//! `/proc/PID/ns/net`: unlike stat, it does not open the namespace, which
//! cost a third of a converted socket() when measured). [`Visit`] moves the
//! calling supervisor thread into a task's namespace with setns(2), which
//! needs CAP_SYS_ADMIN (root); without it the caller's socket() is let
//! through and stays TCP. The namespace is per thread, so the other
//! answering threads are not affected.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The text of a `/proc/PID/ns/net` link: `net:[4026531840]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NsName {
    buf: [u8; 32],
    len: usize,
}

/// The network namespace of task `pid` (a thread id is fine), or `None`
/// when it cannot be read (the task is gone, or /proc is not mounted).
pub fn of(pid: u32) -> Option<NsName> {
    let path = CString::new(format!("/proc/{pid}/ns/net")).ok()?;
    let mut name = NsName {
        buf: [0; 32],
        len: 0,
    };
    // SAFETY: readlink writes at most buf.len() bytes into our buffer.
    let n = unsafe { libc::readlink(path.as_ptr(), name.buf.as_mut_ptr().cast(), name.buf.len()) };
    if n <= 0 || n as usize >= name.buf.len() {
        return None;
    }
    name.len = n as usize;
    Some(name)
}

fn open(path: &str) -> io::Result<OwnedFd> {
    let path = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open with a NUL-terminated path; the fd is owned below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The supervisor's own namespace, to come back to after a [`Visit`].
pub struct Home(OwnedFd);

impl Home {
    pub fn open() -> io::Result<Home> {
        open("/proc/thread-self/ns/net").map(Home)
    }
}

/// The calling thread inside another task's network namespace, until
/// dropped.
pub struct Visit<'a> {
    home: &'a Home,
}

impl<'a> Visit<'a> {
    /// Opens the namespace of `pid`, checks with `still_valid` that `pid` is
    /// still the caller (pids can be reused), and enters it.
    pub fn enter(
        home: &'a Home,
        pid: u32,
        still_valid: impl Fn() -> bool,
    ) -> io::Result<Option<Visit<'a>>> {
        let ns = open(&format!("/proc/{pid}/ns/net"))?;
        if !still_valid() {
            return Ok(None);
        }
        // SAFETY: setns with an fd we own; it changes only this thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(Visit { home }))
    }
}

impl Drop for Visit<'_> {
    fn drop(&mut self) {
        // SAFETY: setns back to the namespace this thread came from.
        if unsafe { libc::setns(self.home.0.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            // Never seen; a thread left in the wrong namespace would make
            // wrong sockets, so stop rather than go on.
            eprintln!(
                "mptcpize-rs: the seccomp supervisor cannot return to its network namespace: {}",
                io::Error::last_os_error()
            );
            std::process::abort();
        }
    }
}
