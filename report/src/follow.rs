//! The report of `mptcpize-rs run --report[=FILE]`: one line per connection
//! when it is closed (or still open at exit), saying whether MPTCP was
//! negotiated with the peer or the connection fell back to TCP, the subflows
//! and the bytes moved; and, when the process exits, one line counting the
//! sockets made MPTCP and those that fell back, and why.
//!
//! `socket()` and `accept()` only record the new fd in [`crate::table`] and
//! bump a counter (atomics and one getsockopt); the rest of the getsockopt
//! work happens in `close()` and at exit. Every line is built on the stack
//! and written with one write(2) where [`crate::dest`] says, so that lines
//! from threads and from forked or executed children never mix. A process
//! that made no TCP socket writes nothing.

use crate::closer::{self, Closed};
use crate::dest;
use crate::render;
use crate::sockinfo::{self, FullInfo, Outcome, Socket, Subflow, SUBFLOWS_MAX};
use crate::table::{self, Kind, Tracked};
use core::ffi::c_int;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU8, Ordering};
use mptcpize_preload::line::Line;
use mptcpize_preload::{errno, sys};
use mptcpize_rules::report::{Connection, Mode, Process, Reason, Side};
use mptcpize_rules::{is_fallback_errno, IPPROTO_MPTCP, IPPROTO_TCP};

/// Sockets `socket()` made MPTCP.
static CONVERTED: AtomicU32 = AtomicU32::new(0);
/// Sockets `socket()` made TCP because MPTCP is unavailable.
static FELL_BACK: AtomicU32 = AtomicU32::new(0);
/// The error that made the first one fall back.
static FALLBACK_ERRNO: AtomicI32 = AtomicI32::new(0);
/// MPTCP `socket()` calls that failed without a fallback.
static FAILED: AtomicU32 = AtomicU32::new(0);
/// MPTCP sockets the core shim made TCP after MPTCP refused an option.
static MADE_TCP: AtomicU32 = AtomicU32::new(0);
/// Connections accepted on followed listeners.
static ACCEPTED: AtomicU32 = AtomicU32::new(0);
/// Sockets beyond the table, not followed.
static UNFOLLOWED: AtomicU32 = AtomicU32::new(0);
/// Connections reported, by outcome.
static CONN_MPTCP: AtomicU32 = AtomicU32::new(0);
static CONN_FELL_BACK: AtomicU32 = AtomicU32::new(0);
static CONN_TCP: AtomicU32 = AtomicU32::new(0);
/// The most subflows any MPTCP connection of this process had.
static MAX_SUBFLOWS: AtomicU8 = AtomicU8::new(0);

pub type Line400 = Line<{ dest::LINE_MAX }>;

/// Called when the report starts: maps the table, and has a forked child
/// start its own counts (the sockets it inherits are still reported when it
/// closes them).
pub fn start() {
    table::allocate();
    closer::note_inherited();
    crate::atfork::start(forked_child);
}

unsafe extern "C" fn forked_child() {
    for c in [
        &CONVERTED,
        &FELL_BACK,
        &FAILED,
        &MADE_TCP,
        &ACCEPTED,
        &UNFOLLOWED,
        &CONN_MPTCP,
        &CONN_FELL_BACK,
        &CONN_TCP,
    ] {
        c.store(0, Ordering::Relaxed);
    }
    MAX_SUBFLOWS.store(0, Ordering::Relaxed);
    closer::forked_child();
}

/// A `socket()` call the rules convert returned `fd` (made by the core
/// shim, preloaded after this library): what it became is read from the
/// socket itself, `SO_PROTOCOL`. errno is preserved.
#[cold]
pub fn made(fd: c_int) {
    let saved = errno::Guard::save();
    if fd < 0 {
        // The core shim fails an MPTCP socket only when its fallback is off.
        if is_fallback_errno(saved.saved()) {
            FAILED.fetch_add(1, Ordering::Relaxed);
            note_fallback_errno(saved.saved());
        }
        return;
    }
    match sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) {
        Some(IPPROTO_MPTCP) => {
            CONVERTED.fetch_add(1, Ordering::Relaxed);
            follow(fd, Kind::Mptcp);
        }
        Some(IPPROTO_TCP) => {
            FELL_BACK.fetch_add(1, Ordering::Relaxed);
            if FALLBACK_ERRNO.load(Ordering::Relaxed) == 0 {
                note_fallback_errno(why_tcp());
            }
            follow(fd, Kind::TcpFallback);
        }
        _ => {}
    }
}

