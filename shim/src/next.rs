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
        // A C library without socket() (never seen): fail each call.
        no_socket
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

/// Stands in for a `socket()` the C library does not have: ENOSYS.
unsafe extern "C" fn no_socket(_: c_int, _: c_int, _: c_int) -> c_int {
    mptcpize_preload::errno::set(libc::ENOSYS);
    -1
}

/// Calls the next `socket()`.
#[inline(always)]
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let f = NEXT.load(Ordering::Relaxed);
    // SAFETY: NEXT only ever holds a function of socket()'s C type:
    // lazy_socket, no_socket or what dlsym found for `socket`.
    unsafe { core::mem::transmute::<*mut c_void, SocketFn>(f)(domain, ty, protocol) }
}
