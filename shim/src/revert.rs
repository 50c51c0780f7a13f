//! Making a converted socket the TCP socket the program asked for, on the
//! same fd, after MPTCP refused an option (see [`crate::sockopt`]).
//!
//! Only a fresh socket can change protocol: one the shim made MPTCP that
//! has neither connected, started connecting nor listened. The new TCP
//! socket gets everything the program did to the old one — same family,
//! the file status flags (`O_NONBLOCK`, `O_ASYNC`) and owner, every option
//! it set (from [`fdtable`]), the address it is bound to — and then the
//! refused option. Only if all of that succeeds does `dup3()` put it on the
//! program's fd, atomically (with `FD_CLOEXEC` as the old fd had it), and
//! the spare is closed; otherwise the spare is closed and the program gets
//! the kernel's error, as without the shim's help.
//!
//! The system calls go to the kernel directly (`mptcpize_preload::sys`),
//! not through the symbol chain: they are the shim's own, not the
//! program's, and other preloaded libraries already saw the program's calls.

use crate::fdtable::{Record, SetOption};
use core::ffi::{c_int, c_void};
use mptcpize_preload::sys::{self, RawAddr};
use mptcpize_rules::sockopt::SocketState;
use mptcpize_rules::IPPROTO_MPTCP;

/// Why a fresh socket kept MPTCP and the program got the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The fd is beyond the record, or the shim did not create the socket.
    NotRecorded,
    /// The program set more options, or longer ones, than the record keeps.
    Incomplete,
    /// TCP refuses the option too.
    TcpRefuses,
    /// An option the program set earlier could not be set on TCP.
    Replay,
    /// The bound address could not be taken over.
    Bind,
    /// The kernel refused a socket, fcntl or dup3.
    System,
}

impl Why {
    /// Words for the debug line.
    pub fn words(self) -> &'static str {
        match self {
            Why::NotRecorded => "the shim has no record of this socket's options",
            Why::Incomplete => "more options were set on it than the shim records",
            Why::TcpRefuses => "TCP refuses it too",
            Why::Replay => "an option set earlier could not be carried over to TCP",
            Why::Bind => "its bound address could not be carried over to TCP",
            Why::System => "no TCP socket could be made",
        }
    }
}

/// Where the socket on `fd` stands, read from the kernel.
pub fn state_of(fd: c_int) -> SocketState {
    if sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) != Some(IPPROTO_MPTCP)
        || sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) != Some(0)
    {
        return SocketState::Settled;
    }
    if sys::getpeername(fd).is_some() {
        return SocketState::Connected;
    }
    // Neither connected nor listening: a socket that has not started to
    // connect is in TCP_CLOSE, which poll reports as POLLHUP; one in
    // SYN_SENT is not.
    match sys::poll_now(fd, libc::POLLOUT) {
        Some(revents) if revents & libc::POLLHUP != 0 => SocketState::Fresh,
        _ => SocketState::Settled,
    }
}

