//! Whether a socket is still held by some process once this one closed it:
//! asked of the kernel through sock_diag (`NETLINK_SOCK_DIAG`), one request
//! and one reply on the stack. A socket whose last file is gone is orphaned
//! (`idiag_inode` 0) or gone altogether; one another process (a forked
//! child, or the parent) still holds keeps its inode.
//!
//! What identifies the socket is read before the close ([`identify`]):
//! an MPTCP socket by its token, which the MPTCP diag looks up on its own
//! (`mptcp_diag_dump_one`; a connection that fell back to TCP keeps its
//! token, read from its subflow's ULP info since `MPTCP_INFO` refuses
//! then); a TCP socket by its addresses and `SO_COOKIE`.
//! Checked on Linux 6.18: after the last close, a token's MPTCP socket
//! reads inode 0 (fallen back or not), a TCP socket inode 0 or ENOENT.

use core::ffi::c_int;
use core::mem::{size_of, MaybeUninit};
use core::net::SocketAddr;
use mptcpize_preload::sys::{self, Pod};
use mptcpize_rules::{IPPROTO_MPTCP, IPPROTO_TCP};

/// `NETLINK_SOCK_DIAG` (linux/netlink.h).
const NETLINK_SOCK_DIAG: c_int = 4;
/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLM_F_REQUEST`, `NLMSG_ERROR` (linux/netlink.h).
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
/// `INET_DIAG_REQ_PROTOCOL` (linux/inet_diag.h): the protocol, for those
/// beyond a byte (MPTCP is 262).
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
/// `INET_DIAG_INFO` and `INET_DIAG_ULP_INFO` (linux/inet_diag.h).
const INET_DIAG_INFO: u8 = 2;
const INET_DIAG_ULP_INFO: u16 = 19;
/// `INET_ULP_INFO_MPTCP` (linux/inet_diag.h), and in it
/// `MPTCP_SUBFLOW_ATTR_TOKEN_LOC` (linux/mptcp.h).
const INET_ULP_INFO_MPTCP: u16 = 3;
const MPTCP_SUBFLOW_ATTR_TOKEN_LOC: u16 = 2;
/// `INET_DIAG_NOCOOKIE`: any cookie.
const NO_COOKIE: u32 = !0;

/// What identifies a socket to sock_diag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// An MPTCP socket's token.
    Token(u32),
    /// A TCP socket: its addresses and cookie.
    Tcp {
        local: SocketAddr,
        remote: SocketAddr,
        cookie: u64,
    },
}

#[repr(C)]
#[derive(Clone, Copy)]
struct NlMsgHdr {
    len: u32,
    ty: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

/// `struct inet_diag_sockid`: ports and addresses in network order.
#[repr(C)]
#[derive(Clone, Copy)]
struct SockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

/// A netlink request: `nlmsghdr`, `struct inet_diag_req_v2`, and the
/// `INET_DIAG_REQ_PROTOCOL` attribute (sent for MPTCP only).
#[repr(C)]
#[derive(Clone, Copy)]
struct Request {
    nlh: NlMsgHdr,
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: SockId,
    attr_len: u16,
    attr_type: u16,
    attr_protocol: u32,
}

#[repr(C)]
struct Cookie(u64);
// SAFETY: an integer.
unsafe impl Pod for Cookie {}

/// Where `idiag_inode` is in a reply: after the `nlmsghdr`, `struct
/// inet_diag_msg`'s family, state, timer, retrans, id, expires, rqueue,
/// wqueue and uid.
const INODE_AT: usize = 16 + 4 + size_of::<SockId>() + 16;
/// Where a reply's attributes start: after the whole `inet_diag_msg`.
const ATTRS_AT: usize = INODE_AT + 4;

/// What identifies `fd`'s socket (an MPTCP or TCP connection), read while
/// it is open.
pub fn identify(fd: c_int) -> Option<Identity> {
    let protocol = sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL)?;
    if protocol == IPPROTO_MPTCP {
        // The token needs no peer: a connection reset has none left.
        if let Some(token) = crate::sockinfo::token(fd) {
            return Some(Identity::Token(token));
        }
    }
    let local = sys::local_addr(fd)?;
    let remote = sys::getpeername(fd)?;
    if protocol == IPPROTO_MPTCP {
        return fallback_token(local, remote).map(Identity::Token);
    }
    if protocol != IPPROTO_TCP {
        return None;
    }
    let mut cookie = Cookie(0);
    sys::getsockopt(fd, libc::SOL_SOCKET, libc::SO_COOKIE, &mut cookie)?;
    Some(Identity::Tcp {
        local,
        remote,
        cookie: cookie.0,
    })
}

/// After this process closed its file: `Some(true)` when some process
/// still holds the socket, `Some(false)` when none does (this was the last
/// close), `None` when the kernel cannot tell.
pub fn still_held(id: Identity) -> Option<bool> {
    let mut buf = [MaybeUninit::uninit(); 512];
    let reply = match id {
        Identity::Token(token) => ask(&mptcp_request(token), &mut buf)?,
        Identity::Tcp {
            local,
            remote,
            cookie,
        } => ask(
            &tcp_request(local, remote, [cookie as u32, (cookie >> 32) as u32], 0),
            &mut buf,
        )?,
    };
    match reply {
        Reply::Gone => Some(false),
        Reply::Socket(msg) => Some(u32_at(msg, INODE_AT)? != 0),
    }
}

