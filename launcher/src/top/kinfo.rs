//! The kernel's per-socket structures, read from sock_diag attributes by
//! offset: `struct mptcp_info` (an MPTCP socket's `INET_DIAG_INFO`),
//! `struct tcp_info` (a subflow's), and the MPTCP subflow attributes nested
//! in a subflow's `INET_DIAG_ULP_INFO`. Older kernels send shorter
//! structures: a field past the end reads as absent (`None`) or zero.
//! Offsets are those of linux/mptcp.h and linux/tcp.h (Linux 6.10), which
//! only ever grow at the end.

use netlink_packet_core::NlasIterator;

fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// `MPTCP_INFO_FLAG_FALLBACK`: the connection fell back to TCP.
const MPTCP_INFO_FLAG_FALLBACK: u32 = 1 << 0;

/// What `top` uses of `struct mptcp_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MptcpInfo {
    /// Extra subflows now (what `ss -Mi` prints as `subflows:`).
    pub extra_subflows: u8,
    pub subflows_max: u8,
    pub fallback: bool,
    /// The local token, as `ss -Mi` prints it (`token:%x`).
    pub token: u32,
    /// Data-level byte counts (Linux 6.5+).
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
    pub bytes_acked: Option<u64>,
    pub bytes_retrans: Option<u64>,
}

impl MptcpInfo {
    pub fn parse(b: &[u8]) -> MptcpInfo {
        MptcpInfo {
            extra_subflows: u8_at(b, 0).unwrap_or(0),
            subflows_max: u8_at(b, 3).unwrap_or(0),
            fallback: u32_at(b, 8).unwrap_or(0) & MPTCP_INFO_FLAG_FALLBACK != 0,
            token: u32_at(b, 12).unwrap_or(0),
            bytes_retrans: u64_at(b, 48),
            bytes_sent: u64_at(b, 56),
            bytes_received: u64_at(b, 64),
            bytes_acked: u64_at(b, 72),
        }
    }
}

/// `TCP_CA_Loss`: the sender is in retransmission-timeout recovery.
pub const TCP_CA_LOSS: u8 = 4;

/// What `top` uses of `struct tcp_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub ca_state: u8,
    /// Retransmission timeouts in a row (exponential backoff).
    pub backoff: u8,
    /// Smoothed round-trip time, in microseconds.
    pub rtt_us: u32,
    pub total_retrans: u32,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    /// Bytes sent, retransmissions included (Linux 4.19+).
    pub bytes_sent: Option<u64>,
}

impl TcpInfo {
    pub fn parse(b: &[u8]) -> TcpInfo {
        TcpInfo {
            ca_state: u8_at(b, 1).unwrap_or(0),
            backoff: u8_at(b, 4).unwrap_or(0),
            rtt_us: u32_at(b, 68).unwrap_or(0),
            total_retrans: u32_at(b, 100).unwrap_or(0),
            bytes_acked: u64_at(b, 120).unwrap_or(0),
            bytes_received: u64_at(b, 128).unwrap_or(0),
            bytes_sent: u64_at(b, 200),
        }
    }
}

/// `INET_ULP_INFO_NAME` and `INET_ULP_INFO_MPTCP` (linux/inet_diag.h).
const INET_ULP_INFO_NAME: u16 = 1;
const INET_ULP_INFO_MPTCP: u16 = 3;
/// `MPTCP_SUBFLOW_ATTR_*` (linux/mptcp.h).
const ATTR_TOKEN_REM: u16 = 1;
const ATTR_TOKEN_LOC: u16 = 2;
const ATTR_FLAGS: u16 = 8;
const ATTR_ID_REM: u16 = 9;
const ATTR_ID_LOC: u16 = 10;
/// `NLA_TYPE_MASK`: an attribute's type without the nested/byte-order bits.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// `MPTCP_SUBFLOW_FLAG_*` (linux/mptcp.h), with the words `top` shows.
pub const SUBFLOW_FLAGS: [(u32, &str); 9] = [
    (1 << 0, "mp_capable_remote"),
    (1 << 1, "mp_capable"),
    (1 << 2, "join_remote"),
    (1 << 3, "join"),
    (1 << 4, "backup_remote"),
    (1 << 5, "backup"),
    (1 << 6, "fully_established"),
    (1 << 7, "connected"),
    (1 << 8, "map_valid"),
];

