//! What the kernel says about one connection, asked with getsockopt(2) just
//! before it is closed: whether MPTCP was negotiated with the peer or the
//! connection fell back to TCP, its subflows, and the bytes it moved.
//!
//! MPTCP sockets answer `SOL_MPTCP`/`MPTCP_FULL_INFO` (Linux 6.5+: the
//! `mptcp_info` with data-level byte counts and the token, and each
//! subflow's addresses, id and `tcp_info`), or on older kernels
//! `MPTCP_INFO` and `MPTCP_TCPINFO`; a connection that fell back answers `TCP_IS_MPTCP` with 0
//! and, like a plain TCP socket, `TCP_INFO`. Everything here is a plain
//! syscall on a stack buffer.

use core::ffi::c_int;
use core::mem::MaybeUninit;
use mptcpize_preload::sys::{self, Pod};

/// `SOL_MPTCP` (linux/socket.h).
const SOL_MPTCP: c_int = 284;
/// `MPTCP_INFO` (linux/mptcp.h).
const MPTCP_INFO: c_int = 1;
/// `TCP_IS_MPTCP` (linux/tcp.h, Linux 5.16+).
const TCP_IS_MPTCP: c_int = 43;
/// `MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED`: the peer answered MP_CAPABLE.
const FLAG_REMOTE_KEY_RECEIVED: u32 = 1 << 1;

// SAFETY: a C struct of integers and arrays of them.
unsafe impl Pod for MptcpInfo {}

/// `struct mptcp_info` as of Linux 6.10 (linux/mptcp.h); older kernels fill
/// a prefix of it and say how much.
#[repr(C)]
#[derive(Default)]
pub struct MptcpInfo {
    subflows: u8,
    add_addr_signal: u8,
    add_addr_accepted: u8,
    subflows_max: u8,
    add_addr_signal_max: u8,
    add_addr_accepted_max: u8,
    flags: u32,
    token: u32,
    write_seq: u64,
    snd_una: u64,
    rcv_nxt: u64,
    local_addr_used: u8,
    local_addr_max: u8,
    csum_enabled: u8,
    retransmits: u32,
    bytes_retrans: u64,
    bytes_sent: u64,
    bytes_received: u64,
    bytes_acked: u64,
    subflows_total: u8,
    reserved: [u8; 3],
    last_data_sent: u32,
    last_data_recv: u32,
    last_ack_recv: u32,
}

pub use mptcpize_rules::report::{Outcome, Subflow};

/// Subflows whose addresses and bytes are read (`MPTCP_FULL_INFO`); a
/// connection with more lists its first ones.
pub const SUBFLOWS_MAX: usize = 8;

/// `MPTCP_FULL_INFO` (linux/mptcp.h).
const MPTCP_FULL_INFO: c_int = 4;

/// `struct mptcp_subflow_info`: an id and `struct mptcp_subflow_addrs`
/// (two 128-byte `__kernel_sockaddr_storage`).
#[repr(C)]
struct SubflowInfo {
    id: u32,
    local: libc::sockaddr_storage,
    remote: libc::sockaddr_storage,
}

/// A connection's subflows at one look, as `MPTCP_FULL_INFO` (Linux 6.5+)
/// lists them: `struct mptcp_full_info` and the two arrays it points to,
/// in one place on the caller's stack (zeroed with [`sys::zeroed`]: no
/// `memset`).
#[repr(C)]
pub struct FullInfo {
    size_tcpinfo_kernel: u32,
    size_tcpinfo_user: u32,
    size_sfinfo_kernel: u32,
    size_sfinfo_user: u32,
    num_subflows: u32,
    size_arrays_user: u32,
    subflow_info: u64,
    tcp_info: u64,
    mptcp_info: MptcpInfo,
    subflows: [SubflowInfo; SUBFLOWS_MAX],
    tcp: [libc::tcp_info; SUBFLOWS_MAX],
}

// SAFETY: C structs of integers and arrays of them.
unsafe impl Pod for FullInfo {}

const SYN_SENT: u8 = 2;
const SYN_RECV: u8 = 3;

/// ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING: the
/// handshake completed, and the subflow is not closed.
fn is_established(state: u8) -> bool {
    matches!(state, 1 | 4 | 5 | 8 | 9 | 11)
}

