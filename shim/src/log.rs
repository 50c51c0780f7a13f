//! The debug log (`MPTCPIZE_DEBUG=1`): one line per converted socket, per
//! fallback and per failure, built on the stack and written with a single
//! write(2) to the stderr the process had when the library loaded (see
//! `mptcpize_preload::stderr`), in the words of `mptcpize_rules::names`.
//! errno is preserved.

use core::ffi::c_int;
use core::mem::MaybeUninit;
use mptcpize_preload::line::Line;
use mptcpize_preload::stderr;
use mptcpize_rules::names;

/// The longest line; longer text is cut.
const MAX: usize = 192;

/// Writes `mptcpize[PID]: socket(…)` and then what `rest` adds.
#[inline(never)]
fn log(domain: c_int, ty: c_int, protocol: c_int, rest: impl FnOnce(&mut Line<MAX>)) {
    let mut slot = MaybeUninit::uninit();
    let line = Line::start(&mut slot, ": ");
    names::write_socket_call(line, domain, ty, protocol);
    rest(line);
    stderr::write(line.finish());
}

/// `mptcpize[PID]: socket(AF_INET, SOCK_STREAM, 0) = 3: MPTCP`
#[cold]
pub fn converted(domain: c_int, ty: c_int, protocol: c_int, fd: c_int) {
    log(domain, ty, protocol, |line| {
        line.s(" = ").i(fd.into()).s(": MPTCP");
    });
}

/// `mptcpize[PID]: socket(…) = 3: TCP, MPTCP unavailable (ENOPROTOOPT), fallback for the rest of the process`
#[cold]
pub fn fell_back(domain: c_int, ty: c_int, protocol: c_int, err: c_int, fd: c_int) {
    log(domain, ty, protocol, |line| {
        line.s(" = ").i(fd.into()).s(": TCP, MPTCP unavailable (");
        names::write_errno(line, err);
        line.s("), fallback for the rest of the process");
    });
}

/// `mptcpize[PID]: socket(…) = -1: MPTCP failed (ENOPROTOOPT), fallback disabled`
#[cold]
pub fn failed(domain: c_int, ty: c_int, protocol: c_int, err: c_int, no_fallback: bool) {
    log(domain, ty, protocol, |line| {
        line.s(" = -1: MPTCP failed (");
        names::write_errno(line, err);
        line.s(if no_fallback {
            "), fallback disabled"
        } else {
            ")"
        });
    });
}
