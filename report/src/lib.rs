//! `libmptcpize_report.so`: the report of `mptcpize-rs run --report`, a
//! preload library of its own, which the launcher puts in `LD_PRELOAD`
//! before the core shim (`libmptcpize.so`) only when a report is asked for.
//! Programs that do not report carry none of it.
//!
//! It interposes `socket()` and chains to the next one, the core shim's,
//! reading what became of each socket the rules convert from the socket
//! itself (`SO_PROTOCOL`): the two libraries share no state. It follows
//! those sockets, and those `accept()` returns on them, and reports each
//! connection when `close()`, `dup2()`, `dup3()` or `close_range()` closes
//! it (`shutdown()` takes a sample first), and at exit ([`follow`]). After a
//! successful `setsockopt()` on a followed MPTCP socket it reads
//! `SO_PROTOCOL` again: the core shim makes a fresh socket TCP when MPTCP
//! refuses an option, and the report counts those. Lines go where [`dest`]
//! says.
//!
//! Every interposer is async-signal-safe: atomics, syscalls on the stack,
//! and calls to the next definition, looked up when the library loads.
#![cfg_attr(not(test), no_std)]
// Unit tests build the crate without its C entry points.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod atfork;
mod closer;
mod dest;
mod diag;
mod follow;
mod next;
mod rawclose;
mod render;
mod sockinfo;
mod stdio;
mod table;

use closer::Closed;
use core::ffi::{c_char, c_int, c_uint, c_void};
use core::sync::atomic::{AtomicU8, Ordering};
use mptcpize_preload::environ::{Constructor, Environ};
use mptcpize_rules::should_convert;

const UNREAD: u8 = 0;
const STARTING: u8 = 1;
const ON: u8 = 2;
const OFF: u8 = 3;

/// Whether the report is on: read when the library loads ([`on`]).
static STATE: AtomicU8 = AtomicU8::new(UNREAD);

/// True when the report is on; the first call (the constructor's, or a
/// socket() from another library's constructor before it) reads the
/// environment, opens the destination and starts following.
#[inline(always)]
fn on() -> bool {
    match STATE.load(Ordering::Acquire) {
        ON => true,
        UNREAD => start(Environ::current()),
        _ => false,
    }
}

#[cold]
#[inline(never)]
fn start(environ: Environ) -> bool {
    if STATE
        .compare_exchange(UNREAD, STARTING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // Another thread is starting it: this one call is not followed.
        return STATE.load(Ordering::Acquire) == ON;
    }
    next::resolve_all();
    let on = environ.with_settings(|s| {
        // An unknown format is text (the launcher refuses it before).
        render::set_format(s.report_format().unwrap_or_default());
        dest::open(s.report())
    });
    if on {
        follow::start();
    }
    STATE.store(if on { ON } else { OFF }, Ordering::Release);
    on
}

/// The interposed `socket(2)`: the next one (the core shim's) makes the
/// socket; a TCP socket the rules convert is followed.
///
/// # Safety
/// Callable as the C library's `socket()`; it takes and returns integers.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: integers, passed on.
    let fd = unsafe { next::socket(domain, ty, protocol) };
    if should_convert(domain, ty, protocol) && on() {
        follow::made(fd);
    }
    fd
}

/// The interposed `close(2)`: reports a followed connection first.
///
/// # Safety
/// Callable as the C library's `close()`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if !on() {
        // SAFETY: the caller's argument, passed on.
        return unsafe { next::close(fd) };
    }
    // SAFETY: the caller's argument, passed on.
    closer::closing(fd, Closed::Close, || unsafe { next::close(fd) })
}

/// The interposed `shutdown(2)`: a followed connection's subflows and peer
/// are noted first.
///
/// # Safety
/// Callable as the C library's `shutdown()`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    if on() {
        follow::shutting_down(fd, how);
    }
    // SAFETY: the caller's arguments, passed on.
    unsafe { next::shutdown(fd, how) }
}

/// The interposed `dup2(2)`: `new` is closed if it was open.
///
/// # Safety
/// Callable as the C library's `dup2()`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if !on() {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { next::dup2(old, new) };
    }
    // SAFETY: the caller's arguments, passed on.
    closer::replacing(old, new, || unsafe { next::dup2(old, new) })
}

/// The interposed `dup3(2)`: `new` is closed if it was open.
///
/// # Safety
/// Callable as the C library's `dup3()`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    if !on() {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { next::dup3(old, new, flags) };
    }
    // SAFETY: the caller's arguments, passed on.
    closer::replacing(old, new, || unsafe { next::dup3(old, new, flags) })
}

/// The interposed `close_range(2)`: reports the followed connections in the
/// range unless it only marks them close-on-exec.
///
/// # Safety
/// Callable as the C library's `close_range()`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let close_range = || unsafe { next::close_range(first, last, flags) };
    if on() && flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        return follow::closing_range(first, last, flags, close_range);
    }
    close_range()
}

/// The interposed `accept(2)`: a connection accepted on a followed listener
/// is followed.
///
/// # Safety
/// Callable as the C library's `accept()`; the pointers are passed on.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn accept(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
) -> c_int {
    // SAFETY: the caller's pointers, valid as accept() requires, passed on.
    let conn = unsafe { next::accept(fd, addr, len) };
    if conn >= 0 && on() {
        follow::accepted(fd, conn);
    }
    conn
}

/// The interposed `accept4(2)`, as [`accept`].
///
/// # Safety
/// Callable as the C library's `accept4()`; the pointers are passed on.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: as in accept().
    let conn = unsafe { next::accept4(fd, addr, len, flags) };
    if conn >= 0 && on() {
        follow::accepted(fd, conn);
    }
    conn
}

/// The interposed `setsockopt(2)`: the next one (the core shim's) may
/// make a fresh MPTCP socket TCP when MPTCP refuses the option.
///
/// # Safety
/// Callable as the C library's `setsockopt()`; the pointer is passed on.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: libc::socklen_t,
) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    let rc = unsafe { next::setsockopt(fd, level, name, value, len) };
    if rc == 0 && on() {
        follow::option_set(fd);
    }
    rc
}

/// Starts the report when the library loads, before `main`, from the
/// environment the C library passes to constructors.
///
/// # Safety
/// Called by the C library's loader, with its `envp`.
unsafe extern "C" fn at_load(_: c_int, _: *const *const c_char, envp: *const *const c_char) {
    if STATE.load(Ordering::Acquire) == UNREAD {
        // SAFETY: the loader's environment array.
        start(unsafe { Environ::from_ptr(envp) });
    }
}

#[cfg(not(test))]
#[used]
#[link_section = ".init_array"]
static AT_LOAD: Constructor = at_load;

/// Run by the C library when the process exits, after the program's own
/// atexit handlers.
extern "C" fn at_exit() {
    if STATE.load(Ordering::Acquire) == ON {
        follow::at_exit();
    }
}

#[cfg(not(test))]
#[used]
#[link_section = ".fini_array"]
static AT_EXIT: extern "C" fn() = at_exit;

mptcpize_preload::c_boundary!();
