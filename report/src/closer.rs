//! Who reports a connection, and when: the process whose close was the
//! last reference to the socket, once, with all its bytes.
//!
//! - A close the program makes (`close`, `dup2`/`dup3` over it,
//!   `close_range`, `fclose`, `syscall(SYS_close)`) of a followed fd
//!   reports the connection, built while it is still open.
//! - When the process forked since the socket was followed, a child (or
//!   the parent) may still hold it: the line is built first, the fd closed,
//!   and then sock_diag ([`crate::diag`]) says whether the socket is still
//!   held. If it is, another process reports it when it closes it last (a
//!   forking server's parent closes each connection right after the fork,
//!   its child does the work); this one writes nothing.
//! - A `vfork()` child runs in its parent's memory: its closes take nothing
//!   from the table and report nothing (the parent's close does).
//! - A followed socket closed where the library cannot see it (a raw close
//!   system call, as the Go runtime makes) is counted and named at exit:
//!   its number holds another file then, or is free, or a new socket got it.
//! - At exit, sockets open that the library never saw made (raw socket
//!   system calls) are counted and named too.

use crate::diag;
use crate::follow::{self, Line400};
use crate::table::{self, Kind};
use core::ffi::c_int;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};
use mptcpize_preload::{errno, sys};
use mptcpize_rules::{IPPROTO_MPTCP, IPPROTO_TCP};

/// How the end of a connection was seen (`"closed"`).
pub use mptcpize_rules::report::Closed;

/// Followed connections closed past the library.
static CLOSED_UNSEEN: AtomicU32 = AtomicU32::new(0);
/// Connections this process closed while another still held them (a
/// forked child or the parent): that one reports them.
static HANDED_OVER: AtomicU32 = AtomicU32::new(0);
/// MPTCP and TCP connections open at exit that the library never saw made.
static NEVER_SEEN: AtomicU32 = AtomicU32::new(0);

/// A forked child starts its own counts.
pub fn forked_child() {
    for c in [&CLOSED_UNSEEN, &HANDED_OVER, &NEVER_SEEN] {
        c.store(0, Ordering::Relaxed);
    }
}

/// One more followed connection was closed past the library.
pub fn closed_unseen() {
    CLOSED_UNSEEN.fetch_add(1, Ordering::Relaxed);
}

/// This process's counts of connections it did not report itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unseen {
    /// Closed past the library: `closed_unseen` in the JSON report.
    pub closed_unseen: u32,
    /// Closed here while another process held them, which reports them.
    pub handed_over: u32,
    /// Open at exit, never seen made (raw socket system calls).
    pub never_seen: u32,
}

pub fn counts() -> Unseen {
    Unseen {
        closed_unseen: CLOSED_UNSEEN.load(Ordering::Relaxed),
        handed_over: HANDED_OVER.load(Ordering::Relaxed),
        never_seen: NEVER_SEEN.load(Ordering::Relaxed),
    }
}

/// `fd` is about to be closed by `close` (which closes it and returns what
/// the program gets): reports the connection if it is followed, and this
/// is its last close. errno is the close's.
#[inline(always)]
pub fn closing<R>(fd: c_int, how: Closed, close: impl FnOnce() -> R) -> R {
    if table::get(fd).is_none() {
        return close();
    }
    closing_followed(fd, how, close)
}

/// [`closing`] for a followed fd. Out of line, so that the interposers'
/// own frames stay small: the line is built in a 4 KiB buffer on the
/// stack, which only a followed socket's close needs (a program may call
/// `close()` or `syscall()` on a small stack, e.g. in a signal handler).
#[cold]
#[inline(never)]
fn closing_followed<R>(fd: c_int, how: Closed, close: impl FnOnce() -> R) -> R {
    let mut slot = MaybeUninit::uninit();
    let pending = before(&mut slot, fd, how);
    let rc = close();
    if let Some(pending) = pending {
        after(pending);
    }
    rc
}

/// Closes followed `fd` here, with the system call, reporting it as
/// [`closing`] does (for `close_range()` and at exit).
#[inline(never)]
pub fn close_now(fd: c_int, how: Closed) {
    closing(fd, how, || sys::close(fd));
}

/// What is left to do once the fd is closed: the line, written only if no
/// other process holds the socket any more.
pub struct Pending<'a> {
    /// `None` for a socket that is no connection yet to this process's
    /// eyes (an accepted one it never wrote to, closed by a forking
    /// server's parent right after the fork): nothing to write, but handed
    /// over all the same when another process holds it.
    line: Option<(&'a mut Line400, follow::Tally)>,
    accepted: bool,
    id: Option<diag::Identity>,
}

/// Before `fd` (followed) is closed: takes it, and reports it now when no
/// other process can hold it; or returns its line, to write after the
/// close. Nothing in a vfork child. errno is preserved.
#[cold]
#[inline(never)]
fn before(slot: &mut MaybeUninit<Line400>, fd: c_int, how: Closed) -> Option<Pending<'_>> {
    let _errno = errno::Guard::save();
    if crate::atfork::in_vfork_child() {
        return None;
    }
    let followed_ino = table::ino(fd);
    let forked = table::forked_since(fd);
    let kind = table::take(fd)?;
    if sys::fstat(fd).map_or(true, |id| id.ino != followed_ino) {
        // The number holds another file: the socket was closed unseen.
        closed_unseen();
        return None;
    }
    if !forked {
        follow::report_socket(fd, kind, how);
        return None;
    }
    let id = diag::identify(fd);
    Some(Pending {
        line: follow::describe(slot, fd, kind, how),
        accepted: matches!(kind, Kind::AcceptedMptcp | Kind::AcceptedTcp),
        id,
    })
}

