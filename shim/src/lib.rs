//! `libmptcpize.so`: an `LD_PRELOAD` library that interposes `socket()` and
//! creates Multipath TCP sockets where the program asks for TCP ones.
//!
//! The decision comes from `mptcpize-rules`; this file only wires it to the
//! C ABI. The `socket()` path is async-signal-safe like `socket()` itself: it
//! reads two atomics, makes at most two calls to the next `socket()` in the
//! chain, and, when debugging, writes one line with write(2) from a stack
//! buffer. It never allocates, locks or reads the environment (the
//! configuration is read once by [`config::init`]).
//!
//! With `MPTCPIZE_REPORT` set, [`report`] follows the sockets made here and
//! those accepted on them, and reports each connection when `close()`,
//! `dup2()`, `dup3()` or `close_range()` closes it (`shutdown()` takes a
//! sample first), and at exit. Without it those functions only pass through:
//! one atomic load and a tail call.
#![cfg_attr(not(test), no_std)]
// Unit tests build the crate without its C entry points.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod config;
mod fdtable;
mod line;
mod log;
mod next;
mod report;
mod revert;
mod sockinfo;
mod sockopt;
mod sys;
mod table;

use core::ffi::{c_int, c_uint};
use mptcpize_rules::{is_fallback_errno, plan, Plan, IPPROTO_MPTCP};

/// The interposed `socket(2)`.
///
/// The hot path is kept short (see the README's benchmark): it decides with
/// the one atomic word of [`config`], tail-calls the next `socket()` for
/// sockets it leaves alone, and keeps the call's arguments packed in one
/// register across the MPTCP attempt. Everything rarer (a failure, the debug
/// log, the report, the first call before the constructor ran) is in
/// [`after_mptcp`].
///
/// # Safety
/// Callable as the C library's `socket()`; it takes and returns plain integers.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    match plan(domain, ty, protocol, config::mptcp_unavailable()) {
        Plan::PassThrough if protocol == IPPROTO_MPTCP => return explicit_mptcp(domain, ty),
        Plan::PassThrough => return next::socket(domain, ty, protocol),
        Plan::TcpKnownUnavailable => return known_unavailable(domain, ty, protocol),
        Plan::Mptcp => {}
    }
    let call = Call::pack(domain, ty, protocol);
    let fd = next::socket(domain, ty, IPPROTO_MPTCP);
    fdtable::converted(fd);
    if fd < 0 || config::needs_attention() {
        return after_mptcp(call, fd);
    }
    fd
}

/// A TCP socket in a process where MPTCP already proved unavailable: made
/// as TCP directly, and followed when the report is on.
#[cold]
#[inline(never)]
fn known_unavailable(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let fd = next::socket(domain, ty, protocol);
    if fd >= 0 && config::report_on() {
        report::fell_back(fd, 0);
    }
    fd
}

/// A socket the program itself asked to be MPTCP: it is not the shim's to
/// make TCP when an option is refused, so its fd's record is dropped.
#[cold]
#[inline(never)]
fn explicit_mptcp(domain: c_int, ty: c_int) -> c_int {
    let fd = next::socket(domain, ty, IPPROTO_MPTCP);
    if let Some(record) = fdtable::tracked(fd) {
        record.forget();
    }
    fd
}

/// The interposed `close(2)`: reports a followed connection first.
///
/// # Safety
/// Callable as the C library's `close()`.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if config::report_on() {
        report::closing(fd);
    }
    next::close(fd)
}

/// The interposed `shutdown(2)`: a followed connection's subflows and peer
/// are noted first.
///
/// # Safety
/// Callable as the C library's `shutdown()`.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    if config::report_on() {
        report::shutting_down(fd, how);
    }
    next::shutdown(fd, how)
}

/// The interposed `dup2(2)`: `new` is closed if it was open.
///
/// # Safety
/// Callable as the C library's `dup2()`.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if config::report_on() {
        report::replacing(old, new);
    }
    next::dup2(old, new)
}

/// The interposed `dup3(2)`: `new` is closed if it was open.
///
/// # Safety
/// Callable as the C library's `dup3()`.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    if config::report_on() {
        report::replacing(old, new);
    }
    next::dup3(old, new, flags)
}

/// The interposed `close_range(2)`: reports the followed connections in the
/// range unless it only marks them close-on-exec.
///
/// # Safety
/// Callable as the C library's `close_range()`.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    if config::report_on() && flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        report::closing_range(first, last);
    }
    next::close_range(first, last, flags)
}

/// The interposed `accept(2)`: a connection accepted on an MPTCP listener
/// is followed.
///
/// # Safety
/// Callable as the C library's `accept()`; the pointers are passed on.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn accept(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
) -> c_int {
    let conn = next::accept(fd, addr, len);
    if conn >= 0 && config::state().report() {
        report::accepted(fd, conn);
    }
    conn
}

/// The interposed `accept4(2)`, as [`accept`].
///
/// # Safety
/// Callable as the C library's `accept4()`; the pointers are passed on.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
    flags: c_int,
) -> c_int {
    let conn = next::accept4(fd, addr, len, flags);
    if conn >= 0 && config::state().report() {
        report::accepted(fd, conn);
    }
    conn
}

/// The arguments of a `socket()` call the shim converts, in one word:
/// `ty` in the low 32 bits, `domain` and `protocol` (both small) above.
#[derive(Clone, Copy)]
struct Call(u64);

impl Call {
    #[inline(always)]
    fn pack(domain: c_int, ty: c_int, protocol: c_int) -> Call {
        Call(
            u64::from(ty as u32)
                | (u64::from(domain as u16) << 32)
                | (u64::from(protocol as u16) << 48),
        )
    }
    fn domain(self) -> c_int {
        c_int::from((self.0 >> 32) as u16)
    }
    fn ty(self) -> c_int {
        self.0 as u32 as c_int
    }
    fn protocol(self) -> c_int {
        c_int::from((self.0 >> 48) as u16)
    }
}

/// The MPTCP attempt gave `fd`, and it failed or the state asks for more
/// (configuration not read yet, debug log on). Logs a success, or falls back
/// to the TCP socket the program asked for when the kernel says MPTCP is
/// unavailable and fallback is allowed; any other error is returned as it is.
#[cold]
#[inline(never)]
fn after_mptcp(call: Call, fd: c_int) -> c_int {
    let err = errno();
    let state = config::state();
    let (domain, ty, protocol) = (call.domain(), call.ty(), call.protocol());
    if fd >= 0 {
        if state.debug() {
            log::converted(domain, ty, protocol, fd);
        }
        if state.report() {
            report::converted(fd);
        }
        return fd;
    }
    if state.no_fallback() || !is_fallback_errno(err) {
        if state.debug() {
            log::failed(domain, ty, protocol, err, state.no_fallback());
        }
        if state.report() && is_fallback_errno(err) {
            report::failed(err);
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
        if state.report() {
            report::fell_back(fd, err);
        }
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
