//! `libmptcpize.so`: an `LD_PRELOAD` library that interposes `socket()` and
//! `setsockopt()`, and nothing else: it creates Multipath TCP sockets where
//! the program asks for TCP ones, falling back to TCP where the kernel has
//! no MPTCP, and makes a socket TCP again when MPTCP refuses an option the
//! program sets before connecting ([`sockopt`]).
//!
//! The decision comes from `mptcpize-rules`; this file only wires it to the
//! C ABI. The `socket()` path is async-signal-safe like `socket()` itself: it
//! reads two atomics, makes at most two calls to the next `socket()` in the
//! chain, and, when debugging, writes one line with write(2) from a stack
//! buffer. It never allocates, locks or reads the environment (the
//! configuration is read once when the library loads: [`config`]).
//!
//! The per-connection report (`run --report`) is another library,
//! `libmptcpize_report.so`, preloaded before this one; it learns what this
//! one made of each socket from the socket itself (`SO_PROTOCOL`).
#![cfg_attr(not(test), no_std)]
// Unit tests build the crate without its C entry points.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod config;
mod fallback;
mod fdtable;
mod log;
mod next;
mod revert;
mod sockopt;

use core::ffi::{c_char, c_int};
use mptcpize_preload::environ::{Constructor, Environ};
use mptcpize_preload::errno;
use mptcpize_rules::{is_fallback_errno, plan, Plan, IPPROTO_MPTCP};

/// The interposed `socket(2)`.
///
/// The hot path is kept short (see the README's benchmark): it decides with
/// the fallback flag, tail-calls the next `socket()` for sockets it leaves
/// alone, and keeps the call's arguments packed in one register across the
/// MPTCP attempt. Everything rarer (a failure, the debug log, the first call
/// before the constructor ran) is in [`after_mptcp`].
///
/// # Safety
/// Callable as the C library's `socket()`; it takes and returns plain integers.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    match plan(domain, ty, protocol, fallback::mptcp_unavailable()) {
        Plan::PassThrough if protocol == IPPROTO_MPTCP => return explicit_mptcp(domain, ty),
        Plan::PassThrough | Plan::TcpKnownUnavailable => return next::socket(domain, ty, protocol),
        Plan::Mptcp => {}
    }
    let call = Call::pack(domain, ty, protocol);
    let fd = next::socket(domain, ty, IPPROTO_MPTCP);
    // Marked for setsockopt() in one comparison and one store; a failure,
    // an fd beyond the record or the debug log goes the long way.
    if !fdtable::converted_fast(fd) {
        return after_mptcp(call, fd);
    }
    fd
}

/// A socket the program itself asked to be MPTCP: not the shim's to make
/// TCP when an option is refused, so its fd's record is dropped.
#[cold]
#[inline(never)]
fn explicit_mptcp(domain: c_int, ty: c_int) -> c_int {
    let fd = next::socket(domain, ty, IPPROTO_MPTCP);
    if let Some(record) = fdtable::tracked(fd) {
        record.forget();
    }
    fd
}

/// The arguments of a `socket()` call the rules convert, in one word kept
/// across the MPTCP attempt (one callee-saved register instead of three):
/// `ty` in the low 32 bits, `domain * 8 + protocol` above. That packing is
/// exact for the calls the rules convert only: `domain` is `AF_INET` or
/// `AF_INET6`, `protocol` 0 or `IPPROTO_TCP` (less than 8).
#[derive(Clone, Copy)]
struct Call(u64);

impl Call {
    #[inline(always)]
    fn pack(domain: c_int, ty: c_int, protocol: c_int) -> Call {
        let high = (domain as u32)
            .wrapping_mul(8)
            .wrapping_add(protocol as u32);
        let mut word = u64::from(ty as u32) | u64::from(high) << 32;
        // Packed here, before the call, rather than after it from three
        // saved registers (what the compiler does otherwise): the empty
        // asm hides the value's origin, and, not being `pure`, cannot be
        // moved past the call into the cold branch that uses it.
        // SAFETY: an asm block with only a comment: no instruction, no
        // memory, no stack.
        unsafe { core::arch::asm!("/* {0} */", inout(reg) word, options(nomem, nostack)) };
        Call(word)
    }
    fn domain(self) -> c_int {
        ((self.0 >> 32) as u32 / 8) as c_int
    }
    fn ty(self) -> c_int {
        self.0 as u32 as c_int
    }
    fn protocol(self) -> c_int {
        ((self.0 >> 32) as u32 % 8) as c_int
    }
}

/// The MPTCP attempt gave `fd`, and it failed or the configuration asks for
/// more (not read yet, debug log on). Logs a success, or falls back to the
/// TCP socket the program asked for when the kernel says MPTCP is
/// unavailable and fallback is allowed; any other error is returned as it is.
#[cold]
#[inline(never)]
fn after_mptcp(call: Call, fd: c_int) -> c_int {
    let err = errno::get();
    let config = config::get();
    let (domain, ty, protocol) = (call.domain(), call.ty(), call.protocol());
    if fd >= 0 {
        fdtable::converted(fd);
        if config.debug() {
            log::converted(domain, ty, protocol, fd);
        }
        return fd;
    }
    if config.no_fallback() || !is_fallback_errno(err) {
        if config.debug() {
            log::failed(domain, ty, protocol, err, config.no_fallback());
        }
        errno::set(err);
        return -1;
    }
    let fd = next::socket(domain, ty, protocol);
    if fd >= 0 {
        // Only an error that TCP does not share means "no MPTCP here": an
        // EINVAL for bad flags fails again and leaves the flag alone.
        fallback::mark_mptcp_unavailable();
        if config.debug() {
            log::fell_back(domain, ty, protocol, err, fd);
        }
    }
    fd
}

/// Reads the configuration and finds the next `socket()` when the library
/// loads, before `main` (and before most other libraries' constructors),
/// from the environment the C library passes to constructors.
///
/// # Safety
/// Called by the C library's loader, with its `envp`.
unsafe extern "C" fn at_load(_: c_int, _: *const *const c_char, envp: *const *const c_char) {
    // SAFETY: the loader's environment array.
    config::read(unsafe { Environ::from_ptr(envp) });
    next::resolve();
}

#[cfg(not(test))]
#[used]
#[link_section = ".init_array"]
static AT_LOAD: Constructor = at_load;

mptcpize_preload::c_boundary!();
