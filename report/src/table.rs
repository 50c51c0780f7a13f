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
//! while it was open (at `shutdown()`): the most subflows, the addresses,
//! the token and the joins, which a connection closed by both ends no
//! longer has at `close()`. The subflows themselves (addresses and bytes,
//! 512 bytes a connection) are kept in a small pool of slots (`POOL_SLOTS`
//! connections between their `shutdown()` and their `close()` at once),
//! claimed with a compare-and-swap and given back when the connection is
//! reported, so that the table stays small.

use crate::sockinfo::{Subflow, SUBFLOWS_MAX};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::sync::atomic::{
    AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
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
    /// The highest subflow id seen; 0 when the kernel lists no subflows.
    highest_id: AtomicU8,
    /// The most joins seen not established.
    not_established: AtomicU8,
    /// The pool slot holding the subflows seen, plus one; 0: none.
    pool: AtomicU16,
    /// The local token.
    token: AtomicU32,
    peer: AddrCell,
    local: AddrCell,
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

/// An IPv4 or IPv6 socket address in atomics.
struct AddrCell {
    /// Family (bits 0-15: 0 none, 4, 6), port (16-31), IPv4 address (32-63).
    word: AtomicU64,
    /// The IPv6 address, big-endian halves.
    v6: [AtomicU64; 2],
}

impl AddrCell {
    fn clear(&self) {
        self.word.store(0, Ordering::Relaxed);
    }

    /// Keeps `addr`; `None` leaves what was kept.
    fn store(&self, addr: Option<SocketAddr>) {
        match addr {
            Some(SocketAddr::V4(a)) => self.word.store(
                4 | u64::from(a.port()) << 16 | u64::from(a.ip().to_bits()) << 32,
                Ordering::Relaxed,
            ),
            Some(SocketAddr::V6(a)) => {
                let bits = a.ip().to_bits();
                self.v6[0].store((bits >> 64) as u64, Ordering::Relaxed);
                self.v6[1].store(bits as u64, Ordering::Relaxed);
                self.word
                    .store(6 | u64::from(a.port()) << 16, Ordering::Relaxed);
            }
            None => {}
        }
    }

    fn load(&self) -> Option<SocketAddr> {
        let word = self.word.load(Ordering::Relaxed);
        let port = (word >> 16) as u16;
        match word & 0xffff {
            4 => Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from_bits((word >> 32) as u32),
                port,
            ))),
            6 => {
                let bits = u128::from(self.v6[0].load(Ordering::Relaxed)) << 64
                    | u128::from(self.v6[1].load(Ordering::Relaxed));
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from_bits(bits),
                    port,
                    0,
                    0,
                )))
            }
            _ => None,
        }
    }
}

/// One subflow as a sample saw it.
struct SubflowCell {
    local: AddrCell,
    remote: AddrCell,
    sent: AtomicU64,
    received: AtomicU64,
}

/// The subflows a sample saw of one connection: a slot of [`POOL`],
/// claimed by the fd (plus one) whose connection it holds.
struct PoolSlot {
    owner: AtomicU32,
    listed: AtomicU8,
    subflows: [SubflowCell; SUBFLOWS_MAX],
}

/// Connections whose subflows are kept between `shutdown()` and
/// `close()` at once; beyond, a connection's subflows are the ones
/// `close()` sees.
pub const POOL_SLOTS: usize = 256;

/// The pool, mapped with the table (zero pages: every slot free).
static POOL: MapOnce = MapOnce::new(POOL_SLOTS * core::mem::size_of::<PoolSlot>());

fn pool_slot(i: usize) -> Option<&'static PoolSlot> {
    let pool = POOL.get()?.cast::<PoolSlot>();
    // SAFETY: as in entry(): a zeroed mapping of POOL_SLOTS slots of
    // atomics, aligned, never unmapped; `i < POOL_SLOTS`.
    (i < POOL_SLOTS).then(|| unsafe { &*pool.as_ptr().add(i) })
}

/// One more than the highest fd ever followed: scans stop there.
static END: AtomicUsize = AtomicUsize::new(0);

/// What [`sample`] saw of a connection while it was open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub max_subflows: u8,
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub token: Option<u32>,
    pub sent: u64,
    pub received: u64,
    /// The highest subflow id seen (0: the kernel listed none).
    pub highest_id: u8,
    /// The most joins seen not established.
    pub not_established: u8,
}

/// The table, FDS entries, mapped by [`allocate`] (zero pages: every
/// entry empty); nothing is followed before.
static TABLE: MapOnce = MapOnce::new(FDS * core::mem::size_of::<Entry>());

