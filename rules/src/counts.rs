//! The words of a process's socket counts, the first part of its report's
//! exit line: `3 sockets made MPTCP, 1 fell back to TCP (MPTCP unavailable:
//! ENOPROTOOPT, net.mptcp.enabled=0), 1 failed (no fallback)`, and the JSON
//! `fallback_reason` ([`write_fallback_reason`]). The seccomp supervisor
//! writes them from here, in the words of the report library's exit line
//! (`report/src/follow.rs`, being reworked); both are to share one writer
//! once the report's own words move to `rules/` too.

use crate::errno::Unavailable;
use crate::names::{write_errno, Sink};

/// What happened to the `socket()` calls of one process that the rules
/// convert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketCounts {
    /// Made MPTCP.
    pub mptcp: u64,
    /// Made TCP because MPTCP is unavailable.
    pub fell_back: u64,
    /// Failed with the MPTCP error (fallback off).
    pub failed: u64,
    /// The error that made the first one fall back or fail (0: unknown).
    pub fallback_errno: i32,
}

/// `MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0` (`MPTCP
/// unavailable` alone when `errno` is 0).
pub fn write_fallback_reason(out: &mut impl Sink, errno: i32) {
    out.text("MPTCP unavailable");
    if errno == 0 {
        return;
    }
    out.text(": ");
    write_errno(out, errno);
    if let Some(why) = Unavailable::from_errno(errno) {
        out.text(", ");
        out.text(why.reason());
    }
}

/// `N socket(s) made MPTCP, M fell back to TCP`, the reason in parentheses
/// when some fell back or failed, and `, K failed (no fallback)`.
pub fn write_socket_counts(out: &mut impl Sink, c: &SocketCounts) {
    out.int(c.mptcp as i64);
    out.text(if c.mptcp == 1 { " socket" } else { " sockets" });
    out.text(" made MPTCP, ");
    out.int(c.fell_back as i64);
    out.text(" fell back to TCP");
    if c.fell_back > 0 || c.failed > 0 {
        out.text(" (");
        write_fallback_reason(out, c.fallback_errno);
        out.text(")");
    }
    if c.failed > 0 {
        out.text(", ");
        out.int(c.failed as i64);
        out.text(" failed (no fallback)");
    }
}

/// [`write_socket_counts`] as a [`Display`](core::fmt::Display).
#[derive(Clone, Copy, Debug)]
pub struct Counts(pub SocketCounts);

/// [`write_fallback_reason`] as a [`Display`](core::fmt::Display).
#[derive(Clone, Copy, Debug)]
pub struct FallbackReason(pub i32);

impl core::fmt::Display for Counts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        crate::names::display(f, |out| write_socket_counts(out, &self.0))
    }
}

impl core::fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        crate::names::display(f, |out| write_fallback_reason(out, self.0))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn counts_read_as_the_exit_line_says_them() {
        let c = |mptcp, fell_back, failed, fallback_errno| {
            format!(
                "{}",
                Counts(SocketCounts {
                    mptcp,
                    fell_back,
                    failed,
                    fallback_errno
                })
            )
        };
        assert_eq!(c(1, 0, 0, 0), "1 socket made MPTCP, 0 fell back to TCP");
        assert_eq!(
            c(0, 2, 0, libc::ENOPROTOOPT),
            "0 sockets made MPTCP, 2 fell back to TCP (MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0)"
        );
        assert_eq!(
            c(3, 0, 1, libc::EPROTONOSUPPORT),
            "3 sockets made MPTCP, 0 fell back to TCP (MPTCP unavailable: EPROTONOSUPPORT, kernel without MPTCP), 1 failed (no fallback)"
        );
        assert_eq!(format!("{}", FallbackReason(0)), "MPTCP unavailable");
    }
}