/// After the close: writes the line unless another process still holds the
/// socket (it reports it when it closes it last). errno is preserved.
#[cold]
#[inline(never)]
fn after(p: Pending<'_>) {
    let _errno = errno::Guard::save();
    if p.line.is_none() && !p.accepted {
        return;
    }
    if p.id.and_then(diag::still_held) == Some(true) {
        HANDED_OVER.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if let Some((line, tally)) = p.line {
        crate::dest::write(line.finish());
        follow::tally(tally);
    }
}

/// `dup2(old, new)` or `dup3` is about to close `new` (when it is open, and
/// `old` is an open fd other than `new`: otherwise the call fails, or does
/// nothing, and `new` stays as it is).
#[inline(always)]
pub fn replacing(old: c_int, new: c_int, dup: impl FnOnce() -> c_int) -> c_int {
    if old != new && table::get(new).is_some() && sys::is_open(old) {
        return closing(new, Closed::Dup2, dup);
    }
    dup()
}

/// At exit: the followed connections still open are reported (those a
/// fork may have shared are closed here first and reported only if that
/// was the last reference), those closed unseen counted, and the MPTCP and
/// TCP connections the library never saw made counted.
#[cold]
pub fn at_exit() {
    // First, while the followed ones are still in the table.
    NEVER_SEEN.store(never_seen(), Ordering::Relaxed);
    for fd in table::followed(0, u32::MAX) {
        if table::forked_since(fd) {
            close_now(fd, Closed::Exit);
            continue;
        }
        let followed_ino = table::ino(fd);
        let Some(kind) = table::take(fd) else {
            continue;
        };
        if sys::fstat(fd).map_or(true, |id| id.ino != followed_ino) {
            closed_unseen();
        } else {
            follow::report_socket(fd, kind, Closed::Exit);
        }
    }
}

/// When the report starts: the MPTCP and TCP connections the process
/// inherited (an inetd-style service's, or a parent's without
/// close-on-exec) are noted by inode, so that at exit they are not taken
/// for connections made past the library.
pub fn note_inherited() {
    each_fd(|fd| {
        if let Some(ino) = connection_inode(fd) {
            table::note_inherited(fd, ino);
        }
    });
}

/// The MPTCP and TCP connections open now, found in `/proc/self/fd`, that
/// the library does not follow and the process did not inherit.
fn never_seen() -> u32 {
    let mut n = 0;
    each_fd(|fd| {
        if table::get(fd).is_none() {
            if let Some(ino) = connection_inode(fd) {
                n += u32::from(ino != table::ino(fd));
            }
        }
    });
    n
}

/// Calls `f` with each open fd, read from `/proc/self/fd` (nothing without
/// /proc).
fn each_fd(mut f: impl FnMut(c_int)) {
    let Ok(dir) = sys::open(
        c"/proc/self/fd",
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    ) else {
        return;
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    while let Ok(entries) = sys::getdents(dir, &mut buf) {
        if entries.is_empty() {
            break;
        }
        for fd in numbers(entries).filter(|&fd| fd != dir) {
            f(fd);
        }
    }
    sys::close(dir);
}

/// The inode of the socket on `fd` when it is a connected IPv4 or IPv6
/// MPTCP or TCP socket.
fn connection_inode(fd: c_int) -> Option<u64> {
    let id = sys::fstat(fd).ok().filter(|id| id.kind == libc::S_IFSOCK)?;
    let connected = matches!(
        sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL),
        Some(IPPROTO_MPTCP | IPPROTO_TCP)
    ) && matches!(
        sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN),
        Some(libc::AF_INET | libc::AF_INET6)
    ) && sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Some(0)
        && sys::getpeername(fd).is_some();
    connected.then_some(id.ino)
}

/// The names of `linux_dirent64` entries that are numbers (the fds in
/// `/proc/self/fd`; `.` and `..` are not).
fn numbers(mut entries: &[u8]) -> impl Iterator<Item = c_int> + '_ {
    /// `d_reclen`'s and `d_name`'s offsets.
    const RECLEN: usize = 16;
    const NAME: usize = 19;
    core::iter::from_fn(move || loop {
        let len = usize::from(u16::from_ne_bytes(
            entries.get(RECLEN..RECLEN + 2)?.try_into().ok()?,
        ));
        let entry = entries.get(..len).filter(|_| len > NAME)?;
        entries = &entries[len..];
        let name = &entry[NAME..];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
            continue;
        }
        let n = name.iter().fold(0i64, |n, &d| {
            (n * 10 + i64::from(d - b'0')).min(i64::from(c_int::MAX))
        });
        return Some(n as c_int);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirent(name: &str) -> Vec<u8> {
        let len = (19 + name.len() + 1 + 7) & !7;
        let mut e = vec![0u8; len];
        e[16..18].copy_from_slice(&(len as u16).to_ne_bytes());
        e[19..19 + name.len()].copy_from_slice(name.as_bytes());
        e
    }

    #[test]
    fn fd_numbers_are_read_from_directory_entries() {
        let mut b = Vec::new();
        for name in [".", "..", "0", "17", "65536"] {
            b.extend(dirent(name));
        }
        assert_eq!(numbers(&b).collect::<Vec<_>>(), [0, 17, 65536]);
        assert_eq!(numbers(&b[..5]).count(), 0);
    }
}
