//! The sockets the report follows, in a fixed-size lock-free table indexed
//! by file descriptor: an entry of atomics per fd, so that `socket()`,
//! `accept()` and `close()` can record and take an entry from any thread, or
//! from a signal handler, without allocating or locking.
//!
//! The table is one anonymous mapping (3 MiB, untouched pages cost no
//! memory) made by [`allocate`] when the report starts, in the constructor.
//!
//! An entry is set after the socket exists and taken (swapped to empty)
//! before the fd is closed, so a number reused by another thread's new
//! socket is never confused with the old one. Fds beyond the table are not
//! followed; [`track`] says so and the report counts them.
//!
//! Beside its kind, an entry keeps what [`sample`] saw of the connection
//! while it was open (at `shutdown()`): the most subflows and the peer's
//! address, which a connection closed by both ends no longer has at
//! `close()`.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use mptcpize_preload::page::MapOnce;

/// How many fds are followed: 0 .. FDS-1.
pub const FDS: usize = 1 << 16;

/// What a followed socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Made by `socket()` as an MPTCP socket.
    Mptcp = 1,
    /// Made by `socket()` as TCP because MPTCP is unavailable here.
    TcpFallback = 2,
    /// Returned by `accept()` on a listener that is MPTCP.
    AcceptedMptcp = 3,
    /// Returned by `accept()` on a listener that fell back to TCP.
    AcceptedTcp = 4,
    /// Made MPTCP by `socket()`, then TCP by the core shim when MPTCP
    /// refused a socket option the program set before connecting.
    TcpOption = 5,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        match v {
            1 => Some(Kind::Mptcp),
            2 => Some(Kind::TcpFallback),
            3 => Some(Kind::AcceptedMptcp),
            4 => Some(Kind::AcceptedTcp),
            5 => Some(Kind::TcpOption),
            _ => None,
        }
    }
}

struct Entry {
    kind: AtomicU8,
    /// The program shut the sending side down.
    shut_write: AtomicBool,
    max_subflows: AtomicU8,
    /// Family (bits 0-15: 0 none, 4, 6), port (16-31), IPv4 address (32-63).
    peer: AtomicU64,
    /// The IPv6 address, big-endian halves.
    peer6: [AtomicU64; 2],
    /// The most bytes sent and received seen.
    sent: AtomicU64,
    received: AtomicU64,
    /// The socket's inode when it was followed: a number that holds another
    /// file later was closed past the library.
    ino: AtomicU64,
    /// [`crate::atfork::forks`] when it was followed: a fork since then may
    /// have given a child the socket.
    forks: AtomicU32,
}

/// One more than the highest fd ever followed: scans stop there.
static END: AtomicUsize = AtomicUsize::new(0);

/// What [`sample`] saw of a connection while it was open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub max_subflows: u8,
    pub peer: Option<SocketAddr>,
    pub sent: u64,
    pub received: u64,
}

/// The table, FDS entries, mapped by [`allocate`] (zero pages: every
/// entry empty); nothing is followed before.
static TABLE: MapOnce = MapOnce::new(FDS * core::mem::size_of::<Entry>());

/// Maps the table; false if mmap fails, and then nothing is followed.
/// Idempotent.
pub fn allocate() -> bool {
    TABLE.get_or_map(|_| {}).is_some()
}

fn entry(fd: i32) -> Option<&'static Entry> {
    let i = usize::try_from(fd).ok().filter(|&i| i < FDS)?;
    let table = TABLE.get()?.cast::<Entry>();
    // SAFETY: the mapping holds FDS entries (page-aligned, so aligned for
    // Entry), is zero-initialised (all atomics zero: valid), lives for the
    // rest of the process and is only accessed through atomics; `i < FDS`.
    Some(unsafe { &*table.as_ptr().add(i) })
}

fn slot(fd: i32) -> Option<&'static AtomicU8> {
    entry(fd).map(|e| &e.kind)
}

