//! The rules every mode of mptcpize-rs shares: which `socket()` calls become
//! Multipath TCP, and which errors from creating an MPTCP socket mean "this
//! host has no MPTCP, make the TCP socket the program asked for".
//!
//! The preload shim, the seccomp supervisor and its BPF filter all take their
//! decisions from here, so that the modes cannot drift apart. The crate is
//! `no_std`, allocation-free and has no dependencies: the shim calls it on the
//! async-signal-safe `socket()` path.
#![no_std]

/// `IPPROTO_MPTCP`, the protocol number of Multipath TCP sockets (Linux 5.6+).
pub const IPPROTO_MPTCP: i32 = 262;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: i32 = 6;
/// `AF_INET`.
pub const AF_INET: i32 = 2;
/// `AF_INET6`.
pub const AF_INET6: i32 = 10;
/// `SOCK_STREAM`.
pub const SOCK_STREAM: i32 = 1;
/// The bits of `socket()`'s type argument that name the socket type; the rest
/// are flags (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`) that are kept as they are.
pub const SOCK_TYPE_MASK: i32 = 0xf;

/// The address families whose stream sockets are converted.
pub const FAMILIES: [i32; 2] = [AF_INET, AF_INET6];
/// The protocols that mean "TCP" for a stream socket: the default and TCP.
pub const TCP_PROTOCOLS: [i32; 2] = [0, IPPROTO_TCP];

/// `ENOPROTOOPT`: MPTCP is built in but `net.mptcp.enabled=0`.
pub const ENOPROTOOPT: i32 = 92;
/// `EPROTONOSUPPORT`: the kernel was built without MPTCP.
pub const EPROTONOSUPPORT: i32 = 93;
/// `EINVAL`: kernels before 5.6 do not know protocol 262.
pub const EINVAL: i32 = 22;
/// The errors of an MPTCP `socket()` that mean MPTCP is unavailable here.
pub const FALLBACK_ERRNOS: [i32; 3] = [ENOPROTOOPT, EPROTONOSUPPORT, EINVAL];

/// True when `socket(domain, ty, protocol)` asks for a TCP socket that should
/// be created as an MPTCP socket instead.
#[inline]
pub const fn should_convert(domain: i32, ty: i32, protocol: i32) -> bool {
    (domain == AF_INET || domain == AF_INET6)
        && (ty & SOCK_TYPE_MASK) == SOCK_STREAM
        && (protocol == 0 || protocol == IPPROTO_TCP)
}

/// True when an MPTCP `socket()` that failed with `errno` may be retried as
/// the TCP socket the program asked for.
#[inline]
pub const fn is_fallback_errno(errno: i32) -> bool {
    errno == ENOPROTOOPT || errno == EPROTONOSUPPORT || errno == EINVAL
}

/// What to do with one `socket()` call, given the process's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Not a TCP stream socket: pass the call through untouched.
    PassThrough,
    /// Create the socket with `IPPROTO_MPTCP`.
    Mptcp,
    /// A TCP socket, but MPTCP is known to be unavailable in this process:
    /// create the TCP socket directly, without a second failing syscall.
    TcpKnownUnavailable,
}

