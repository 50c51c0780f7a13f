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
//! The system calls go to the kernel directly (`syscall(2)`), not through
//! the symbol chain: they are the shim's own, not the program's, and other
//! preloaded libraries already saw the program's calls.

use crate::fdtable::{self, Record};
use core::ffi::{c_int, c_long, c_void};
use core::mem::size_of;
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
    if getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) != Some(IPPROTO_MPTCP) {
        return SocketState::Settled;
    }
    if getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) != Some(0) {
        return SocketState::Settled;
    }
    let mut peer = Address::new();
    if peer.read(libc::SYS_getpeername, fd) {
        return SocketState::Connected;
    }
    // Not connected, nor listening: a socket that has not started to
    // connect is in TCP_CLOSE, which poll reports as POLLHUP; one in
    // SYN_SENT is not.
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    if poll_now(&mut p) >= 0 && p.revents & libc::POLLHUP != 0 {
        SocketState::Fresh
    } else {
        SocketState::Settled
    }
}

/// Makes the fresh MPTCP socket on `fd` TCP, with everything the program
/// set, then sets `level`/`name` to `value` on it.
pub fn to_tcp(
    fd: c_int,
    record: Record,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: u32,
) -> Result<(), Why> {
    if !record.complete() {
        return Err(Why::Incomplete);
    }
    let domain = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN).ok_or(Why::System)?;
    let status = fcntl(fd, libc::F_GETFL, 0);
    let fd_flags = fcntl(fd, libc::F_GETFD, 0);
    if status < 0 || fd_flags < 0 {
        return Err(Why::System);
    }
    let spare = Spare::new(domain).ok_or(Why::System)?;
    let new = spare.0;

    // Options first: some decide whether the bind succeeds (SO_REUSEADDR,
    // SO_REUSEPORT, IP_FREEBIND, IP_TRANSPARENT, SO_BINDTODEVICE).
    let mut reuse_addr = 0;
    let replayed = record.each(|o| {
        if o.level == libc::SOL_SOCKET && o.name == libc::SO_REUSEADDR && o.len >= 4 {
            reuse_addr = o.value[0] as c_int;
        }
        // SAFETY: the recorded value has `len <= VALUE_MAX` bytes.
        unsafe { set(new, o.level, o.name, o.value.as_ptr().cast(), o.len) == 0 }
    });
    if !replayed {
        return Err(Why::Replay);
    }
    // SAFETY: the program's value, which the kernel read for MPTCP already.
    if unsafe { set(new, level, name, value, len) } != 0 {
        return Err(Why::TcpRefuses);
    }
    take_over_address(fd, new, reuse_addr)?;
    if fcntl(new, libc::F_SETFL, status as c_long) < 0 {
        return Err(Why::System);
    }
    // The process (or, negative, group) that gets SIGIO/SIGURG, if any.
    let owner = fcntl(fd, libc::F_GETOWN, 0);
    if owner != 0 && fcntl(new, libc::F_SETOWN, owner.into()) < 0 {
        return Err(Why::System);
    }
    let cloexec = if fd_flags & libc::FD_CLOEXEC != 0 {
        libc::O_CLOEXEC
    } else {
        0
    };
    // The one step the program can see: its fd now holds the TCP socket.
    // SAFETY: dup3 of two fds, no memory.
    if unsafe {
        sys(
            libc::SYS_dup3,
            [new.into(), fd.into(), cloexec.into(), 0, 0],
        )
    } < 0
    {
        return Err(Why::System);
    }
    record.forget();
    Ok(())
}

/// Binds `new` where the socket on `fd` is bound, if it is. The old socket
/// still holds the address until dup3 closes it: both get SO_REUSEADDR
/// for the bind (neither listens, so TCP allows it), and then `new` gets
/// back the program's own setting (`reuse_addr`); on failure `fd` does.
fn take_over_address(fd: c_int, new: c_int, reuse_addr: c_int) -> Result<(), Why> {
    let mut addr = Address::new();
    if !addr.read(libc::SYS_getsockname, fd) {
        return Err(Why::System);
    }
    if !addr.is_bound() {
        return Ok(());
    }
    let on: c_int = 1;
    let on_ptr = (&on as *const c_int).cast();
    let restore = (&reuse_addr as *const c_int).cast();
    let four = size_of::<c_int>() as u32;
    // SAFETY: one int each, ours.
    unsafe {
        if set(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, on_ptr, four) != 0
            || set(new, libc::SOL_SOCKET, libc::SO_REUSEADDR, on_ptr, four) != 0
        {
            set(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, restore, four);
            return Err(Why::Bind);
        }
    }
    // SAFETY: the address the kernel gave, `len` bytes of our buffer.
    let bound = unsafe {
        sys(
            libc::SYS_bind,
            [
                new.into(),
                addr.storage.as_ptr() as c_long,
                addr.len.into(),
                0,
                0,
            ],
        )
    } == 0;
    // SAFETY: one int each, ours.
    unsafe {
        set(new, libc::SOL_SOCKET, libc::SO_REUSEADDR, restore, four);
        if !bound {
            set(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, restore, four);
        }
    }
    if bound {
        Ok(())
    } else {
        Err(Why::Bind)
    }
}