/// What [`track`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracked {
    /// `fd` is followed now.
    Yes,
    /// `fd` is followed now, and was still followed: the socket that had
    /// the number before was closed where the library could not see it.
    Replacing,
    /// `fd` is beyond the table: not followed.
    Beyond,
}

/// Follows `fd`, the socket of inode `ino`, made or accepted now.
pub fn track(fd: i32, kind: Kind, ino: u64) -> Tracked {
    match entry(fd) {
        Some(e) => {
            e.max_subflows.store(0, Ordering::Relaxed);
            e.shut_write.store(false, Ordering::Relaxed);
            e.peer.store(0, Ordering::Relaxed);
            e.sent.store(0, Ordering::Relaxed);
            e.received.store(0, Ordering::Relaxed);
            e.ino.store(ino, Ordering::Relaxed);
            e.forks.store(crate::atfork::forks(), Ordering::Relaxed);
            let before = e.kind.swap(kind as u8, Ordering::Release);
            END.fetch_max(fd as usize + 1, Ordering::Relaxed);
            if before == 0 {
                Tracked::Yes
            } else {
                Tracked::Replacing
            }
        }
        None => Tracked::Beyond,
    }
}

/// Changes what followed `fd` is: the core shim put a TCP socket of inode
/// `ino` at its number.
pub fn retype(fd: i32, kind: Kind, ino: u64) {
    if let Some(e) = entry(fd) {
        e.ino.store(ino, Ordering::Relaxed);
        e.kind.store(kind as u8, Ordering::Release);
    }
}

/// Notes that `fd` held the socket of inode `ino` when the report started
/// (inherited: not followed, and not made past the library either).
pub fn note_inherited(fd: i32, ino: u64) {
    if let Some(e) = entry(fd) {
        e.ino.store(ino, Ordering::Relaxed);
    }
}

/// The inode `fd`'s socket had when it was followed.
pub fn ino(fd: i32) -> u64 {
    entry(fd).map_or(0, |e| e.ino.load(Ordering::Relaxed))
}

/// Whether this process forked since `fd` was followed: a child may hold
/// the socket too.
pub fn forked_since(fd: i32) -> bool {
    entry(fd).is_some_and(|e| e.forks.load(Ordering::Relaxed) != crate::atfork::forks())
}

/// Remembers what an open connection looks like now: the most subflows
/// and bytes seen are kept, and its peer.
pub fn sample(fd: i32, now: Sample) {
    let Some(e) = entry(fd) else { return };
    e.max_subflows
        .fetch_max(now.max_subflows, Ordering::Relaxed);
    e.sent.fetch_max(now.sent, Ordering::Relaxed);
    e.received.fetch_max(now.received, Ordering::Relaxed);
    match now.peer {
        Some(SocketAddr::V4(a)) => e.peer.store(
            4 | u64::from(a.port()) << 16 | u64::from(a.ip().to_bits()) << 32,
            Ordering::Relaxed,
        ),
        Some(SocketAddr::V6(a)) => {
            let bits = a.ip().to_bits();
            e.peer6[0].store((bits >> 64) as u64, Ordering::Relaxed);
            e.peer6[1].store(bits as u64, Ordering::Relaxed);
            e.peer
                .store(6 | u64::from(a.port()) << 16, Ordering::Relaxed);
        }
        None => {}
    }
}

/// Notes that the program shut `fd`'s sending side down.
pub fn mark_shut_write(fd: i32) {
    if let Some(e) = entry(fd) {
        e.shut_write.store(true, Ordering::Relaxed);
    }
}

/// Whether the program shut `fd`'s sending side down.
pub fn shut_write(fd: i32) -> bool {
    entry(fd).is_some_and(|e| e.shut_write.load(Ordering::Relaxed))
}

