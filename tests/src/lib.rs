//! Helpers for the integration tests (and the benchmark, `xtask`): what
//! every test uses ([`common`]: the launcher command, the byte pattern, the
//! handshake counters, scratch directories), the built artifacts, the root/MPTCP precondition, network namespaces joined by
//! rate-limited and optionally delayed paths (the multipath testbed),
//! threads inside a namespace, interface counters sampled over time,
//! child processes that never outlive a test, and what we ship (`make
//! install`, the packages, a Debian 11 root to run them in).
//!
//! Every resource here cleans up in `Drop`, so a failing (panicking) test
//! leaves no namespace, link or process behind; a process ended by a signal
//! calls [`proc::kill_all`] and [`netns::teardown_all`] from its handler.

pub mod artifacts;
pub mod common;
pub mod compat;
pub mod delay;
pub mod enter;
pub mod gobuild;
pub mod netns;
pub mod proc;
pub mod require;
pub mod sampler;
pub mod shipped;
pub mod systemd;

pub use artifacts::{bin, launcher, preload_with_report, report_library, shim};
pub use common::{
    assert_fails, mptcpize, pattern, write_pattern, CounterWatch, Counters, ScratchDir,
    MP_CAPABLE_SYN_RX, MP_JOIN_ACK_RX, MP_JOIN_SYN_ACK_RX, MP_JOIN_SYN_TX,
};
pub use netns::{Netns, Testbed, TestbedConfig};
pub use proc::{Child, Output};