impl FullInfo {
    /// Asks the kernel about `fd` (an MPTCP connection); `None` when it
    /// cannot tell (before Linux 6.5). `self` must be zeroed.
    fn ask(&mut self, fd: c_int) -> Option<&FullInfo> {
        self.size_tcpinfo_user = core::mem::size_of::<libc::tcp_info>() as u32;
        self.size_sfinfo_user = core::mem::size_of::<SubflowInfo>() as u32;
        self.size_arrays_user = SUBFLOWS_MAX as u32;
        self.subflow_info = self.subflows.as_mut_ptr() as u64;
        self.tcp_info = self.tcp.as_mut_ptr() as u64;
        // Only the header and mptcp_info are passed as the option: the
        // kernel writes the arrays through the pointers.
        let len = core::mem::offset_of!(FullInfo, subflows);
        sys::getsockopt_prefix(fd, SOL_MPTCP, MPTCP_FULL_INFO, self, len)?;
        Some(self)
    }

    /// The subflows listed (at most [`SUBFLOWS_MAX`]).
    pub fn listed(&self) -> usize {
        (self.num_subflows as usize).min(SUBFLOWS_MAX)
    }

    fn each(&self) -> impl Iterator<Item = (&SubflowInfo, &libc::tcp_info)> {
        self.subflows
            .iter()
            .zip(self.tcp.iter())
            .take(self.listed())
    }

    /// The subflows still there: their addresses and bytes (sent once,
    /// and received). A subflow the kernel has torn down (closed, its
    /// addresses cleared: remote port 0) is left out.
    pub fn subflows(&self) -> impl Iterator<Item = Subflow> + '_ {
        self.each()
            .filter(|(s, _)| !torn_down(s))
            .map(|(s, t)| subflow(s, t))
    }

    /// The highest subflow id: the kernel numbers a connection's subflows
    /// from 1 (the initial one) as they are made: its own joins when it
    /// starts them, the peer's once their handshake completes.
    #[inline(never)]
    pub fn highest_id(&self) -> u8 {
        self.each()
            .map(|(s, _)| s.id.min(255) as u8)
            .max()
            .unwrap_or(0)
    }

    /// Joins listed that never completed their handshake: still in
    /// SYN-SENT or SYN-RECV, or closed without a byte acknowledged or
    /// received.
    #[inline(never)]
    pub fn not_established(&self) -> u8 {
        self.each()
            .filter(|(s, t)| {
                s.id > 1
                    && !is_established(t.tcpi_state)
                    && (matches!(t.tcpi_state, SYN_SENT | SYN_RECV)
                        || !torn_down(s) && t.tcpi_bytes_acked == 0 && t.tcpi_bytes_received == 0)
            })
            .count() as u8
    }

    /// Subflows established now; `None` when not all are listed.
    fn established(&self) -> Option<u8> {
        (self.num_subflows as usize <= SUBFLOWS_MAX).then(|| {
            self.each()
                .filter(|(_, t)| is_established(t.tcpi_state))
                .count() as u8
        })
    }
}

/// True when the kernel has cleared a subflow's addresses (it is closed).
fn torn_down(s: &SubflowInfo) -> bool {
    !matches!(sys::socket_addr(&s.remote), Some(a) if a.port() != 0)
}

/// One subflow's addresses and bytes.
#[inline(never)]
fn subflow(s: &SubflowInfo, t: &libc::tcp_info) -> Subflow {
    Subflow {
        local: sys::socket_addr(&s.local),
        remote: sys::socket_addr(&s.remote),
        bytes_sent: t.tcpi_bytes_sent.saturating_sub(t.tcpi_bytes_retrans),
        // The kernel counts the peer's FIN as one byte received: the
        // states after it, and CLOSE, where a subflow closed by both ends
        // is (a reset one is then one byte short).
        bytes_received: t.tcpi_bytes_received.saturating_sub(u64::from(
            matches!(t.tcpi_state, 6..=9 | 11) && t.tcpi_bytes_received > 0,
        )),
    }
}

/// One connection, as it stands.
#[derive(Clone, Copy)]
pub struct Connection<'a> {
    pub outcome: Outcome,
    /// Subflows in use now, the initial one included (1 for TCP).
    pub subflows: u8,
    /// Bytes the program wrote: sent once (retransmissions not counted)
    /// or still queued to be sent.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// False when the kernel had already dropped the byte counts (a
    /// connection that fell back and was closed by both ends).
    pub counted: bool,
    /// The local token (`mptcp_info.token`, as `ss -Mi` prints it).
    pub token: Option<u32>,
    /// The subflows, when the kernel lists them (MPTCP, Linux 6.5+).
    pub full: Option<&'a FullInfo>,
}