/// What [`sample`] saw of `fd`.
pub fn sampled(fd: i32) -> Sample {
    let Some(e) = entry(fd) else {
        return Sample::default();
    };
    let word = e.peer.load(Ordering::Relaxed);
    let port = (word >> 16) as u16;
    let peer = match word & 0xffff {
        4 => Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from_bits((word >> 32) as u32),
            port,
        ))),
        6 => {
            let bits = u128::from(e.peer6[0].load(Ordering::Relaxed)) << 64
                | u128::from(e.peer6[1].load(Ordering::Relaxed));
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from_bits(bits),
                port,
                0,
                0,
            )))
        }
        _ => None,
    };
    Sample {
        max_subflows: e.max_subflows.load(Ordering::Relaxed),
        peer,
        sent: e.sent.load(Ordering::Relaxed),
        received: e.received.load(Ordering::Relaxed),
    }
}

/// The followed fds, lowest first, that `pred` accepts.
pub fn find(mut pred: impl FnMut(i32) -> bool) -> Option<i32> {
    let end = END.load(Ordering::Relaxed).min(FDS);
    (0..end as i32).find(|&fd| get(fd).is_some() && pred(fd))
}

/// What `fd` is, without taking it.
pub fn get(fd: i32) -> Option<Kind> {
    slot(fd).and_then(|s| Kind::from_u8(s.load(Ordering::Relaxed)))
}

/// Stops following `fd` and says what it was; only one caller gets it.
pub fn take(fd: i32) -> Option<Kind> {
    slot(fd).and_then(|s| Kind::from_u8(s.swap(0, Ordering::Relaxed)))
}

/// Every followed fd in `first..=last`, in order, left followed.
pub fn followed(first: u32, last: u32) -> impl Iterator<Item = i32> {
    let end = (last as usize + 1)
        .min(END.load(Ordering::Relaxed))
        .min(FDS);
    (first as usize..end.max(first as usize))
        .map(|i| i as i32)
        .filter(|&fd| get(fd).is_some())
}

/// Every followed fd in `first..=last`, taken, in order.
pub fn take_range(first: u32, last: u32) -> impl Iterator<Item = (i32, Kind)> {
    let end = (last as usize + 1)
        .min(END.load(Ordering::Relaxed))
        .min(FDS);
    (first as usize..end.max(first as usize)).filter_map(|i| {
        let fd = i as i32;
        take(fd).map(|k| (fd, k))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_taken_once() {
        assert!(allocate());
        assert_eq!(track(7, Kind::Mptcp, 1), Tracked::Yes);
        assert_eq!(get(7), Some(Kind::Mptcp));
        assert_eq!(take(7), Some(Kind::Mptcp));
        assert_eq!(take(7), None);
        assert_eq!(track(-1, Kind::Mptcp, 1), Tracked::Beyond);
        assert_eq!(track(FDS as i32, Kind::Mptcp, 1), Tracked::Beyond);
        assert_eq!(take(FDS as i32), None);
    }

    #[test]
    fn samples_keep_the_most_subflows_and_the_peer() {
        assert!(allocate());
        track(9, Kind::Mptcp, 2);
        let v4: SocketAddr = "10.1.2.3:4567".parse().unwrap();
        let at = |max_subflows, peer, sent| Sample {
            max_subflows,
            peer,
            sent,
            received: 5,
        };
        sample(9, at(3, Some(v4), 10));
        sample(9, at(1, None, 4));
        assert_eq!(sampled(9), at(3, Some(v4), 10));
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        sample(9, at(2, Some(v6), 11));
        assert_eq!(sampled(9), at(3, Some(v6), 11));
        assert_eq!(track(9, Kind::Mptcp, 3), Tracked::Replacing);
        assert_eq!(sampled(9), Sample::default());
        assert_eq!(ino(9), 3);
    }

    #[test]
    fn ranges_take_only_followed_fds() {
        assert!(allocate());
        track(100, Kind::AcceptedTcp, 4);
        track(102, Kind::TcpFallback, 5);
        let got: Vec<_> = take_range(99, 103).collect();
        assert_eq!(got, [(100, Kind::AcceptedTcp), (102, Kind::TcpFallback)]);
        assert_eq!(take_range(99, 103).count(), 0);
    }
}