/// Makes the fresh MPTCP socket on `fd` TCP, with everything the program
/// set, then sets `level`/`name` to `value` on it.
pub fn to_tcp(
    fd: c_int,
    record: Record,
    level: c_int,
    name: c_int,
    value: &[u8],
) -> Result<(), Why> {
    if !record.complete() {
        return Err(Why::Incomplete);
    }
    let domain = sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN).ok_or(Why::System)?;
    let status = sys::fcntl(fd, libc::F_GETFL, 0).map_err(|_| Why::System)?;
    let fd_flags = sys::fcntl(fd, libc::F_GETFD, 0).map_err(|_| Why::System)?;
    // Close-on-exec until it takes the program's fd: a fork and exec in
    // another thread must not inherit the spare.
    let spare = sys::socket(
        domain,
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
        libc::IPPROTO_TCP,
    )
    .map(Spare)
    .map_err(|_| Why::System)?;
    let new = spare.0;

    // Options first: some decide whether the bind succeeds (SO_REUSEADDR,
    // SO_REUSEPORT, IP_FREEBIND, IP_TRANSPARENT, SO_BINDTODEVICE).
    let mut reuse_addr = 0;
    let replayed = record.each(|o| {
        if o.level == libc::SOL_SOCKET && o.name == libc::SO_REUSEADDR && o.len >= 4 {
            reuse_addr = o.value[0] as c_int;
        }
        sys::setsockopt(new, o.level, o.name, bytes(o)).is_ok()
    });
    if !replayed {
        return Err(Why::Replay);
    }
    sys::setsockopt(new, level, name, value).map_err(|_| Why::TcpRefuses)?;
    take_over_address(fd, new, reuse_addr)?;
    sys::fcntl(new, libc::F_SETFL, status).map_err(|_| Why::System)?;
    // The process (or, negative, group) that gets SIGIO/SIGURG, if any.
    let owner = sys::fcntl(fd, libc::F_GETOWN, 0).unwrap_or(0);
    if owner != 0 {
        sys::fcntl(new, libc::F_SETOWN, owner).map_err(|_| Why::System)?;
    }
    let cloexec = if fd_flags & libc::FD_CLOEXEC != 0 {
        libc::O_CLOEXEC
    } else {
        0
    };
    // The one step the program can see: its fd now holds the TCP socket.
    sys::dup3(new, fd, cloexec).map_err(|_| Why::System)?;
    record.forget();
    Ok(())
}

/// The recorded value's bytes.
fn bytes(o: &SetOption) -> &[u8] {
    // SAFETY: the words' bytes; `len` is at most their size (VALUE_MAX).
    let all = unsafe {
        core::slice::from_raw_parts(
            o.value.as_ptr().cast::<u8>(),
            core::mem::size_of_val(&o.value),
        )
    };
    &all[..(o.len as usize).min(all.len())]
}

/// Binds `new` where the socket on `fd` is bound, if it is. The old socket
/// still holds the address until dup3 closes it: both get SO_REUSEADDR
/// for the bind (neither listens, so TCP allows it), and then `new` gets
/// back the program's own setting (`reuse_addr`); on failure `fd` does.
fn take_over_address(fd: c_int, new: c_int, reuse_addr: c_int) -> Result<(), Why> {
    let addr = sys::getsockname(fd).ok_or(Why::System)?;
    if !is_bound(&addr) {
        return Ok(());
    }
    let on = 1 as c_int;
    let (on, restore) = (on.to_ne_bytes(), reuse_addr.to_ne_bytes());
    let reuse =
        |sock, value: &[u8]| sys::setsockopt(sock, libc::SOL_SOCKET, libc::SO_REUSEADDR, value);
    if reuse(fd, &on).is_err() || reuse(new, &on).is_err() {
        let _ = reuse(fd, &restore);
        return Err(Why::Bind);
    }
    let bound = sys::bind(new, &addr);
    let _ = reuse(new, &restore);
    if bound.is_err() {
        let _ = reuse(fd, &restore);
        return Err(Why::Bind);
    }
    Ok(())
}

/// True when a port or an address is set (a socket never bound reads as
/// the family's any-address, port 0).
fn is_bound(addr: &RawAddr) -> bool {
    match sys::socket_addr(&addr.storage) {
        Some(a) => a.port() != 0 || !a.ip().is_unspecified(),
        None => false,
    }
}

/// The spare TCP socket: closed when dropped (after dup3, the program's fd
/// holds its own reference).
struct Spare(c_int);

impl Drop for Spare {
    fn drop(&mut self) {
        sys::close(self.0);
    }
}

/// The value a program passed to setsockopt, as bytes.
///
/// # Safety
/// `value` is readable for `len` bytes, or null.
pub unsafe fn value_bytes<'a>(value: *const c_void, len: u32) -> &'a [u8] {
    if value.is_null() {
        &[]
    } else {
        // SAFETY: as the caller vouches.
        unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len as usize) }
    }
}
