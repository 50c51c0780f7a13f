//! The rules and the words every mode of mptcpize-rs shares, so that the
//! modes cannot drift apart:
//! - which `socket()` calls become Multipath TCP, and which errors from
//!   creating an MPTCP socket mean "this host has no MPTCP, make the TCP
//!   socket the program asked for" (this file);
//! - the environment variables and how their values read ([`env`]);
//! - the words of a process's socket counts in a report ([`counts`]);
//! - errno names and what a fallback error says about the host ([`errno`]);
//! - the names of address families and socket types in log lines
//!   ([`names`]);
//! - what to do when MPTCP refuses a socket option ([`sockopt`]).
//!
//! The preload libraries, the seccomp supervisor and its BPF filter, `check`
//! and the launcher all take their decisions and words from here. The crate
//! is `no_std` and allocation-free (libc gives it the kernel's numbers, no
//! code): the shim calls it on the async-signal-safe `socket()` path.
#![no_std]

pub mod counts;
pub mod env;
pub mod errno;
pub mod names;
pub mod report_file;
pub mod sockopt;

/// `IPPROTO_MPTCP`, the protocol number of Multipath TCP sockets (Linux 5.6+).
pub const IPPROTO_MPTCP: i32 = libc::IPPROTO_MPTCP;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: i32 = libc::IPPROTO_TCP;
/// `AF_INET`.
pub const AF_INET: i32 = libc::AF_INET;
/// `AF_INET6`.
pub const AF_INET6: i32 = libc::AF_INET6;
/// `SOCK_STREAM`.
pub const SOCK_STREAM: i32 = libc::SOCK_STREAM;
/// The bits of `socket()`'s type argument that name the socket type; the rest
/// are flags (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`) that are kept as they are.
pub const SOCK_TYPE_MASK: i32 = 0xf;

/// The address families whose stream sockets are converted.
pub const FAMILIES: [i32; 2] = [AF_INET, AF_INET6];
/// The protocols that mean "TCP" for a stream socket: the default and TCP.
pub const TCP_PROTOCOLS: [i32; 2] = [0, IPPROTO_TCP];

/// `ENOPROTOOPT`: MPTCP is built in but `net.mptcp.enabled=0`.
pub const ENOPROTOOPT: i32 = libc::ENOPROTOOPT;
/// `EPROTONOSUPPORT`: the kernel was built without MPTCP.
pub const EPROTONOSUPPORT: i32 = libc::EPROTONOSUPPORT;
/// `EINVAL`: kernels before 5.6 do not know protocol 262.
pub const EINVAL: i32 = libc::EINVAL;
/// The errors of an MPTCP `socket()` that mean MPTCP is unavailable here
/// (what each says about the host: [`errno::Unavailable`]).
pub const FALLBACK_ERRNOS: [i32; 3] = [ENOPROTOOPT, EPROTONOSUPPORT, EINVAL];

/// True when `set` holds `v` (a `const` `contains`).
#[inline(always)]
const fn holds(set: &[i32], v: i32) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i] == v {
            return true;
        }
        i += 1;
    }
    false
}

/// True when `socket(domain, ty, protocol)` asks for a TCP socket that should
/// be created as an MPTCP socket instead: a stream socket of one of
/// [`FAMILIES`] with one of [`TCP_PROTOCOLS`] (the arrays the BPF filter is
/// generated from).
#[inline(always)]
pub const fn should_convert(domain: i32, ty: i32, protocol: i32) -> bool {
    holds(&FAMILIES, domain)
        && (ty & SOCK_TYPE_MASK) == SOCK_STREAM
        && holds(&TCP_PROTOCOLS, protocol)
}

/// True when an MPTCP `socket()` that failed with `errno` may be retried as
/// the TCP socket the program asked for: one of [`FALLBACK_ERRNOS`].
#[inline(always)]
pub const fn is_fallback_errno(errno: i32) -> bool {
    holds(&FALLBACK_ERRNOS, errno)
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
#[inline(always)]
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
    fn the_numbers_are_linuxs() {
        // Fixed by the kernel's ABI (uapi/linux/in.h): a wrong one here would
        // convert nothing, or the wrong sockets.
        assert_eq!(IPPROTO_MPTCP, 262);
        assert_eq!(IPPROTO_TCP, 6);
        assert_eq!(SOCK_TYPE_MASK & libc::SOCK_NONBLOCK, 0);
        assert_eq!(SOCK_TYPE_MASK & libc::SOCK_CLOEXEC, 0);
    }

    /// The rule, written out as a literal table (not recomputed with the
    /// rule's own expression): (family, type, protocol, converted).
    #[test]
    fn converts_exactly_tcp_streams_of_inet_families() {
        const YES: bool = true;
        const NO: bool = false;
        let table: &[(i32, i32, i32, bool)] = &[
            (libc::AF_INET, libc::SOCK_STREAM, 0, YES),
            (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_TCP, YES),
            (libc::AF_INET6, libc::SOCK_STREAM, 0, YES),
            (libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_TCP, YES),
            (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_MPTCP, NO),
            (libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP, NO),
            (libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_UDP, NO),
            (libc::AF_INET, libc::SOCK_DGRAM, 0, NO),
            (libc::AF_INET6, libc::SOCK_DGRAM, libc::IPPROTO_TCP, NO),
            (libc::AF_INET, libc::SOCK_SEQPACKET, 0, NO),
            (libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_TCP, NO),
            (libc::AF_UNIX, libc::SOCK_STREAM, 0, NO),
            (libc::AF_NETLINK, libc::SOCK_STREAM, 0, NO),
            (libc::AF_PACKET, libc::SOCK_STREAM, libc::IPPROTO_TCP, NO),
        ];
        for &(f, t, p, want) in table {
            // The flags never change the answer.
            for fl in [0, libc::SOCK_NONBLOCK, libc::SOCK_CLOEXEC] {
                assert_eq!(should_convert(f, t | fl, p), want, "{f} {t}|{fl} {p}");
            }
        }
    }

    #[test]
    fn falls_back_only_on_errors_that_mean_no_mptcp() {
        for e in [libc::ENOPROTOOPT, libc::EPROTONOSUPPORT, libc::EINVAL] {
            assert!(is_fallback_errno(e), "{e}");
        }
        for e in [
            0,
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOMEM,
            libc::EACCES,
            libc::EPERM,
            libc::ENOBUFS,
            libc::EAFNOSUPPORT,
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
