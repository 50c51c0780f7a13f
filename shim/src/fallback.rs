//! Whether MPTCP proved unavailable in this process: set by the first
//! `socket()` that fell back to TCP, so that the next ones make their TCP
//! socket directly, without a second failing syscall. Only ever set.

use core::sync::atomic::{AtomicBool, Ordering};

static MPTCP_UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// True once a `socket()` in this process fell back to TCP.
#[inline(always)]
pub fn mptcp_unavailable() -> bool {
    MPTCP_UNAVAILABLE.load(Ordering::Relaxed)
}

/// Remembers for the rest of the process that MPTCP sockets cannot be made.
pub fn mark_mptcp_unavailable() {
    MPTCP_UNAVAILABLE.store(true, Ordering::Relaxed);
}
