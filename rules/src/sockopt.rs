//! The rule for socket options MPTCP refuses: when a converted socket gets
//! an error from `setsockopt()` that means "MPTCP does not do this option"
//! (not "bad value"), and the socket has neither connected nor listened
//! yet, the program asked for TCP behaviour we cannot give over MPTCP: the
//! shim makes it the TCP socket the program asked for in the first place,
//! if TCP takes the option (tried on the new socket, never assumed: which
//! options MPTCP refuses changes with the kernel version, so there is no
//! list of options here). Once connected or listening, a socket cannot
//! change protocol, and the error goes back unchanged, except where
//! answering success is honest ([`honest_on_mptcp`]).
//!
//! [`crate::env::STRICT_OPTIONS`] on (`run --strict-options`) keeps every
//! error.

use crate::{ENOPROTOOPT, IPPROTO_TCP};

/// `EOPNOTSUPP`: what MPTCP answers for most `SOL_SOCKET` and `SOL_IP`
/// options it does not implement.
pub const EOPNOTSUPP: i32 = 95;
/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 1;
/// `IPPROTO_IP` (`SOL_IP`).
pub const SOL_IP: i32 = 0;
/// `IPPROTO_IPV6` (`SOL_IPV6`).
pub const SOL_IPV6: i32 = 41;
/// `SOL_TCP` (`IPPROTO_TCP`).
pub const SOL_TCP: i32 = IPPROTO_TCP;
/// `SOL_MPTCP`, the level of MPTCP's own options.
pub const SOL_MPTCP: i32 = 284;
/// `SO_OOBINLINE`.
pub const SO_OOBINLINE: i32 = 10;

/// The option levels a TCP socket answers to; a refusal at another level
/// (`SOL_MPTCP`, …) is MPTCP's own business and never reverts.
pub const TCP_LEVELS: [i32; 4] = [SOL_SOCKET, SOL_IP, SOL_IPV6, SOL_TCP];

/// The errors of `setsockopt()` on an MPTCP socket that mean the option is
/// not implemented for MPTCP (`EOPNOTSUPP` for `SOL_SOCKET` and the IP
/// levels, `ENOPROTOOPT` for options outside MPTCP's supported list); any
/// other error (`EINVAL`, `EPERM`, …) is the program's and goes back as it is.
pub const REFUSAL_ERRNOS: [i32; 2] = [EOPNOTSUPP, ENOPROTOOPT];

/// True when `errno` from `setsockopt()` is MPTCP refusing the option.
#[inline]
pub const fn is_refusal(errno: i32) -> bool {
    errno == EOPNOTSUPP || errno == ENOPROTOOPT
}

/// True when `level` is one TCP answers to.
#[inline]
pub const fn is_tcp_level(level: i32) -> bool {
    level == SOL_SOCKET || level == SOL_IP || level == SOL_IPV6 || level == SOL_TCP
}

/// Where a refused socket stands, as the shim reads it from the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketState {
    /// Created by the shim's conversion, neither connected, connecting nor
    /// listening: it can still become TCP.
    Fresh,
    /// Connected (MPTCP with its peer, or fallen back to TCP with a peer
    /// that has no MPTCP: the socket is MPTCP either way).
    Connected,
    /// Listening, connecting, or a socket the shim did not convert (or
    /// whose record it lost): nothing can be changed.
    Settled,
}

/// What to do with a `setsockopt()` MPTCP refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Make the socket TCP and set the option there, if TCP takes it.
    TryTcp,
    /// Answer success: the option's promise already holds on this socket.
    Honest,
    /// Return the kernel's error unchanged.
    Keep,
}

/// Decides what to do when `setsockopt(level, name, value)` failed with
/// `errno` on a socket in `state`; `value` is the option's int value when
/// it has one, `strict` is `MPTCPIZE_STRICT_OPTIONS`.
#[inline]
pub const fn on_refusal(
    level: i32,
    name: i32,
    value: Option<i32>,
    errno: i32,
    state: SocketState,
    strict: bool,
) -> Refusal {
    if strict || !is_refusal(errno) || !is_tcp_level(level) {
        return Refusal::Keep;
    }
    match state {
        SocketState::Fresh => Refusal::TryTcp,
        SocketState::Connected if honest_on_mptcp(level, name, value) => Refusal::Honest,
        _ => Refusal::Keep,
    }
}