/// The MPTCP side of a subflow, from its `INET_DIAG_ULP_INFO`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubflowUlp {
    /// The connection's local token: the subflow belongs to the MPTCP
    /// socket whose `mptcp_info` has this token.
    pub token_local: u32,
    pub token_remote: u32,
    pub flags: u32,
    pub id_local: u8,
    pub id_remote: u8,
}

impl SubflowUlp {
    /// Reads a TCP socket's ULP attribute: `None` unless its ULP is MPTCP
    /// (the socket is an MPTCP subflow).
    pub fn parse(ulp_info: &[u8]) -> Option<SubflowUlp> {
        let mut is_mptcp = false;
        let mut sf = SubflowUlp::default();
        for attr in NlasIterator::new(ulp_info).flatten() {
            match attr.kind() & NLA_TYPE_MASK {
                INET_ULP_INFO_NAME => is_mptcp = attr.value().starts_with(b"mptcp\0"),
                INET_ULP_INFO_MPTCP => {
                    for a in NlasIterator::new(attr.value()).flatten() {
                        let v = a.value();
                        match a.kind() & NLA_TYPE_MASK {
                            ATTR_TOKEN_REM => sf.token_remote = u32_at(v, 0).unwrap_or(0),
                            ATTR_TOKEN_LOC => sf.token_local = u32_at(v, 0).unwrap_or(0),
                            ATTR_FLAGS => sf.flags = u32_at(v, 0).unwrap_or(0),
                            ATTR_ID_REM => sf.id_remote = u8_at(v, 0).unwrap_or(0),
                            ATTR_ID_LOC => sf.id_local = u8_at(v, 0).unwrap_or(0),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        is_mptcp.then_some(sf)
    }

    /// The names of the flags that are set.
    pub fn flag_names(&self) -> Vec<&'static str> {
        SUBFLOW_FLAGS
            .iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|&(_, name)| name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut a = (len as u16).to_ne_bytes().to_vec();
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        a.resize(len.next_multiple_of(4), 0);
        a
    }

    #[test]
    fn reads_a_subflow_ulp_attribute() {
        let inner = [
            attr(ATTR_TOKEN_LOC, &0x1a2b3c4du32.to_ne_bytes()),
            attr(ATTR_FLAGS, &((1u32 << 3) | (1 << 5)).to_ne_bytes()),
            attr(ATTR_ID_LOC, &[2]),
        ]
        .concat();
        let ulp = [
            attr(INET_ULP_INFO_NAME, b"mptcp\0"),
            attr(INET_ULP_INFO_MPTCP | 0x8000, &inner),
        ]
        .concat();
        let sf = SubflowUlp::parse(&ulp).unwrap();
        assert_eq!(sf.token_local, 0x1a2b3c4d);
        assert_eq!(sf.id_local, 2);
        assert_eq!(sf.flag_names(), ["join", "backup"]);
        assert_eq!(SubflowUlp::parse(&attr(INET_ULP_INFO_NAME, b"tls\0")), None);
    }

    #[test]
    fn a_short_mptcp_info_has_no_byte_counts() {
        let mut b = vec![0u8; 96];
        b[0] = 1;
        b[12..16].copy_from_slice(&0xdeadbeefu32.to_ne_bytes());
        b[56..64].copy_from_slice(&1234u64.to_ne_bytes());
        let full = MptcpInfo::parse(&b);
        assert_eq!((full.extra_subflows, full.token), (1, 0xdeadbeef));
        assert_eq!(full.bytes_sent, Some(1234));
        assert_eq!(MptcpInfo::parse(&b[..40]).bytes_sent, None);
    }
}
