//! What the example programs share: asking the kernel what a socket really
//! is (its protocol, and whether MPTCP was negotiated with the peer), and the
//! byte pattern the echo client sends and checks.
//!
//! The example programs are ordinary std::net programs: they create their
//! sockets the TCP way and only *inspect* them here, so that a user can see
//! what mptcpize-rs did to them.

use std::os::fd::AsRawFd;

/// `SOL_MPTCP` and `MPTCP_INFO` from linux/mptcp.h.
const SOL_MPTCP: libc::c_int = 284;
const MPTCP_INFO: libc::c_int = 1;
/// `TCP_IS_MPTCP` from linux/tcp.h (Linux 5.16+).
const TCP_IS_MPTCP: libc::c_int = 43;

/// What the kernel says about one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketView {
    /// `SO_PROTOCOL`: 6 for TCP, 262 for MPTCP.
    pub protocol: i32,
    /// For a connected MPTCP socket: `Some(true)` when the peer spoke MPTCP,
    /// `Some(false)` when the connection fell back to TCP.
    pub negotiated: Option<bool>,
    /// The number of extra subflows (MPTCP_INFO's `mptcpi_subflows`).
    pub extra_subflows: Option<u8>,
}

impl SocketView {
    /// Looks at `sock` (any socket: listener or connection).
    pub fn of(sock: &impl AsRawFd) -> SocketView {
        let fd = sock.as_raw_fd();
        let protocol = protocol_of(fd);
        let (negotiated, extra_subflows) = if protocol == libc::IPPROTO_MPTCP {
            let is = int_opt(fd, libc::IPPROTO_TCP, TCP_IS_MPTCP).map(|v| v != 0);
            (is, mptcp_subflows(fd))
        } else {
            (None, None)
        };
        SocketView {
            protocol,
            negotiated,
            extra_subflows,
        }
    }

    /// `MPTCP`, `TCP` or the number.
    pub fn protocol_name(&self) -> String {
        match self.protocol {
            libc::IPPROTO_MPTCP => "MPTCP".into(),
            libc::IPPROTO_TCP => "TCP".into(),
            p => p.to_string(),
        }
    }

    /// One phrase for the connection: `MPTCP negotiated with the peer (1 extra subflow)`,
    /// `MPTCP socket, fell back to TCP (peer has no MPTCP)` or `plain TCP`.
    pub fn connection(&self) -> String {
        match (self.protocol, self.negotiated) {
            (libc::IPPROTO_MPTCP, Some(true)) => match self.extra_subflows {
                Some(n) => format!("MPTCP negotiated with the peer ({n} extra subflows)"),
                None => "MPTCP negotiated with the peer".into(),
            },
            (libc::IPPROTO_MPTCP, _) => "MPTCP socket, fell back to TCP (peer has no MPTCP)".into(),
            _ => "plain TCP".into(),
        }
    }
}

/// `SO_PROTOCOL` of socket `fd` (-1 if it has none).
pub fn protocol_of(fd: libc::c_int) -> i32 {
    int_opt(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(-1)
}

fn int_opt(fd: libc::c_int, level: libc::c_int, name: libc::c_int) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes of the sizes given.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&raw mut v).cast(), &mut len) };
    (rc == 0).then_some(v)
}

fn mptcp_subflows(fd: libc::c_int) -> Option<u8> {
    // struct mptcp_info starts with `__u8 mptcpi_subflows`; 256 bytes holds
    // every version of it.
    let mut buf = [0u8; 256];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` and `len` are valid for writes of the sizes given.
    let rc =
        unsafe { libc::getsockopt(fd, SOL_MPTCP, MPTCP_INFO, buf.as_mut_ptr().cast(), &mut len) };
    (rc == 0 && len > 0).then_some(buf[0])
}

/// Byte `i` of the stream the echo client sends: not periodic at any
/// power-of-two length, so that a lost, repeated or reordered block shows.
pub fn pattern_byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i >> 20) as u8
}

/// Fills `buf` with the pattern from stream offset `start`.
pub fn fill_pattern(buf: &mut [u8], start: u64) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(start + k as u64);
    }
}

/// FNV-1a, to compare what two ends saw without shipping the bytes around.
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_does_not_repeat_at_block_sizes() {
        let mut a = [0u8; 4096];
        let mut b = [0u8; 4096];
        fill_pattern(&mut a, 0);
        for shift in [4096u64, 65536, 1 << 20] {
            fill_pattern(&mut b, shift);
            assert_ne!(a, b, "shift {shift}");
        }
    }
}
