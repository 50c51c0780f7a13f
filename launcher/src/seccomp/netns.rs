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

use rustix::fs::{open, readlinkat_raw, Mode, OFlags, CWD};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// The text of a `/proc/PID/ns/net` link: `net:[4026531840]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NsName {
    buf: [u8; 32],
    len: usize,
}

/// The network namespace of task `pid` (a thread id is fine), or `None`
/// when it cannot be read (the task is gone, or /proc is not mounted).
pub fn of(pid: u32) -> Option<NsName> {
    let mut name = NsName {
        buf: [0; 32],
        len: 0,
    };
    let n = readlinkat_raw(CWD, format!("/proc/{pid}/ns/net"), &mut name.buf).ok()?;
    // A name that fills the buffer may have been cut short.
    if n == 0 || n >= name.buf.len() {
        return None;
    }
    name.len = n;
    Some(name)
}

fn open_ns(path: &str) -> io::Result<OwnedFd> {
    Ok(open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?)
}

/// The supervisor's own namespace, to come back to after a [`Visit`].
pub struct Home(OwnedFd);

impl Home {
    pub fn open() -> io::Result<Home> {
        open_ns("/proc/thread-self/ns/net").map(Home)
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
        let ns = open_ns(&format!("/proc/{pid}/ns/net"))?;
        if !still_valid() {
            return Ok(None);
        }
        // Changes only this thread's namespace.
        move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))?;
        Ok(Some(Visit { home }))
    }
}

impl Drop for Visit<'_> {
    fn drop(&mut self) {
        if let Err(e) =
            move_into_link_name_space(self.home.0.as_fd(), Some(LinkNameSpaceType::Network))
        {
            // Never seen; a thread left in the wrong namespace would make
            // wrong sockets, so stop rather than go on.
            crate::say::line(format_args!(
                "the seccomp supervisor cannot return to its network namespace: {e}"
            ));
            std::process::abort();
        }
    }
}