/// What the socket behind `fd` is now.
pub enum Socket<'a> {
    /// A listener, or a socket that never got connected.
    NotAConnection,
    Connection(Connection<'a>),
}

fn getsockopt<T: Pod>(fd: c_int, level: c_int, name: c_int, value: &mut T) -> Option<usize> {
    sys::getsockopt(fd, level, name, value)
}

fn int_opt(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    sys::getsockopt_int(fd, level, name)
}

/// Looks at the connection behind `fd` (an MPTCP or TCP socket);
/// `shut_write` says whether the program shut its sending side down (the
/// DATA_FIN then takes one data sequence number, which is no byte). An
/// MPTCP connection's subflows are listed in `slot` when the kernel can
/// (`Connection::full`); it is only written (4 KiB) for a connection.
pub fn inspect(fd: c_int, shut_write: bool, slot: &mut MaybeUninit<FullInfo>) -> Socket<'_> {
    if int_opt(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Some(1) {
        return Socket::NotAConnection;
    }
    let protocol = int_opt(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL);
    let is_mptcp = int_opt(fd, libc::IPPROTO_TCP, TCP_IS_MPTCP);
    if protocol == Some(mptcpize_rules::IPPROTO_MPTCP) && is_mptcp == Some(1) {
        let mut info = MptcpInfo::default();
        let Some(len) = getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &mut info) else {
            return Socket::NotAConnection;
        };
        if info.flags & FLAG_REMOTE_KEY_RECEIVED == 0 {
            return Socket::NotAConnection;
        }
        // The subflows that are up. The path manager's own count is only a
        // fallback for old kernels: it includes joins still in SYN-SENT,
        // and a server's in-kernel PM does not count the joins it accepts.
        let full: &mut FullInfo = sys::zeroed(slot);
        let full = full.ask(fd);
        let subflows = full
            .and_then(FullInfo::established)
            .or_else(|| established_subflows(fd))
            .unwrap_or_else(|| {
                if len > core::mem::offset_of!(MptcpInfo, subflows_total) {
                    info.subflows_total
                } else {
                    info.subflows.saturating_add(1)
                }
            });
        return Socket::Connection(Connection {
            outcome: Outcome::Mptcp,
            subflows,
            // Acknowledged, plus written but not acknowledged yet.
            bytes_sent: (info.bytes_acked + info.write_seq.wrapping_sub(info.snd_una))
                .saturating_sub(u64::from(shut_write)),
            bytes_received: info.bytes_received,
            counted: true,
            token: (info.token != 0).then_some(info.token),
            full,
        });
    }
    // A TCP socket, or an MPTCP one that fell back: TCP_INFO answers, with
    // zeros once a fallen-back connection was closed by both ends.
    let fell_back = protocol == Some(mptcpize_rules::IPPROTO_MPTCP) && is_mptcp == Some(0);
    let mut tcp = MaybeUninit::uninit();
    let tcp: &mut libc::tcp_info = sys::zeroed(&mut tcp);
    let have_info = getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, tcp).is_some();
    // The peer acknowledged our SYN (or SYN-ACK): it was connected once.
    // A fallback happens only on a connection.
    if !fell_back && (!have_info || tcp.tcpi_bytes_acked == 0) {
        return Socket::NotAConnection;
    }
    Socket::Connection(Connection {
        outcome: if fell_back {
            Outcome::FellBack
        } else {
            Outcome::Tcp
        },
        subflows: 1,
        // Written but not sent yet; a FIN the program queued with
        // shutdown() takes one sequence number there, and is no byte (it
        // goes last, so it is still queued while anything is).
        bytes_sent: tcp.tcpi_bytes_sent.saturating_sub(tcp.tcpi_bytes_retrans)
            + u64::from(
                tcp.tcpi_notsent_bytes
                    .saturating_sub(u32::from(shut_write && tcp.tcpi_notsent_bytes > 0)),
            ),
        // The kernel counts the peer's FIN as one byte received.
        bytes_received: tcp
            .tcpi_bytes_received
            .saturating_sub(u64::from(fin_received(fd, tcp.tcpi_state))),
        counted: have_info && tcp.tcpi_bytes_acked != 0,
        token: None,
        full: None,
    })
}