/// True for an option whose promise already holds on a connected MPTCP
/// socket, so that success is the true answer:
///
/// - `SO_OOBINLINE` on (any non-zero value): "urgent data arrives in the
///   normal data stream". The kernel does not implement the option for
///   MPTCP (net/mptcp/sockopt.c: "SO_OOBINLINE is not supported"), and it
///   needs none: MPTCP's receive path has no urgent-data handling, so a
///   peer's `send(MSG_OOB)` arrives as an ordinary byte, in order, in the
///   stream, whether the connection speaks MPTCP or fell back to TCP with
///   a plain TCP peer (tests/tests/sockopt.rs checks both on the running
///   kernel). Turning it *off* would promise that urgent bytes are taken
///   out of the stream, which an MPTCP socket cannot do.
///
/// Not on a fresh socket: it may yet listen, and the connections a listener
/// accepts from plain TCP clients are plain TCP sockets, which would not
/// inherit the option; a fresh socket becomes TCP instead.
#[inline]
pub const fn honest_on_mptcp(level: i32, name: i32, value: Option<i32>) -> bool {
    matches!(
        (level, name, value),
        (SOL_SOCKET, SO_OOBINLINE, Some(v)) if v != 0
    )
}

/// `SO_BINDTODEVICE`.
pub const SO_BINDTODEVICE: i32 = 25;
/// `IFNAMSIZ`: an interface name and its NUL.
const IFNAMSIZ: u32 = 16;

/// How many bytes of a `setsockopt()` value the kernel reads, of `len`
/// given: all of them, except for `SO_BINDTODEVICE`, of which it reads an
/// interface name (at most `IFNAMSIZ - 1` bytes; programs such as bird pass
/// a whole 40-byte `struct ifreq`). What the shim records to set again.
#[inline]
pub const fn significant_len(level: i32, name: i32, len: u32) -> u32 {
    // The length first, in a branch: most options are shorter, and pay one
    // comparison.
    if len > IFNAMSIZ - 1 {
        interface_name_len(level, name, len)
    } else {
        len
    }
}

/// [`significant_len`] of a value longer than an interface name.
#[cold]
#[inline(never)]
const fn interface_name_len(level: i32, name: i32, len: u32) -> u32 {
    if level == SOL_SOCKET && name == SO_BINDTODEVICE {
        IFNAMSIZ - 1
    } else {
        len
    }
}

/// True when a refusal of `level`/`name` may be answered with success
/// ([`honest_on_mptcp`] for some value): the one case where a socket the
/// shim does not follow (an accepted connection) needs its `setsockopt()`
/// looked at.
#[inline(always)]
pub const fn maybe_honest(level: i32, name: i32) -> bool {
    level == SOL_SOCKET && name == SO_OOBINLINE
}

/// The name of a socket-option level for log lines (`SOL_IP`, …).
pub const fn level_name(level: i32) -> Option<&'static str> {
    Some(match level {
        SOL_SOCKET => "SOL_SOCKET",
        SOL_IP => "SOL_IP",
        SOL_IPV6 => "SOL_IPV6",
        SOL_TCP => "SOL_TCP",
        SOL_MPTCP => "SOL_MPTCP",
        _ => return None,
    })
}

