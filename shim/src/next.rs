//! The next `socket()` and `setsockopt()` in the symbol chain: the C
//! library's, or those of a library preloaded after ours (proxychains,
//! libfaketime, …). Calling them, rather than the raw syscalls, keeps other
//! preloaded libraries working.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;

/// The next `socket()`; until resolved, [`lazy_socket`], which resolves it
/// (so the hot path makes one indirect call with no NULL check).
static NEXT: AtomicPtr<c_void> = AtomicPtr::new(lazy_socket as SocketFn as *mut c_void);

/// Looks the next `socket` and `setsockopt` up and stores them; called from
/// the constructor, so that no call in a signal handler ever runs dlsym
/// (which is not async-signal-safe).
#[cold]
pub fn resolve() {
    resolve_socket();
    resolve_setsockopt();
}

/// Looks the next `socket` up and stores it.
#[cold]
fn resolve_socket() -> SocketFn {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other
    // preconditions; it returns NULL when there is no such symbol.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"socket".as_ptr()) };
    let f: SocketFn = if f.is_null() {
        // No dlsym: glibc before 2.34 in a program that does not load
        // libdl.so.2 (the shim does not need it: see preload-link/).
        raw_socket
    } else {
        // SAFETY: `f` is the address dlsym gave for `socket`, whose C type is
        // int socket(int, int, int).
        unsafe { core::mem::transmute::<*mut c_void, SocketFn>(f) }
    };
    NEXT.store(f as *mut c_void, Ordering::Relaxed);
    f
}

/// Stands in for the next `socket()` until the constructor resolved it (a
/// socket() from another library's constructor can come first).
unsafe extern "C" fn lazy_socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: `resolve_socket` returns a function of socket()'s C type.
    unsafe { resolve_socket()(domain, ty, protocol) }
}

/// The next `socket()` when dlsym is not there to find it: the system call
/// itself, which is all glibc's `socket()` does (a library preloaded after
/// ours that interposes socket() is then bypassed).
unsafe extern "C" fn raw_socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: socket(2) takes three integers; syscall() returns -1 and sets
    // errno on failure, as socket() does.
    unsafe { libc::syscall(libc::SYS_socket, domain, ty, protocol) as c_int }
}

/// Calls the next `socket()`.
#[inline(always)]
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let f = NEXT.load(Ordering::Relaxed);
    // SAFETY: NEXT only ever holds a function of socket()'s C type:
    // lazy_socket, raw_socket or what dlsym found for `socket`.
    unsafe { core::mem::transmute::<*mut c_void, SocketFn>(f)(domain, ty, protocol) }
}

type SetsockoptFn = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, u32) -> c_int;

/// The next `setsockopt()`; until resolved, [`lazy_setsockopt`].
static NEXT_SETSOCKOPT: AtomicPtr<c_void> =
    AtomicPtr::new(lazy_setsockopt as SetsockoptFn as *mut c_void);

/// Looks the next `setsockopt` up and stores it.
#[cold]
fn resolve_setsockopt() -> SetsockoptFn {
    // SAFETY: as for socket.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"setsockopt".as_ptr()) };
    let f: SetsockoptFn = if f.is_null() {
        // No dlsym (as for socket): the system call.
        raw_setsockopt
    } else {
        // SAFETY: dlsym's address for `setsockopt`, whose C type is
        // int setsockopt(int, int, int, const void *, socklen_t).
        unsafe { core::mem::transmute::<*mut c_void, SetsockoptFn>(f) }
    };
    NEXT_SETSOCKOPT.store(f as *mut c_void, Ordering::Relaxed);
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
    // SAFETY: `resolve_setsockopt` returns a function of this C type; the
    // caller's arguments are passed on.
    unsafe { resolve_setsockopt()(fd, level, name, value, len) }
}

/// The next `setsockopt()` when dlsym is not there to find it (as for
/// socket): the system call, which is all glibc's `setsockopt()` does.
unsafe extern "C" fn raw_setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: u32,
) -> c_int {
    // SAFETY: setsockopt(2)'s arguments as the caller gave them (the caller
    // vouches for `value` and `len`); -1 and errno on failure.
    unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, value, len) as c_int }
}

/// Calls the next `setsockopt()`.
///
/// # Safety
/// As setsockopt(2): `value` readable for `len` bytes.
#[inline(always)]
pub unsafe fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: u32,
) -> c_int {
    let f = NEXT_SETSOCKOPT.load(Ordering::Relaxed);
    // SAFETY: NEXT_SETSOCKOPT only ever holds a function of setsockopt()'s
    // C type; the caller passes the program's own arguments.
    unsafe { core::mem::transmute::<*mut c_void, SetsockoptFn>(f)(fd, level, name, value, len) }
}
