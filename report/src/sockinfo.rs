//! What the kernel says about one connection, asked with getsockopt(2) just
//! before it is closed: whether MPTCP was negotiated with the peer or the
//! connection fell back to TCP, its subflows, and the bytes it moved.
//!
//! MPTCP sockets answer `SOL_MPTCP`/`MPTCP_INFO` (data-level byte counts,
//! Linux 6.5+); a connection that fell back answers `TCP_IS_MPTCP` with 0
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
struct MptcpInfo {
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

/// What became of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// MPTCP with the peer.
    Mptcp,
    /// An MPTCP socket whose connection fell back to TCP (the peer, or a
    /// middlebox, did not speak MPTCP).
    FellBack,
    /// A TCP socket.
    Tcp,
}

/// One connection, as it stands.
#[derive(Clone, Copy, Debug)]
pub struct Connection {
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
}

/// What the socket behind `fd` is now.
pub enum Socket {
    /// A listener, or a socket that never got connected.
    NotAConnection,
    Connection(Connection),
}

fn getsockopt<T: Pod>(fd: c_int, level: c_int, name: c_int, value: &mut T) -> Option<usize> {
    sys::getsockopt(fd, level, name, value)
}

fn int_opt(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    sys::getsockopt_int(fd, level, name)
}

/// Looks at the connection behind `fd` (an MPTCP or TCP socket);
/// `shut_write` says whether the program shut its sending side down (the
/// DATA_FIN then takes one data sequence number, which is no byte).
pub fn inspect(fd: c_int, shut_write: bool) -> Socket {
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
        let subflows = established_subflows(fd).unwrap_or_else(|| {
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
    // ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING:
    // the handshake completed.
    let established = req
        .entries
        .iter()
        .take(listed)
        .filter(|e| matches!(e[0], 1 | 4 | 5 | 8 | 9 | 11))
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

#[cfg(test)]
mod tests {
    use super::*;

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
