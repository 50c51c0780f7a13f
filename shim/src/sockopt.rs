//! The interposed `setsockopt(2)`: options MPTCP refuses.
//!
//! A call that succeeds costs the call itself plus, on a socket the shim
//! converted, recording the option in [`fdtable`] (so that the socket can
//! become TCP later with everything the program set). A call that fails
//! goes to [`refused`], which decides with `mptcpize_rules::sockopt`:
//! a fresh socket becomes TCP ([`revert`]), a connected MPTCP one may get
//! an honest success, everything else gets the kernel's error unchanged.

use crate::{config, fdtable, log, revert};
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};
use mptcpize_rules::sockopt::{self as rules, Refusal, SocketState};

type SetsockoptFn = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, u32) -> c_int;

/// The next `setsockopt()` in the symbol chain; until resolved,
/// [`lazy_setsockopt`], which resolves it.
static NEXT: AtomicPtr<c_void> = AtomicPtr::new(lazy_setsockopt as SetsockoptFn as *mut c_void);

/// Looks the next `setsockopt` up and stores it (from the constructor, so
/// that no dlsym runs later, in a signal handler perhaps).
#[cold]
pub fn resolve() -> SetsockoptFn {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other
    // preconditions; it returns NULL when there is no such symbol.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"setsockopt".as_ptr()) };
    let f: SetsockoptFn = if f.is_null() {
        no_setsockopt
    } else {
        // SAFETY: dlsym's address for `setsockopt`, whose C type is
        // int setsockopt(int, int, int, const void *, socklen_t).
        unsafe { core::mem::transmute::<*mut c_void, SetsockoptFn>(f) }
    };
    NEXT.store(f as *mut c_void, Ordering::Relaxed);
    f
}

/// Stands in for the next `setsockopt()` until the constructor resolved it.
unsafe extern "C" fn lazy_setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: u32,
) -> c_int {
    // SAFETY: `resolve` returns a function of setsockopt()'s C type.
    unsafe { resolve()(fd, level, name, value, len) }
}

/// Stands in for a `setsockopt()` the C library does not have: ENOSYS.
unsafe extern "C" fn no_setsockopt(
    _: c_int,
    _: c_int,
    _: c_int,
    _: *const c_void,
    _: u32,
) -> c_int {
    crate::set_errno(libc::ENOSYS);
    -1
}

/// Calls the next `setsockopt()`.
///
/// # Safety
/// As setsockopt(2): `value` readable for `len` bytes.
#[inline(always)]
unsafe fn next(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int {
    let f = NEXT.load(Ordering::Relaxed);
    // SAFETY: NEXT only ever holds a function of setsockopt()'s C type;
    // the caller passes the program's own arguments.
    unsafe { core::mem::transmute::<*mut c_void, SetsockoptFn>(f)(fd, level, name, value, len) }
}

/// The interposed `setsockopt(2)`.
///
/// # Safety
/// Callable as the C library's `setsockopt()`; the pointer is passed on.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: u32,
) -> c_int {
    let record = fdtable::tracked(fd);
    // SAFETY: the program's own arguments, passed on.
    let rc = unsafe { next(fd, level, name, value, len) };
    if rc == 0 {
        if let Some(record) = record {
            let len = rules::significant_len(level, name, len);
            // SAFETY: the kernel just read at least `len` bytes at `value`.
            unsafe { record.add(level, name, value, len) };
        }
        return 0;
    }
    refused(fd, level, name, value, len, record)
}

/// A `setsockopt()` failed: decide what the program sees.
#[cold]
#[inline(never)]
fn refused(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: u32,
    record: Option<fdtable::Record>,
) -> c_int {
    let err = crate::errno();
    if !rules::is_refusal(err) || !rules::is_tcp_level(level) {
        crate::set_errno(err);
        return -1;
    }
    let config = config::state();
    let state = if config.strict_options() {
        SocketState::Settled
    } else {
        revert::state_of(fd)
    };
    let int_value = if len as usize >= core::mem::size_of::<c_int>() && !value.is_null() {
        // SAFETY: at least an int's bytes are readable (the kernel read
        // them); unaligned because the program's buffer may be.
        Some(unsafe { value.cast::<c_int>().read_unaligned() })
    } else {
        None
    };
    let call = log::Sockopt {
        fd,
        level,
        name,
        err,
    };
    match rules::on_refusal(level, name, int_value, err, state, config.strict_options()) {
        Refusal::Honest => {
            if config.debug() {
                log::sockopt_honest(call);
            }
            0
        }
        Refusal::TryTcp => {
            let outcome = match record {
                Some(record) => revert::to_tcp(fd, record, level, name, value, len),
                None => Err(revert::Why::NotRecorded),
            };
            match outcome {
                Ok(()) => {
                    if config.debug() {
                        log::sockopt_made_tcp(call);
                    }
                    0
                }
                Err(why) => {
                    if config.debug() {
                        log::sockopt_kept(call, why.words());
                    }
                    crate::set_errno(err);
                    -1
                }
            }
        }
        Refusal::Keep => {
            if config.debug() {
                let why = match state {
                    _ if config.strict_options() => "--strict-options",
                    SocketState::Connected => "the socket is connected",
                    _ => "the socket is listening, connecting or not one the shim made",
                };
                log::sockopt_kept(call, why);
            }
            crate::set_errno(err);
            -1
        }
    }
}