/// The token of the MPTCP socket whose initial subflow is `local` to
/// `remote` (a connection that fell back: MPTCP_INFO refuses, the
/// subflow's ULP info still says).
fn fallback_token(local: SocketAddr, remote: SocketAddr) -> Option<u32> {
    let mut buf = [MaybeUninit::uninit(); 1024];
    let req = tcp_request(local, remote, [NO_COOKIE; 2], 1 << (INET_DIAG_INFO - 1));
    let Reply::Socket(msg) = ask(&req, &mut buf)? else {
        return None;
    };
    let ulp = attr(msg.get(ATTRS_AT..)?, INET_DIAG_ULP_INFO)?;
    let mptcp = attr(ulp, INET_ULP_INFO_MPTCP)?;
    u32_at(attr(mptcp, MPTCP_SUBFLOW_ATTR_TOKEN_LOC)?, 0)
}

fn header(len: usize) -> NlMsgHdr {
    NlMsgHdr {
        len: len as u32,
        ty: SOCK_DIAG_BY_FAMILY,
        flags: NLM_F_REQUEST,
        seq: 1,
        pid: 0,
    }
}

const NO_ID: SockId = SockId {
    sport: [0; 2],
    dport: [0; 2],
    src: [0; 16],
    dst: [0; 16],
    interface: 0,
    cookie: [0; 2],
};

fn mptcp_request(token: u32) -> Request {
    Request {
        nlh: header(size_of::<Request>()),
        family: libc::AF_INET as u8,
        protocol: IPPROTO_MPTCP as u8,
        ext: 0,
        pad: 0,
        states: !0,
        // mptcp_diag_dump_one looks the token up in idiag_cookie[0].
        id: SockId {
            cookie: [token, 0],
            ..NO_ID
        },
        attr_len: 8,
        attr_type: INET_DIAG_REQ_PROTOCOL,
        attr_protocol: IPPROTO_MPTCP as u32,
    }
}

fn tcp_request(local: SocketAddr, remote: SocketAddr, cookie: [u32; 2], ext: u8) -> Request {
    let family = match local {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    Request {
        // Without the protocol attribute.
        nlh: header(size_of::<Request>() - 8),
        family: family as u8,
        protocol: IPPROTO_TCP as u8,
        ext,
        pad: 0,
        states: !0,
        id: SockId {
            sport: local.port().to_be_bytes(),
            dport: remote.port().to_be_bytes(),
            src: ip_bytes(local),
            dst: ip_bytes(remote),
            interface: 0,
            cookie,
        },
        attr_len: 0,
        attr_type: 0,
        attr_protocol: 0,
    }
}

fn ip_bytes(addr: SocketAddr) -> [u8; 16] {
    match addr {
        SocketAddr::V6(a) => a.ip().octets(),
        SocketAddr::V4(a) => {
            let o = a.ip().octets();
            [o[0], o[1], o[2], o[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        }
    }
}

enum Reply<'a> {
    /// ENOENT: no such socket.
    Gone,
    /// The `SOCK_DIAG_BY_FAMILY` message.
    Socket(&'a [u8]),
}

/// Sends `req` on a fresh sock_diag socket and reads the one reply.
fn ask<'a>(req: &Request, buf: &'a mut [MaybeUninit<u8>]) -> Option<Reply<'a>> {
    let nl = sys::socket(
        libc::AF_NETLINK,
        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
        NETLINK_SOCK_DIAG,
    )
    .ok()?;
    let len = req.nlh.len as usize;
    // SAFETY: a repr(C) struct of integers without padding (checked by
    // the test below), `len` at most its size.
    let bytes = unsafe { core::slice::from_raw_parts((req as *const Request).cast::<u8>(), len) };
    let reply = match sys::send(nl, bytes) {
        Ok(_) => sys::recv(nl, buf).ok(),
        Err(_) => None,
    };
    sys::close(nl);
    let reply = reply?;
    // A reply cut short by the buffer still has its inode.
    let msg_len = u32_at(reply, 0)? as usize;
    let msg = &reply[..msg_len.min(reply.len())];
    match u16_at(msg, 4)? {
        NLMSG_ERROR => match u32_at(msg, 16)? as i32 {
            e if e == -libc::ENOENT => Some(Reply::Gone),
            _ => None,
        },
        SOCK_DIAG_BY_FAMILY if msg.len() >= ATTRS_AT => Some(Reply::Socket(msg)),
        _ => None,
    }
}

/// The payload of the first netlink attribute of `ty` in `attrs`.
fn attr(mut attrs: &[u8], ty: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = usize::from(u16_at(attrs, 0)?);
        if len < 4 {
            return None;
        }
        let payload = attrs.get(4..len)?;
        if u16_at(attrs, 2)? & 0x3fff == ty {
            return Some(payload);
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or(&[]);
    }
    None
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_laid_out_as_linux_reads_them() {
        assert_eq!(size_of::<SockId>(), 48);
        assert_eq!(size_of::<Request>(), 16 + 56 + 8);
        assert_eq!(INODE_AT, 84);
        assert_eq!(ATTRS_AT, 88);
    }

    #[test]
    fn attributes_are_found_by_type() {
        // Two attributes: type 1 (4 bytes), type 19 (nested: type 3, 8 bytes).
        let mut b = vec![8, 0, 1, 0, 1, 2, 3, 4];
        b.extend_from_slice(&[
            16, 0, 19, 0, 12, 0, 3, 0, 8, 0, 2, 0, 0xef, 0xbe, 0xad, 0xde,
        ]);
        let ulp = attr(&b, 19).unwrap();
        let mptcp = attr(ulp, 3).unwrap();
        assert_eq!(u32_at(attr(mptcp, 2).unwrap(), 0), Some(0xdead_beef));
        assert_eq!(attr(&b, 7), None);
    }
}
