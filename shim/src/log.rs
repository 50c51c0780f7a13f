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

/// A refused `setsockopt()`, for the lines below.
#[derive(Clone, Copy)]
pub struct Sockopt {
    pub fd: c_int,
    pub level: c_int,
    pub name: c_int,
    pub err: c_int,
}

/// Writes `mptcpize[PID]: setsockopt(7, SOL_IP, IP_TTL) refused by MPTCP
/// (EOPNOTSUPP): ` and then `rest`.
#[inline(never)]
fn log_sockopt(c: Sockopt, rest: &str) {
    use mptcpize_rules::sockopt::{level_name, option_name};
    let mut slot = MaybeUninit::uninit();
    let line: &mut Line<MAX> = Line::start(&mut slot, ": ");
    line.s("setsockopt(").i(c.fd.into()).s(", ");
    match level_name(c.level) {
        Some(n) => line.s(n),
        None => line.i(c.level.into()),
    };
    line.s(", ");
    match option_name(c.level, c.name) {
        Some(n) => line.s(n),
        None => line.i(c.name.into()),
    };
    line.s(") refused by MPTCP (");
    names::write_errno(line, c.err);
    line.s("): ").s(rest);
    stderr::write(line.finish());
}

/// `mptcpize[PID]: setsockopt(7, SOL_IP, IP_TTL) refused by MPTCP (EOPNOTSUPP): socket 7 made TCP`
#[cold]
pub fn sockopt_made_tcp(c: Sockopt) {
    let mut slot = MaybeUninit::uninit();
    let fd: &mut Line<32> = Line::empty(&mut slot);
    fd.s("socket ").i(c.fd.into()).s(" made TCP");
    log_sockopt(c, fd.text());
}

/// `mptcpize[PID]: setsockopt(…) refused by MPTCP (EOPNOTSUPP): answered success, its effect holds on MPTCP`
#[cold]
pub fn sockopt_honest(c: Sockopt) {
    log_sockopt(c, "answered success, its effect holds on MPTCP");
}

/// `mptcpize[PID]: setsockopt(…) refused by MPTCP (ENOPROTOOPT): error returned, WHY`
#[cold]
pub fn sockopt_kept(c: Sockopt, why: &str) {
    let mut slot = MaybeUninit::uninit();
    let text: &mut Line<96> = Line::empty(&mut slot);
    text.s("error returned, ").s(why);
    log_sockopt(c, text.text());
}
