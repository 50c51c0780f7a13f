//! The kernel's view of MPTCP, through sock_diag (`NETLINK_SOCK_DIAG`), as
//! `ss -Mi` and `ss -ti` read it (iproute2's misc/ss.c): one dump of the
//! MPTCP sockets (their `INET_DIAG_INFO` is a `struct mptcp_info`) and one
//! of the TCP sockets, of which the subflows are those whose ULP is MPTCP.
//! Both address families; the current network namespace only.

use super::kinfo::{MptcpInfo, SubflowUlp, TcpInfo};
use super::netlink::{u32_attr, Netlink};
use netlink_packet_core::Nla as _;
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags,
};
use netlink_packet_sock_diag::{SockDiagMessage, AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use std::io;
use std::net::SocketAddr;

/// `IPPROTO_MPTCP`: it does not fit the request's one-byte protocol field,
/// so it goes in an `INET_DIAG_REQ_PROTOCOL` attribute (as ss sends it).
const IPPROTO_MPTCP: u32 = 262;
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
/// `INET_DIAG_ULP_INFO` (linux/inet_diag.h): not among the crate's attributes.
const INET_DIAG_ULP_INFO: u16 = 19;
/// `TCP_LISTEN`.
pub const TCP_LISTEN: u8 = 10;

/// One MPTCP socket: the connection as the program sees it.
#[derive(Clone, Debug)]
pub struct MptcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
    /// The inode of the socket's file: what /proc/PID/fd links name.
    pub inode: u32,
    pub info: MptcpInfo,
}

/// One TCP subflow of an MPTCP connection.
#[derive(Clone, Debug)]
pub struct Subflow {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
    /// The device the subflow is bound to, when it is (0 when not).
    pub bound_if: u32,
    pub tcp: TcpInfo,
    pub ulp: SubflowUlp,
}

/// The sock_diag socket of a `top` session.
pub struct Diag(Netlink);

impl Diag {
    pub fn open() -> io::Result<Diag> {
        Netlink::open(NETLINK_SOCK_DIAG).map(Diag)
    }

    /// Every MPTCP socket (listeners included) of the namespace.
    pub fn mptcp_sockets(&mut self) -> io::Result<Vec<MptcpSocket>> {
        let mut out = Vec::new();
        let attr = u32_attr(INET_DIAG_REQ_PROTOCOL, IPPROTO_MPTCP);
        for family in [AF_INET, AF_INET6] {
            self.dump(family, IPPROTO_TCP, &attr, |r| {
                let info = info_attr(&r).map(MptcpInfo::parse).unwrap_or_default();
                let (local, remote) = addresses(&r.header.socket_id);
                out.push(MptcpSocket {
                    local,
                    remote,
                    state: r.header.state,
                    inode: r.header.inode,
                    info,
                });
            })?;
        }
        Ok(out)
    }

    /// Every MPTCP subflow of the namespace.
    pub fn subflows(&mut self) -> io::Result<Vec<Subflow>> {
        let mut out = Vec::new();
        for family in [AF_INET, AF_INET6] {
            self.dump(family, IPPROTO_TCP, &[], |r| {
                let Some(ulp) = r.nlas.iter().find_map(|n| match n {
                    Nla::Other(a) if a.kind() & 0x3fff == INET_DIAG_ULP_INFO => {
                        let mut v = vec![0; a.value_len()];
                        a.emit_value(&mut v);
                        SubflowUlp::parse(&v)
                    }
                    _ => None,
                }) else {
                    return;
                };
                let (local, remote) = addresses(&r.header.socket_id);
                out.push(Subflow {
                    local,
                    remote,
                    state: r.header.state,
                    bound_if: r.header.socket_id.interface_id,
                    tcp: info_attr(&r).map(TcpInfo::parse).unwrap_or_default(),
                    ulp,
                });
            })?;
        }
        Ok(out)
    }

    fn dump(
        &mut self,
        family: u8,
        protocol: u8,
        attrs: &[u8],
        mut each: impl FnMut(InetResponse),
    ) -> io::Result<()> {
        let request = SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            // INET_DIAG_INFO brings the ULP information along.
            extensions: ExtensionFlags::INFO,
            states: StateFlags::all(),
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        });
        self.0.dump(request, attrs, |m| {
            if let SockDiagMessage::InetResponse(r) = m {
                each(*r)
            }
        })
    }
}

/// The `INET_DIAG_INFO` bytes: a `mptcp_info` or a `tcp_info`.
fn info_attr(r: &InetResponse) -> Option<&[u8]> {
    r.nlas.iter().find_map(|n| match n {
        Nla::TcpInfo(bytes) => Some(bytes.as_slice()),
        _ => None,
    })
}

/// The socket's two ends, IPv4-mapped IPv6 addresses shown as IPv4 (as ss
/// shows them).
fn addresses(id: &SocketId) -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::new(id.source_address.to_canonical(), id.source_port),
        SocketAddr::new(id.destination_address.to_canonical(), id.destination_port),
    )
}
