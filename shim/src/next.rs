//! The next `socket()` in the symbol chain: the C library's, or that of a
//! library preloaded after ours (proxychains, libfaketime, …). Calling it,
//! rather than the raw syscall, keeps other preloaded libraries working.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;

/// The next `socket()`; until resolved, [`lazy_socket`], which resolves it
/// (so the hot path makes one indirect call with no NULL check).
static NEXT: AtomicPtr<c_void> = AtomicPtr::new(lazy_socket as SocketFn as *mut c_void);

/// Looks the next `socket` up and stores it; called from the constructor,
/// so that no `socket()` in a signal handler ever runs dlsym (which is not
/// async-signal-safe).
#[cold]
pub fn resolve() -> SocketFn {
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
    // SAFETY: `resolve` returns a function of socket()'s C type.
    unsafe { resolve()(domain, ty, protocol) }
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