/// Maps the table and the pool; false if mmap fails, and then nothing is
/// followed. Idempotent.
pub fn allocate() -> bool {
    // Without the pool, subflows are only those close() sees.
    let _ = POOL.get_or_map(|_| {});
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
            release_pool(e);
            e.max_subflows.store(0, Ordering::Relaxed);
            e.shut_write.store(false, Ordering::Relaxed);
            e.highest_id.store(0, Ordering::Relaxed);
            e.not_established.store(0, Ordering::Relaxed);
            e.token.store(0, Ordering::Relaxed);
            e.peer.clear();
            e.local.clear();
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

/// Remembers what an open connection looks like now: the most subflows,
/// bytes and join counts seen are kept, and its addresses and token.
#[inline(never)]
pub fn sample(fd: i32, now: Sample) {
    let Some(e) = entry(fd) else { return };
    e.max_subflows
        .fetch_max(now.max_subflows, Ordering::Relaxed);
    e.sent.fetch_max(now.sent, Ordering::Relaxed);
    e.received.fetch_max(now.received, Ordering::Relaxed);
    e.highest_id.fetch_max(now.highest_id, Ordering::Relaxed);
    e.not_established
        .fetch_max(now.not_established, Ordering::Relaxed);
    if let Some(t) = now.token {
        e.token.store(t, Ordering::Relaxed);
    }
    e.peer.store(now.peer);
    e.local.store(now.local);
}

/// Keeps the subflows a look at `fd`'s connection saw (`None` past the
/// list), in a pool slot claimed for it; nothing when the pool is full.
#[inline(never)]
pub fn sample_subflows(fd: i32, subflows: impl Iterator<Item = Subflow>) {
    let Some(e) = entry(fd) else { return };
    let slot = match e.pool.load(Ordering::Acquire) {
        0 => {
            let owner = fd as u32 + 1;
            let Some(i) = (0..POOL_SLOTS).find(|&i| {
                pool_slot(i).is_some_and(|p| {
                    p.owner
                        .compare_exchange(0, owner, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                })
            }) else {
                return;
            };
            e.pool.store(i as u16 + 1, Ordering::Release);
            i
        }
        n => usize::from(n) - 1,
    };
    let Some(p) = pool_slot(slot) else { return };
    let mut listed = 0u8;
    for (cell, sf) in p.subflows.iter().zip(subflows) {
        cell.local.clear();
        cell.remote.clear();
        cell.local.store(sf.local);
        cell.remote.store(sf.remote);
        cell.sent.store(sf.bytes_sent, Ordering::Relaxed);
        cell.received.store(sf.bytes_received, Ordering::Relaxed);
        listed += 1;
    }
    p.listed.store(listed, Ordering::Release);
}

/// The subflows kept for `fd` (none when no look listed them), into
/// `out`; how many.
#[inline(never)]
pub fn sampled_subflows(fd: i32, out: &mut [Subflow; SUBFLOWS_MAX]) -> usize {
    let Some(p) = entry(fd)
        .map(|e| e.pool.load(Ordering::Acquire))
        .filter(|&n| n != 0)
        .and_then(|n| pool_slot(usize::from(n) - 1))
    else {
        return 0;
    };
    let listed = usize::from(p.listed.load(Ordering::Acquire)).min(SUBFLOWS_MAX);
    for (o, cell) in out.iter_mut().zip(p.subflows.iter()).take(listed) {
        *o = Subflow {
            local: cell.local.load(),
            remote: cell.remote.load(),
            bytes_sent: cell.sent.load(Ordering::Relaxed),
            bytes_received: cell.received.load(Ordering::Relaxed),
        };
    }
    listed
}

/// Gives `e`'s pool slot back.
fn release_pool(e: &Entry) {
    let n = e.pool.swap(0, Ordering::AcqRel);
    if let Some(p) = n.checked_sub(1).and_then(|i| pool_slot(usize::from(i))) {
        p.listed.store(0, Ordering::Relaxed);
        p.owner.store(0, Ordering::Release);
    }
}

/// Gives back what `fd` held beyond its entry, once reported.
pub fn release(fd: i32) {
    if let Some(e) = entry(fd) {
        release_pool(e);
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
#[inline(never)]
pub fn sampled(fd: i32) -> Sample {
    let Some(e) = entry(fd) else {
        return Sample::default();
    };
    Sample {
        max_subflows: e.max_subflows.load(Ordering::Relaxed),
        peer: e.peer.load(),
        local: e.local.load(),
        token: Some(e.token.load(Ordering::Relaxed)).filter(|&t| t != 0),
        sent: e.sent.load(Ordering::Relaxed),
        received: e.received.load(Ordering::Relaxed),
        highest_id: e.highest_id.load(Ordering::Relaxed),
        not_established: e.not_established.load(Ordering::Relaxed),
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
            ..Sample::default()
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
    fn subflows_are_kept_in_a_pool_slot_until_released() {
        assert!(allocate());
        track(11, Kind::Mptcp, 0);
        let sf = |port: u16, sent| Subflow {
            local: Some(SocketAddr::from(([10, 0, 0, 1], port))),
            remote: Some("[2001:db8::2]:80".parse().unwrap()),
            bytes_sent: sent,
            bytes_received: 1,
        };
        let mut out = [Subflow::default(); SUBFLOWS_MAX];
        assert_eq!(sampled_subflows(11, &mut out), 0);
        sample_subflows(11, [sf(1, 10), sf(2, 20)].into_iter());
        assert_eq!(sampled_subflows(11, &mut out), 2);
        assert_eq!(out[..2], [sf(1, 10), sf(2, 20)]);
        // A later look replaces the list, in the same slot.
        sample_subflows(11, [sf(3, 30)].into_iter());
        assert_eq!(sampled_subflows(11, &mut out), 1);
        assert_eq!(out[0], sf(3, 30));
        release(11);
        assert_eq!(sampled_subflows(11, &mut out), 0);
        // Every slot can be claimed, and a full pool keeps nothing more.
        for fd in 1000..1000 + POOL_SLOTS as i32 {
            track(fd, Kind::Mptcp, 0);
            sample_subflows(fd, [sf(4, 1)].into_iter());
        }
        track(2000, Kind::Mptcp, 0);
        sample_subflows(2000, [sf(4, 1)].into_iter());
        assert_eq!(sampled_subflows(2000, &mut out), 0);
        release(1000);
        sample_subflows(2000, [sf(5, 1)].into_iter());
        assert_eq!(sampled_subflows(2000, &mut out), 1);
        for fd in 1001..1000 + POOL_SLOTS as i32 {
            release(fd);
        }
        release(2000);
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
