//! The next `socket()` in the symbol chain: the C library's, or that of a
//! library preloaded after ours (proxychains, libfaketime, …). Calling it,
//! rather than the raw syscall, keeps other preloaded libraries working.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;

static NEXT: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

/// Looks the next `socket` up once; called from the constructor.
#[cold]
pub fn resolve() -> *mut c_void {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other
    // preconditions; it returns NULL when there is no such symbol.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"socket".as_ptr()) };
    NEXT.store(f, Ordering::Relaxed);
    f
}

/// Calls the next `socket()`. Before the constructor ran it resolves the
/// symbol first; without one (never seen in practice) it makes the syscall.
#[inline(always)]
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let mut f = NEXT.load(Ordering::Relaxed);
    if f.is_null() {
        f = resolve();
    }
    if f.is_null() {
        // SAFETY: socket(2) takes three integers and touches no memory of ours.
        return unsafe { libc::syscall(libc::SYS_socket, domain, ty, protocol) as c_int };
    }
    // SAFETY: `f` is the address dlsym gave for `socket`, whose C type is
    // int socket(int, int, int).
    unsafe { core::mem::transmute::<*mut c_void, SocketFn>(f)(domain, ty, protocol) }
}