/// The spare TCP socket: closed when dropped (after dup3, the program's fd
/// holds its own reference).
struct Spare(c_int);

impl Spare {
    /// A new TCP socket of `domain`, close-on-exec until it takes the
    /// program's fd (a fork and exec in another thread must not inherit it).
    fn new(domain: c_int) -> Option<Spare> {
        let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
        // SAFETY: socket(2) takes integers.
        let fd = unsafe {
            sys(
                libc::SYS_socket,
                [domain.into(), ty.into(), libc::IPPROTO_TCP.into(), 0, 0],
            )
        };
        (fd >= 0).then_some(Spare(fd as c_int))
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        // SAFETY: closes our own spare fd.
        unsafe { sys(libc::SYS_close, [self.0.into(), 0, 0, 0, 0]) };
    }
}

/// A socket address as the kernel gives it (`sockaddr_in6` is the largest
/// a TCP socket has).
struct Address {
    storage: [u32; 8],
    len: u32,
}

impl Address {
    fn new() -> Address {
        Address {
            storage: [0; 8],
            len: 32,
        }
    }

    /// getsockname(2) or getpeername(2) of `fd` into `self`; true on success.
    fn read(&mut self, call: c_long, fd: c_int) -> bool {
        self.len = 32;
        // SAFETY: `call` is getsockname or getpeername, given our buffer
        // of `len` bytes and `len`.
        let rc = unsafe {
            sys(
                call,
                [
                    fd.into(),
                    self.storage.as_mut_ptr() as c_long,
                    &mut self.len as *mut u32 as c_long,
                    0,
                    0,
                ],
            )
        };
        rc == 0
    }

    /// True when a port or an address is set (a socket never bound reads
    /// as the family's any-address, port 0).
    fn is_bound(&self) -> bool {
        let words = &self.storage;
        // sa_family (2 bytes) then the port (2 bytes) in word 0; AF_INET
        // has its address in word 1, AF_INET6 in words 2..6 (after the
        // flow label).
        let port = words[0] >> 16 != 0;
        let family = (words[0] & 0xffff) as c_int;
        let address = if family == libc::AF_INET6 {
            words[2..6].iter().any(|&w| w != 0)
        } else {
            words[1] != 0
        };
        port || address
    }
}

/// getsockopt(2) of an int.
fn getsockopt_int(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as u32;
    // SAFETY: one int and its length, ours.
    let rc = unsafe { getsockopt(fd, level, name, (&mut value as *mut c_int).cast(), &mut len) };
    (rc == 0).then_some(value)
}

/// getsockopt(2).
///
/// # Safety
/// `value` writable for `*len` bytes.
unsafe fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *mut c_void,
    len: *mut u32,
) -> c_int {
    // SAFETY: the caller's buffer, as documented.
    unsafe {
        sys(
            libc::SYS_getsockopt,
            [
                fd.into(),
                level.into(),
                name.into(),
                value as c_long,
                len as c_long,
            ],
        ) as c_int
    }
}

/// setsockopt(2).
///
/// # Safety
/// `value` readable for `len` bytes.
unsafe fn set(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int {
    // SAFETY: the caller's buffer, as documented.
    unsafe {
        sys(
            libc::SYS_setsockopt,
            [
                fd.into(),
                level.into(),
                name.into(),
                value as c_long,
                len.into(),
            ],
        ) as c_int
    }
}

/// fcntl(2) with an integer argument (F_GETFL, F_SETFL, F_GETFD,
/// F_GETOWN, F_SETOWN: none reads or writes memory).
fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    // SAFETY: the commands used take no pointer.
    unsafe { sys(libc::SYS_fcntl, [fd.into(), cmd.into(), arg, 0, 0]) as c_int }
}

/// poll(2) of one fd without waiting, as ppoll(2) with a zero timeout.
fn poll_now(p: &mut libc::pollfd) -> c_int {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: one pollfd and a timespec, both valid for the call; no mask.
    unsafe {
        sys(
            libc::SYS_ppoll,
            [
                p as *mut libc::pollfd as c_long,
                1,
                &zero as *const libc::timespec as c_long,
                0,
                0,
            ],
        ) as c_int
    }
}

/// One system call with up to five arguments; errno is left as the call
/// leaves it ([`crate::sockopt`] restores the program's).
///
/// # Safety
/// The arguments are valid for `call`: pointers (as integers) to buffers
/// the kernel may read or write for it.
unsafe fn sys(call: c_long, a: [c_long; 5]) -> c_long {
    // SAFETY: as the caller vouches.
    unsafe { libc::syscall(call, a[0], a[1], a[2], a[3], a[4]) }
}

// The record's values are at most this long; `set` reads no further.
const _: () = assert!(fdtable::VALUE_MAX <= 32);