/// How many of the connection's subflows got established (and are not
/// closed yet): `MPTCP_TCPINFO` lists each subflow's `tcp_info`, of which
/// only the state byte is asked for. A join that is still (or forever) in
/// SYN-SENT is not a path in use. `None` before Linux 5.16.
fn established_subflows(fd: c_int) -> Option<u8> {
    /// `MPTCP_TCPINFO` (linux/mptcp.h, Linux 5.16+).
    const MPTCP_TCPINFO: c_int = 2;
    /// Subflows whose state is read; more are counted as the kernel lists
    /// them only when they fit here.
    const MAX: usize = 32;
    /// Bytes of each subflow's tcp_info asked for: `tcpi_state` is byte 0.
    const ENTRY: usize = 8;
    /// `struct mptcp_subflow_data`, then MAX truncated tcp_info entries.
    #[repr(C)]
    struct Request {
        size_subflow_data: u32,
        num_subflows: u32,
        size_kernel: u32,
        size_user: u32,
        entries: [[u8; ENTRY]; MAX],
    }
    // SAFETY: a C struct of integers and byte arrays.
    unsafe impl Pod for Request {}
    let mut req = MaybeUninit::uninit();
    let req: &mut Request = sys::zeroed(&mut req);
    req.size_subflow_data = 16;
    req.size_user = ENTRY as u32;
    getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, req)?;
    let listed = (req.num_subflows as usize).min(MAX);
    let established = req
        .entries
        .iter()
        .take(listed)
        .filter(|e| is_established(e[0]))
        .count();
    Some(established as u8)
}

/// True when the peer's FIN arrived: the states after it, or a closed
/// socket that polls as read-hung-up without an error (a reset whose error
/// the program already read looks the same, and is off by one).
fn fin_received(fd: c_int, state: u8) -> bool {
    const TIME_WAIT: u8 = 6;
    const CLOSE: u8 = 7;
    const CLOSE_WAIT: u8 = 8;
    const LAST_ACK: u8 = 9;
    const CLOSING: u8 = 11;
    match state {
        TIME_WAIT | CLOSE_WAIT | LAST_ACK | CLOSING => true,
        CLOSE => sys::poll_now(fd, libc::POLLRDHUP)
            .is_some_and(|r| r & libc::POLLRDHUP != 0 && r & libc::POLLERR == 0),
        _ => false,
    }
}

/// The MPTCP connection's token (as `ss -Mi` prints it), while it has not
/// fallen back to TCP (then `MPTCP_INFO` refuses).
pub fn token(fd: c_int) -> Option<u32> {
    let mut info = MptcpInfo::default();
    getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &mut info)?;
    Some(info.token)
}

/// True when `fd` is an MPTCP socket (also after a fallback to TCP) or a
/// TCP socket.
pub fn is_mptcp_or_tcp(fd: c_int) -> bool {
    matches!(
        int_opt(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL),
        Some(mptcpize_rules::IPPROTO_MPTCP | mptcpize_rules::IPPROTO_TCP)
    )
}

/// The socket's identity (device and inode), shared by its duplicates.
pub fn identity(fd: c_int) -> Option<(u64, u64)> {
    sys::fstat(fd)
        .ok()
        .filter(|id| id.kind == libc::S_IFSOCK)
        .map(|id| (id.dev, id.ino))
}

/// The peer's address, when the socket still has one.
pub fn peer(fd: c_int) -> Option<core::net::SocketAddr> {
    sys::getpeername(fd)
}

/// The local address, when the socket still has one (not `0.0.0.0:0`).
pub fn local(fd: c_int) -> Option<core::net::SocketAddr> {
    sys::getsockname(fd)
        .and_then(|raw| sys::socket_addr(&raw.storage))
        .filter(|a| a.port() != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_info_layout_matches_linux() {
        // struct mptcp_subflow_info: __u32 id, then two 128-byte,
        // 8-aligned __kernel_sockaddr_storage.
        assert_eq!(core::mem::size_of::<libc::sockaddr_storage>(), 128);
        assert_eq!(core::mem::align_of::<libc::sockaddr_storage>(), 8);
    }

    #[test]
    fn mptcp_info_layout_matches_linux() {
        assert_eq!(core::mem::offset_of!(MptcpInfo, flags), 8);
        assert_eq!(core::mem::offset_of!(MptcpInfo, local_addr_used), 40);
        assert_eq!(core::mem::offset_of!(MptcpInfo, retransmits), 44);
        assert_eq!(core::mem::offset_of!(MptcpInfo, bytes_sent), 56);
        assert_eq!(core::mem::offset_of!(MptcpInfo, bytes_received), 64);
        assert_eq!(core::mem::offset_of!(MptcpInfo, subflows_total), 80);
        assert_eq!(core::mem::size_of::<MptcpInfo>(), 96);
    }
}
