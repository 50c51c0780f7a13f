//! What the kernel and strace saw of one case, from outside the programs:
//! the MPTCP handshake counters of each namespace (who offered MPTCP, who
//! accepted it, how many subflows joined) and the socket options a program
//! failed to set or get.

use crate::netns::Netns;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// A namespace's counters at one moment.
pub struct Snapshot(HashMap<String, u64>);

impl Snapshot {
    pub fn take(ns: &Netns) -> Snapshot {
        Snapshot(ns.counters())
    }

    /// How much `name` rose since `before`.
    fn rise(&self, before: &Snapshot, name: &str) -> u64 {
        let get = |s: &Snapshot| s.0.get(name).copied().unwrap_or(0);
        get(self).saturating_sub(get(before))
    }
}

/// The client namespace's side of the handshakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientSide {
    /// Connections opened (TCP active opens, less the MPTCP joins).
    pub connections: u64,
    /// SYNs sent with MP_CAPABLE: the client's socket was MPTCP.
    pub offered: u64,
    /// SYN/ACKs received with MP_CAPABLE: the server agreed, MPTCP it is.
    pub accepted: u64,
    /// SYN/ACKs received without MP_CAPABLE: the client fell back to TCP.
    pub refused: u64,
    /// Extra subflows the server answered (MP_JOIN SYN/ACKs received).
    pub joins: u64,
}

/// The server namespace's side of the handshakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerSide {
    /// Connections accepted (TCP passive opens, less the MPTCP joins).
    pub connections: u64,
    /// SYNs with MP_CAPABLE received by an MPTCP listener.
    pub mp_capable: u64,
    /// Extra subflows established (MP_JOIN third ACKs received).
    pub joins: u64,
}

impl ClientSide {
    pub fn between(before: &Snapshot, after: &Snapshot) -> ClientSide {
        let joins = after.rise(before, "MPTcpExtMPJoinSynTx");
        ClientSide {
            connections: after.rise(before, "TcpActiveOpens").saturating_sub(joins),
            offered: after.rise(before, "MPTcpExtMPCapableSYNTX"),
            accepted: after.rise(before, "MPTcpExtMPCapableSYNACKRX"),
            refused: after.rise(before, "MPTcpExtMPCapableFallbackSYNACK"),
            joins: after.rise(before, "MPTcpExtMPJoinSynAckRx"),
        }
    }
}

impl ServerSide {
    pub fn between(before: &Snapshot, after: &Snapshot) -> ServerSide {
        // Passive opens count at the third ACK, joins included.
        let joins = after.rise(before, "MPTcpExtMPJoinAckRx");
        ServerSide {
            connections: after.rise(before, "TcpPassiveOpens").saturating_sub(joins),
            mp_capable: after.rise(before, "MPTcpExtMPCapableSYNRX"),
            joins,
        }
    }
}

/// The strace options that record only the failed socket-option calls.
/// `-I1` lets strace end on SIGTERM (with `-o`, it blocks fatal signals by
/// default), leaving the program to the caller, which kills its group.
pub const STRACE_ARGS: &[&str] = &[
    "-I1",
    "-f",
    "--seccomp-bpf",
    "-qq",
    "-Z",
    "-e",
    "trace=setsockopt,getsockopt",
    "-e",
    "signal=none",
    "-o",
];

/// The failed socket-option calls in a trace written with [`STRACE_ARGS`],
/// without the parts that change from run to run:
/// `setsockopt(SOL_TCP, TCP_KEEPIDLE) = EOPNOTSUPP`.
pub fn failed_sockopts(trace: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    text.lines().filter_map(failed_call).collect()
}

/// One strace line (`1234 setsockopt(5, SOL_TCP, TCP_ULP, "tls", 4) = -1
/// ENOENT (No such file…)`) as `setsockopt(SOL_TCP, TCP_ULP) = ENOENT`.
pub fn failed_call(line: &str) -> Option<String> {
    let start = line.find("sockopt(")?;
    let name_start = line[..start].rfind(' ').map_or(0, |i| i + 1);
    let name = &line[name_start..start + "sockopt".len()];
    let args: Vec<&str> = line[start + "sockopt(".len()..].splitn(4, ", ").collect();
    let (level, option) = (args.get(1)?, args.get(2)?);
    let errno = line.split("= -1 ").nth(1)?.split_whitespace().next()?;
    Some(format!("{name}({level}, {option}) = {errno}"))
}

#[cfg(test)]
mod tests {
    use super::failed_call;

    #[test]
    fn keeps_call_level_option_and_errno() {
        assert_eq!(
            failed_call(
                "4242 setsockopt(5, SOL_TCP, TCP_ULP, \"tls\", 4) = -1 ENOENT (No such file or directory)"
            )
            .as_deref(),
            Some("setsockopt(SOL_TCP, TCP_ULP) = ENOENT")
        );
        assert_eq!(
            failed_call("17 getsockopt(3, SOL_IPV6, IPV6_V6ONLY, 0x7ffc, [4]) = -1 EOPNOTSUPP (x)")
                .as_deref(),
            Some("getsockopt(SOL_IPV6, IPV6_V6ONLY) = EOPNOTSUPP")
        );
        assert_eq!(failed_call("17 +++ exited with 0 +++"), None);
    }
}
