//! `libmptcpize.so`: an `LD_PRELOAD` library that interposes `socket()` and
//! creates Multipath TCP sockets where the program asks for TCP ones.
//!
//! The decision comes from `mptcpize-rules`; this file only wires it to the
//! C ABI. The `socket()` path is async-signal-safe like `socket()` itself: it
//! reads two atomics, makes at most two calls to the next `socket()` in the
//! chain, and, when debugging, writes one line with write(2) from a stack
//! buffer. It never allocates, locks or reads the environment (the
//! configuration is read once by [`config::init`]).
#![cfg_attr(not(test), no_std)]

mod config;
mod log;
mod next;

use core::ffi::c_int;
use mptcpize_rules::{is_fallback_errno, plan, Plan, IPPROTO_MPTCP};

/// The interposed `socket(2)`.
///
/// # Safety
/// Callable as the C library's `socket()`; it takes and returns plain integers.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let state = config::state();
    match plan(domain, ty, protocol, state.mptcp_unavailable()) {
        Plan::PassThrough | Plan::TcpKnownUnavailable => next::socket(domain, ty, protocol),
        Plan::Mptcp => mptcp_socket(state, domain, ty, protocol),
    }
}

/// Creates the MPTCP socket, or the TCP socket the program asked for when the
/// kernel says MPTCP is unavailable and fallback is allowed.
#[cold]
#[inline(never)]
fn fall_back(state: config::State, domain: c_int, ty: c_int, protocol: c_int, err: c_int) -> c_int {
    if state.no_fallback() || !is_fallback_errno(err) {
        if state.debug() {
            log::failed(domain, ty, protocol, err, state.no_fallback());
        }
        set_errno(err);
        return -1;
    }
    let fd = next::socket(domain, ty, protocol);
    if fd >= 0 {
        // Only an error that TCP does not share means "no MPTCP here": an
        // EINVAL for bad flags fails again and leaves the flag alone.
        config::mark_mptcp_unavailable();
        if state.debug() {
            log::fell_back(domain, ty, protocol, err, fd);
        }
    }
    fd
}

#[inline(always)]
fn mptcp_socket(state: config::State, domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let fd = next::socket(domain, ty, IPPROTO_MPTCP);
    if fd < 0 {
        return fall_back(state, domain, ty, protocol, errno());
    }
    if state.debug() {
        log::converted(domain, ty, protocol, fd);
    }
    fd
}

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: c_int) {
    // SAFETY: as in errno(): the calling thread's own errno slot.
    unsafe { *libc::__errno_location() = value }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No code path here can panic; if one ever did, abort rather than unwind
    // across the C ABI.
    // SAFETY: abort() never returns and is async-signal-safe.
    unsafe { libc::abort() }
}

/// Unoptimised builds link core's unwind tables, which name this symbol even
/// though nothing unwinds under panic = "abort" (release builds, with LTO,
/// drop the reference). It is never called.
#[cfg(all(not(test), debug_assertions))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
