//! The interposed `setsockopt(2)`: options MPTCP refuses.
//!
//! A call that succeeds costs the call itself plus, on a socket the shim
//! converted, recording the option in [`fdtable`] (so that the socket can
//! become TCP later with everything the program set). A call that fails
//! goes to [`refused`], which decides with `mptcpize_rules::sockopt`:
//! a fresh socket becomes TCP ([`revert`]), a connected MPTCP one may get
//! an honest success, everything else gets the kernel's error unchanged.

use crate::{config, fdtable, log, next, revert};
use core::ffi::{c_int, c_void};
use mptcpize_preload::errno;
use mptcpize_rules::sockopt::{self as rules, Refusal, SocketState};

/// The interposed `setsockopt(2)`.
///
/// The hot path is a check and a tail call: a socket the shim did not
/// convert (or whose record it dropped) needs nothing, unless the option is
/// one whose refusal may be answered honestly (`SO_OOBINLINE`: on the
/// connections a converted listener accepts, which are not in the record)
/// or the debug log wants to say what happened.
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
    if !fdtable::is_tracked(fd) && !rules::maybe_honest(level, name) && config::quiet() {
        // SAFETY: the program's own arguments, passed on.
        return unsafe { next::setsockopt(fd, level, name, value, len) };
    }
    // SAFETY: as above.
    unsafe { followed(fd, level, name, value, len) }
}

/// A `setsockopt()` whose outcome matters: on a converted socket (a success
/// is recorded), or one that may need an answer or a debug line.
///
/// # Safety
/// As [`setsockopt`].
#[inline(never)]
unsafe fn followed(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int {
    // SAFETY: the program's own arguments, passed on.
    let rc = unsafe { next::setsockopt(fd, level, name, value, len) };
    if rc != 0 {
        if !rules::is_refusal(errno::get()) || !rules::is_tcp_level(level) {
            return -1;
        }
        // SAFETY: setsockopt's contract: `value` is readable for `len`
        // bytes (a refused option is one the kernel did not read or did
        // not mind).
        return refused(fd, level, name, unsafe { revert::value_bytes(value, len) });
    }
    if let Some(record) = fdtable::tracked(fd) {
        let len = rules::significant_len(level, name, len);
        // SAFETY: the kernel just read at least `len` bytes at `value`.
        unsafe { record.add(level, name, value, len) };
    }
    0
}

/// MPTCP refused an option at a level TCP answers (errno says which
/// refusal): decide what the program sees.
#[cold]
#[inline(never)]
fn refused(fd: c_int, level: c_int, name: c_int, value: &[u8]) -> c_int {
    let err = errno::get();
    // The shim's own system calls leave the program's errno alone.
    let guard = errno::Guard::save();
    let config = config::get();
    let strict = config.strict_options();
    let state = if strict {
        SocketState::Settled
    } else {
        revert::state_of(fd)
    };
    let int_value = value
        .get(..4)
        .map(|b| c_int::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    let call = log::Sockopt {
        fd,
        level,
        name,
        err,
    };
    let (rc, said) = match rules::on_refusal(level, name, int_value, err, state, strict) {
        Refusal::Honest => (0, Said::Honest),
        Refusal::TryTcp => match fdtable::tracked(fd)
            .ok_or(revert::Why::NotRecorded)
            .and_then(|r| revert::to_tcp(fd, r, level, name, value))
        {
            Ok(()) => (0, Said::MadeTcp),
            Err(why) => (-1, Said::Kept(why.words())),
        },
        Refusal::Keep => (
            -1,
            Said::Kept(match state {
                _ if strict => "--strict-options",
                SocketState::Connected => "the socket is connected",
                _ => "the socket is listening, connecting or not one the shim made",
            }),
        ),
    };
    if config.debug() {
        match said {
            Said::Honest => log::sockopt_honest(call),
            Said::MadeTcp => log::sockopt_made_tcp(call),
            Said::Kept(why) => log::sockopt_kept(call, why),
        }
    }
    drop(guard);
    rc
}

/// What the debug line says.
enum Said {
    Honest,
    MadeTcp,
    Kept(&'static str),
}