/// The name of an option for log lines and the README's table (`IP_TTL`,
/// `TCP_USER_TIMEOUT`, …): the options programs are known to set, and
/// every one some kernel's MPTCP refuses; `None` for others (written as
/// numbers).
pub const fn option_name(level: i32, name: i32) -> Option<&'static str> {
    Some(match (level, name) {
        (SOL_SOCKET, 1) => "SO_DEBUG",
        (SOL_SOCKET, 2) => "SO_REUSEADDR",
        (SOL_SOCKET, 5) => "SO_DONTROUTE",
        (SOL_SOCKET, 6) => "SO_BROADCAST",
        (SOL_SOCKET, 7) => "SO_SNDBUF",
        (SOL_SOCKET, 8) => "SO_RCVBUF",
        (SOL_SOCKET, 9) => "SO_KEEPALIVE",
        (SOL_SOCKET, 10) => "SO_OOBINLINE",
        (SOL_SOCKET, 12) => "SO_PRIORITY",
        (SOL_SOCKET, 13) => "SO_LINGER",
        (SOL_SOCKET, 15) => "SO_REUSEPORT",
        (SOL_SOCKET, 18) => "SO_RCVLOWAT",
        (SOL_SOCKET, 20) => "SO_RCVTIMEO",
        (SOL_SOCKET, 21) => "SO_SNDTIMEO",
        (SOL_SOCKET, 25) => "SO_BINDTODEVICE",
        (SOL_SOCKET, 26) => "SO_ATTACH_FILTER",
        (SOL_SOCKET, 36) => "SO_MARK",
        (SOL_SOCKET, 42) => "SO_PEEK_OFF",
        (SOL_SOCKET, 44) => "SO_LOCK_FILTER",
        (SOL_SOCKET, 47) => "SO_MAX_PACING_RATE",
        (SOL_SOCKET, 50) => "SO_ATTACH_BPF",
        (SOL_SOCKET, 60) => "SO_ZEROCOPY",
        (SOL_SOCKET, 61) => "SO_TXTIME",
        (SOL_SOCKET, 72) => "SO_BUF_LOCK",
        (SOL_SOCKET, 74) => "SO_RESERVE_MEM",
        (SOL_SOCKET, 75) => "SO_TXREHASH",
        (SOL_IP, 1) => "IP_TOS",
        (SOL_IP, 2) => "IP_TTL",
        (SOL_IP, 4) => "IP_OPTIONS",
        (SOL_IP, 10) => "IP_MTU_DISCOVER",
        (SOL_IP, 11) => "IP_RECVERR",
        (SOL_IP, 15) => "IP_FREEBIND",
        (SOL_IP, 19) => "IP_TRANSPARENT",
        (SOL_IP, 21) => "IP_MINTTL",
        (SOL_IP, 24) => "IP_BIND_ADDRESS_NO_PORT",
        (SOL_IP, 49) => "IP_LOCAL_PORT_RANGE",
        (SOL_IPV6, 16) => "IPV6_UNICAST_HOPS",
        (SOL_IPV6, 23) => "IPV6_MTU_DISCOVER",
        (SOL_IPV6, 25) => "IPV6_RECVERR",
        (SOL_IPV6, 26) => "IPV6_V6ONLY",
        (SOL_IPV6, 67) => "IPV6_TCLASS",
        (SOL_TCP, 1) => "TCP_NODELAY",
        (SOL_TCP, 2) => "TCP_MAXSEG",
        (SOL_TCP, 3) => "TCP_CORK",
        (SOL_TCP, 4) => "TCP_KEEPIDLE",
        (SOL_TCP, 5) => "TCP_KEEPINTVL",
        (SOL_TCP, 6) => "TCP_KEEPCNT",
        (SOL_TCP, 7) => "TCP_SYNCNT",
        (SOL_TCP, 8) => "TCP_LINGER2",
        (SOL_TCP, 9) => "TCP_DEFER_ACCEPT",
        (SOL_TCP, 10) => "TCP_WINDOW_CLAMP",
        (SOL_TCP, 12) => "TCP_QUICKACK",
        (SOL_TCP, 13) => "TCP_CONGESTION",
        (SOL_TCP, 14) => "TCP_MD5SIG",
        (SOL_TCP, 16) => "TCP_THIN_LINEAR_TIMEOUTS",
        (SOL_TCP, 17) => "TCP_THIN_DUPACK",
        (SOL_TCP, 18) => "TCP_USER_TIMEOUT",
        (SOL_TCP, 19) => "TCP_REPAIR",
        (SOL_TCP, 23) => "TCP_FASTOPEN",
        (SOL_TCP, 25) => "TCP_NOTSENT_LOWAT",
        (SOL_TCP, 27) => "TCP_SAVE_SYN",
        (SOL_TCP, 30) => "TCP_FASTOPEN_CONNECT",
        (SOL_TCP, 31) => "TCP_ULP",
        (SOL_TCP, 32) => "TCP_MD5SIG_EXT",
        (SOL_TCP, 34) => "TCP_FASTOPEN_NO_COOKIE",
        (SOL_TCP, 36) => "TCP_INQ",
        (SOL_TCP, 37) => "TCP_TX_DELAY",
        (SOL_TCP, 38) => "TCP_AO_ADD_KEY",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_kernel_headers() {
        assert_eq!(EOPNOTSUPP, libc::EOPNOTSUPP);
        assert_eq!(SOL_SOCKET, libc::SOL_SOCKET);
        assert_eq!(SOL_IP, libc::SOL_IP);
        assert_eq!(SOL_IPV6, libc::SOL_IPV6);
        assert_eq!(SOL_TCP, libc::SOL_TCP);
        assert_eq!(SO_OOBINLINE, libc::SO_OOBINLINE);
        let named = [
            (SOL_SOCKET, libc::SO_ZEROCOPY, "SO_ZEROCOPY"),
            (SOL_SOCKET, libc::SO_BINDTODEVICE, "SO_BINDTODEVICE"),
            (SOL_SOCKET, libc::SO_REUSEPORT, "SO_REUSEPORT"),
            (SOL_SOCKET, libc::SO_PEEK_OFF, "SO_PEEK_OFF"),
            (SOL_SOCKET, libc::SO_MAX_PACING_RATE, "SO_MAX_PACING_RATE"),
            (SOL_SOCKET, libc::SO_TXTIME, "SO_TXTIME"),
            (SOL_IP, libc::IP_TTL, "IP_TTL"),
            (SOL_IP, libc::IP_RECVERR, "IP_RECVERR"),
            (SOL_IP, libc::IP_MTU_DISCOVER, "IP_MTU_DISCOVER"),
            (SOL_IP, libc::IP_MINTTL, "IP_MINTTL"),
            (
                SOL_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                "IP_BIND_ADDRESS_NO_PORT",
            ),
            (SOL_IPV6, libc::IPV6_V6ONLY, "IPV6_V6ONLY"),
            (SOL_IPV6, libc::IPV6_TCLASS, "IPV6_TCLASS"),
            (SOL_IPV6, libc::IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"),
            (SOL_TCP, libc::TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"),
            (SOL_TCP, libc::TCP_MD5SIG, "TCP_MD5SIG"),
            (SOL_TCP, libc::TCP_ULP, "TCP_ULP"),
            (SOL_TCP, libc::TCP_QUICKACK, "TCP_QUICKACK"),
            (SOL_TCP, libc::TCP_SYNCNT, "TCP_SYNCNT"),
            (SOL_TCP, libc::TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP"),
            (SOL_TCP, libc::TCP_LINGER2, "TCP_LINGER2"),
            (SOL_TCP, libc::TCP_SAVE_SYN, "TCP_SAVE_SYN"),
            (SOL_TCP, libc::TCP_REPAIR, "TCP_REPAIR"),
            (
                SOL_TCP,
                libc::TCP_THIN_LINEAR_TIMEOUTS,
                "TCP_THIN_LINEAR_TIMEOUTS",
            ),
            (SOL_TCP, libc::TCP_FASTOPEN_CONNECT, "TCP_FASTOPEN_CONNECT"),
        ];
        for (level, name, text) in named {
            assert_eq!(option_name(level, name), Some(text));
        }
    }

    #[test]
    fn only_refusals_at_tcp_levels_of_fresh_sockets_revert() {
        use SocketState::*;
        let ttl = (SOL_IP, 2);
        assert_eq!(
            on_refusal(ttl.0, ttl.1, Some(255), EOPNOTSUPP, Fresh, false),
            Refusal::TryTcp
        );
        assert_eq!(
            on_refusal(SOL_TCP, 18, Some(1), ENOPROTOOPT, Fresh, false),
            Refusal::TryTcp
        );
        // Strict keeps every error.
        assert_eq!(
            on_refusal(ttl.0, ttl.1, Some(255), EOPNOTSUPP, Fresh, true),
            Refusal::Keep
        );
        // A bad value, a permission: the program's error.
        for errno in [libc::EINVAL, libc::EPERM, libc::EFAULT, libc::ENOENT] {
            assert_eq!(
                on_refusal(ttl.0, ttl.1, Some(255), errno, Fresh, false),
                Refusal::Keep
            );
        }
        // MPTCP's own level.
        assert_eq!(
            on_refusal(SOL_MPTCP, 1, None, EOPNOTSUPP, Fresh, false),
            Refusal::Keep
        );
        // Once connected or listening: the error.
        for state in [Connected, Settled] {
            assert_eq!(
                on_refusal(ttl.0, ttl.1, Some(255), EOPNOTSUPP, state, false),
                Refusal::Keep
            );
        }
    }

    #[test]
    fn maybe_honest_covers_every_honest_answer() {
        for level in [SOL_SOCKET, SOL_IP, SOL_IPV6, SOL_TCP, SOL_MPTCP] {
            for name in 0..100 {
                for v in [None, Some(0), Some(1), Some(-1)] {
                    if honest_on_mptcp(level, name, v) {
                        assert!(maybe_honest(level, name), "{level} {name}");
                    }
                }
            }
        }
    }

    #[test]
    fn only_an_interface_name_of_bindtodevice_counts() {
        assert_eq!(significant_len(SOL_SOCKET, SO_BINDTODEVICE, 40), 15);
        assert_eq!(significant_len(SOL_SOCKET, SO_BINDTODEVICE, 5), 5);
        assert_eq!(significant_len(SOL_SOCKET, libc::SO_LINGER, 40), 40);
        assert_eq!(significant_len(SOL_IP, SO_BINDTODEVICE, 40), 40);
        assert_eq!(SO_BINDTODEVICE, libc::SO_BINDTODEVICE);
    }

    #[test]
    fn oobinline_on_is_honest_once_connected() {
        use SocketState::*;
        let on =
            |v, state, strict| on_refusal(SOL_SOCKET, SO_OOBINLINE, v, EOPNOTSUPP, state, strict);
        assert_eq!(on(Some(1), Connected, false), Refusal::Honest);
        assert_eq!(on(Some(7), Connected, false), Refusal::Honest);
        assert_eq!(on(Some(0), Connected, false), Refusal::Keep);
        assert_eq!(on(None, Connected, false), Refusal::Keep);
        assert_eq!(on(Some(1), Settled, false), Refusal::Keep);
        assert_eq!(on(Some(1), Connected, true), Refusal::Keep);
        // Before connecting, the socket may yet listen: TCP.
        assert_eq!(on(Some(1), Fresh, false), Refusal::TryTcp);
    }
}