/// Decides what to do with `socket(domain, ty, protocol)` when
/// `mptcp_unavailable` says whether an earlier call already fell back.
#[inline]
pub const fn plan(domain: i32, ty: i32, protocol: i32, mptcp_unavailable: bool) -> Plan {
    if !should_convert(domain, ty, protocol) {
        Plan::PassThrough
    } else if mptcp_unavailable {
        Plan::TcpKnownUnavailable
    } else {
        Plan::Mptcp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_kernel_headers() {
        assert_eq!(AF_INET, libc::AF_INET);
        assert_eq!(AF_INET6, libc::AF_INET6);
        assert_eq!(SOCK_STREAM, libc::SOCK_STREAM);
        assert_eq!(IPPROTO_TCP, libc::IPPROTO_TCP);
        assert_eq!(IPPROTO_MPTCP, libc::IPPROTO_MPTCP);
        assert_eq!(ENOPROTOOPT, libc::ENOPROTOOPT);
        assert_eq!(EPROTONOSUPPORT, libc::EPROTONOSUPPORT);
        assert_eq!(EINVAL, libc::EINVAL);
        assert_eq!(SOCK_TYPE_MASK & libc::SOCK_NONBLOCK, 0);
        assert_eq!(SOCK_TYPE_MASK & libc::SOCK_CLOEXEC, 0);
    }

    /// The `socket()` calls that become MPTCP, written out: the four TCP
    /// stream sockets of the two inet families (flags are checked apart).
    const CONVERTED: [(i32, i32, i32); 4] = [
        (libc::AF_INET, libc::SOCK_STREAM, 0),
        (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_TCP),
        (libc::AF_INET6, libc::SOCK_STREAM, 0),
        (libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_TCP),
    ];

    #[test]
    fn converts_exactly_tcp_streams_of_inet_families() {
        let flags = [
            0,
            libc::SOCK_NONBLOCK,
            libc::SOCK_CLOEXEC,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        ];
        let families = [
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_UNIX,
            libc::AF_NETLINK,
            libc::AF_PACKET,
        ];
        let types = [
            libc::SOCK_STREAM,
            libc::SOCK_DGRAM,
            libc::SOCK_SEQPACKET,
            libc::SOCK_RAW,
        ];
        let protos = [
            0,
            libc::IPPROTO_TCP,
            libc::IPPROTO_UDP,
            libc::IPPROTO_SCTP,
            libc::IPPROTO_MPTCP,
        ];
        let mut converted = 0;
        for f in families {
            for t in types {
                for fl in flags {
                    for p in protos {
                        let want = CONVERTED.contains(&(f, t, p));
                        converted += usize::from(want);
                        assert_eq!(should_convert(f, t | fl, p), want, "{f} {t}|{fl} {p}");
                    }
                }
            }
        }
        assert_eq!(converted, CONVERTED.len() * flags.len());
    }

    /// Calls a program really makes, one by one, with the answer written out.
    #[test]
    fn the_calls_programs_make() {
        let nonblock_cloexec = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        let table = [
            // (family, type, protocol, becomes MPTCP)
            (libc::AF_INET, libc::SOCK_STREAM, 0, true),
            (
                libc::AF_INET6,
                libc::SOCK_STREAM | nonblock_cloexec,
                6,
                true,
            ),
            (
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                true,
            ),
            // Already MPTCP: left as asked.
            (libc::AF_INET, libc::SOCK_STREAM, 262, false),
            (libc::AF_INET, libc::SOCK_DGRAM, 0, false),
            (libc::AF_INET6, libc::SOCK_DGRAM, 17, false),
            // SCTP's one-to-one style is a stream socket too.
            (libc::AF_INET, libc::SOCK_STREAM, 132, false),
            (libc::AF_INET, libc::SOCK_SEQPACKET, 0, false),
            (libc::AF_INET, libc::SOCK_RAW, 6, false),
            (libc::AF_UNIX, libc::SOCK_STREAM, 0, false),
            (
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                false,
            ),
            (libc::AF_NETLINK, libc::SOCK_RAW, 0, false),
            (libc::AF_PACKET, libc::SOCK_STREAM, 0, false),
        ];
        for (f, t, p, want) in table {
            assert_eq!(should_convert(f, t, p), want, "socket({f}, {t:#x}, {p})");
        }
    }

    #[test]
    fn falls_back_only_on_errors_that_mean_no_mptcp() {
        for e in FALLBACK_ERRNOS {
            assert!(is_fallback_errno(e));
        }
        for e in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOMEM,
            libc::EACCES,
            libc::EPERM,
            libc::ENOBUFS,
        ] {
            assert!(!is_fallback_errno(e), "{e}");
        }
    }

    #[test]
    fn plan_skips_the_mptcp_attempt_once_known_unavailable() {
        assert_eq!(plan(AF_INET, SOCK_STREAM, 0, false), Plan::Mptcp);
        assert_eq!(
            plan(AF_INET6, SOCK_STREAM, 6, true),
            Plan::TcpKnownUnavailable
        );
        assert_eq!(plan(AF_INET, 2, 0, true), Plan::PassThrough);
    }
}