fn note_fallback_errno(errno: c_int) {
    if errno != 0 {
        let _ = FALLBACK_ERRNO.compare_exchange(0, errno, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Why a socket the rules convert is TCP: the error of an MPTCP socket made
/// here, with the system call itself (once per process, on the first
/// fallback); 0 when that works (then the core shim is not loaded).
#[cold]
fn why_tcp() -> c_int {
    match sys::socket(
        libc::AF_INET,
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
        IPPROTO_MPTCP,
    ) {
        Ok(probe) => {
            sys::close(probe);
            0
        }
        Err(e) => e,
    }
}

/// A `setsockopt()` on `fd` succeeded: if `fd` is a followed MPTCP socket
/// that is TCP now, the core shim made it TCP (MPTCP refused the option).
/// One getsockopt per successful setsockopt on a followed MPTCP socket,
/// and only in reported processes. errno is preserved.
#[cold]
pub fn option_set(fd: c_int) {
    if table::get(fd) != Some(Kind::Mptcp) {
        return;
    }
    let _errno = errno::Guard::save();
    if sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) == Some(IPPROTO_TCP) {
        MADE_TCP.fetch_add(1, Ordering::Relaxed);
        // The core shim put a new TCP socket at this number.
        let ino = sys::fstat(fd).map_or(0, |id| id.ino);
        table::retype(fd, Kind::TcpOption, ino);
    }
}

/// `accept()` on `listener` returned `fd`.
#[cold]
pub fn accepted(listener: c_int, fd: c_int) {
    let kind = match table::get(listener) {
        Some(Kind::Mptcp) => Kind::AcceptedMptcp,
        Some(Kind::TcpFallback | Kind::TcpOption) => Kind::AcceptedTcp,
        _ => return,
    };
    ACCEPTED.fetch_add(1, Ordering::Relaxed);
    follow(fd, kind);
}

fn follow(fd: c_int, kind: Kind) {
    // Mapped by the constructor; a socket() made before it (from another
    // library's constructor) maps it here.
    table::allocate();
    let ino = sys::fstat(fd).map_or(0, |id| id.ino);
    match table::track(fd, kind, ino) {
        Tracked::Yes => {}
        // The number was free, so the socket followed there was closed
        // past the library.
        Tracked::Replacing => closer::closed_unseen(),
        Tracked::Beyond => {
            UNFOLLOWED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `fd` is being shut down: remember its subflows, peer and bytes while it
/// still has them (a connection closed by both ends has no subflows left at
/// `close()`, and one that fell back to TCP has lost its counters). `fd`
/// may be a duplicate of a followed socket's fd (`dup`, `F_DUPFD`, Rust's
/// `try_clone`): the sample goes to the followed fd of the same socket,
/// found by its inode (only for MPTCP and TCP sockets: the search costs an
/// fstat per followed fd).
#[cold]
pub fn shutting_down(fd: c_int, how: c_int) {
    let _errno = errno::Guard::save();
    let followed = if table::get(fd).is_some() {
        Some(fd)
    } else if sockinfo::is_mptcp_or_tcp(fd) {
        sockinfo::identity(fd)
            .and_then(|id| table::find(|other| sockinfo::identity(other) == Some(id)))
    } else {
        None
    };
    if let Some(followed) = followed {
        let mut full = MaybeUninit::uninit();
        if let Socket::Connection(conn) =
            sockinfo::inspect(fd, table::shut_write(followed), &mut full)
        {
            table::sample(
                followed,
                table::Sample {
                    max_subflows: conn.subflows,
                    peer: sockinfo::peer(fd),
                    local: sockinfo::local(fd),
                    token: conn.token,
                    sent: conn.bytes_sent,
                    received: conn.bytes_received,
                    highest_id: conn.full.map_or(0, FullInfo::highest_id),
                    not_established: conn.full.map_or(0, FullInfo::not_established),
                },
            );
            if let Some(full) = conn.full.filter(|f| f.subflows().next().is_some()) {
                table::sample_subflows(followed, full.subflows());
            }
        }
        if how != libc::SHUT_RD {
            table::mark_shut_write(followed);
        }
    }
}

/// `first..=last` are about to be closed by `close_range()` (with `flags`):
/// each followed one is closed here, as `close()` would, and then the
/// rest by `close_range`. With `CLOSE_RANGE_UNSHARE` the program's own
/// table is not the one closed: the connections are reported first.
pub fn closing_range(
    first: u32,
    last: u32,
    flags: c_int,
    close_range: impl FnOnce() -> c_int,
) -> c_int {
    if flags & libc::CLOSE_RANGE_UNSHARE as c_int != 0 {
        if !crate::atfork::in_vfork_child() {
            for (fd, kind) in table::take_range(first, last) {
                report_socket(fd, kind, Closed::CloseRange);
            }
        }
        return close_range();
    }
    for fd in table::followed(first, last) {
        closer::close_now(fd, Closed::CloseRange);
    }
    close_range()
}

/// What a written report line counts, once written.
pub struct Tally {
    outcome: Outcome,
    subflows: u8,
}

/// Counts a connection whose line was written.
pub fn tally(t: Tally) {
    match t.outcome {
        Outcome::Mptcp => &CONN_MPTCP,
        Outcome::FellBack => &CONN_FELL_BACK,
        Outcome::Tcp => &CONN_TCP,
    }
    .fetch_add(1, Ordering::Relaxed);
    if t.outcome == Outcome::Mptcp {
        MAX_SUBFLOWS.fetch_max(t.subflows, Ordering::Relaxed);
    }
}

/// Reports the connection on `fd` (taken from the table) now.
#[cold]
#[inline(never)]
pub fn report_socket(fd: c_int, kind: Kind, how: Closed) {
    let mut slot = MaybeUninit::uninit();
    if let Some((line, t)) = describe(&mut slot, fd, kind, how) {
        dest::write(line.finish());
        tally(t);
    }
}

/// The report line of the connection on `fd` (taken from the table), built
/// in `slot` while it is open, and what it counts; `None` for a socket that
/// is no connection. errno is preserved.
pub fn describe(
    slot: &mut MaybeUninit<Line400>,
    fd: c_int,
    kind: Kind,
    how: Closed,
) -> Option<(&mut Line400, Tally)> {
    let _errno = errno::Guard::save();
    let mut full = MaybeUninit::uninit();
    let Socket::Connection(mut conn) = sockinfo::inspect(fd, table::shut_write(fd), &mut full)
    else {
        table::release(fd);
        return None;
    };
    let seen = table::sampled(fd);
    conn.subflows = conn.subflows.max(seen.max_subflows);
    if conn.counted {
        conn.bytes_sent = conn.bytes_sent.max(seen.sent);
        conn.bytes_received = conn.bytes_received.max(seen.received);
    } else {
        // The kernel's counts are gone: what shutdown() saw is all we have.
        conn.bytes_sent = seen.sent;
        conn.bytes_received = seen.received;
    }
    let mptcp = conn.outcome == Outcome::Mptcp;
    let accepted = matches!(kind, Kind::AcceptedMptcp | Kind::AcceptedTcp);
    let reason = match conn.outcome {
        Outcome::Mptcp => Reason::None,
        Outcome::FellBack => Reason::PeerDidNotNegotiate,
        // A plain-TCP client on our MPTCP listener: MPTCP was there, the
        // peer did not ask for it (the kernel hands over a TCP socket).
        Outcome::Tcp if kind == Kind::AcceptedMptcp => Reason::PeerDidNotOffer,
        Outcome::Tcp if kind == Kind::TcpOption => Reason::RefusedOption,
        Outcome::Tcp => Reason::Unavailable(FALLBACK_ERRNO.load(Ordering::Relaxed)),
    };
    // Joins, where the kernel numbers subflows (MPTCP_FULL_INFO): at this
    // look or at shutdown().
    let highest = conn
        .full
        .map_or(0, FullInfo::highest_id)
        .max(seen.highest_id);
    let (joins_attempted, joins_failed) = if mptcp && highest > 0 {
        let failed = conn.full.map_or(0, FullInfo::not_established);
        (Some(highest - 1), Some(failed.max(seen.not_established)))
    } else {
        (None, None)
    };
    let mut subflows = MaybeUninit::<[Subflow; SUBFLOWS_MAX]>::uninit();
    // SAFETY: the array is written, whole, before it is read; each element
    // is written in place (no copy of the whole array).
    let list = unsafe {
        let p = subflows.as_mut_ptr().cast::<Subflow>();
        for i in 0..SUBFLOWS_MAX {
            p.add(i).write(Subflow::default());
        }
        subflows.assume_init_mut()
    };
    // Each subflow as the last look that saw it left it: this one, or
    // shutdown()'s for those the kernel has torn down since.
    let mut listed = table::sampled_subflows(fd, list);
    table::release(fd);
    for sf in conn.full.into_iter().flat_map(FullInfo::subflows) {
        let same = |k: &Subflow| k.local == sf.local && k.remote == sf.remote;
        match list.iter_mut().take(listed).find(|k| same(k)) {
            Some(kept) => *kept = sf,
            None => {
                if let Some(slot) = list.get_mut(listed) {
                    *slot = sf;
                    listed += 1;
                }
            }
        }
    }
    let mut comm = [0u8; 16];
    let (pid, comm) = render::me(&mut comm);
    let line = render::connection(
        slot,
        &Connection {
            pid,
            comm,
            side: if accepted { Side::Server } else { Side::Client },
            local: sockinfo::local(fd).or(seen.local),
            remote: sockinfo::peer(fd).or(seen.peer),
            token: if mptcp {
                conn.token.or(seen.token)
            } else {
                None
            },
            outcome: conn.outcome,
            reason,
            subflows: conn.subflows,
            joins_attempted,
            joins_failed,
            subflow_bytes: (mptcp && listed > 0).then(|| list.get(..listed).unwrap_or(&[])),
            bytes_sent: conn.bytes_sent,
            bytes_received: conn.bytes_received,
            bytes_exact: conn.counted,
            closed: how,
        },
    );
    Some((
        line,
        Tally {
            outcome: conn.outcome,
            subflows: conn.subflows,
        },
    ))
}

/// When the process exits (after the program's own atexit handlers):
/// reports the connections still open, then the counts.
pub fn at_exit() {
    if crate::atfork::in_vfork_child() {
        // exit() in a vfork child: the table is its parent's.
        return;
    }
    closer::at_exit();
    let load = |c: &AtomicU32| c.load(Ordering::Relaxed);
    let (converted, fell_back, failed) = (load(&CONVERTED), load(&FELL_BACK), load(&FAILED));
    let accepted = load(&ACCEPTED);
    let unseen = closer::counts();
    if converted + fell_back + failed + accepted == 0 && unseen.never_seen == 0 {
        return;
    }
    let mut comm = [0u8; 16];
    let (pid, comm) = render::me(&mut comm);
    let process = Process {
        pid,
        comm,
        mode: Mode::Preload,
        sockets_mptcp: converted,
        sockets_fallback: fell_back,
        fallback_errno: FALLBACK_ERRNO.load(Ordering::Relaxed),
        sockets_failed: failed,
        sockets_made_tcp: Some(load(&MADE_TCP)),
        connections_mptcp: Some(load(&CONN_MPTCP)),
        connections_fallback: Some(load(&CONN_FELL_BACK)),
        connections_tcp: Some(load(&CONN_TCP)),
        max_subflows: Some(MAX_SUBFLOWS.load(Ordering::Relaxed)),
        not_followed: Some(load(&UNFOLLOWED)),
        followed_fds: table::FDS as u32,
        closed_unseen: Some(unseen.closed_unseen),
        handed_over: Some(unseen.handed_over),
        never_seen: Some(unseen.never_seen),
    };
    let mut slot = MaybeUninit::uninit();
    render::process(&mut slot, &process);
}
