//! The next `socket()` in the symbol chain: the C library's, or that of a
//! library preloaded after ours (proxychains, libfaketime, …). Calling it,
//! rather than the raw syscall, keeps other preloaded libraries working.
//!
//! The functions the report interposes (`close`, `dup2`, `dup3`,
//! `close_range`, `shutdown`, `accept`, `accept4`; see [`crate::report`])
//! reach their next definitions the same way, through [`chain!`].

use core::ffi::{c_int, c_uint, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;

/// The next `socket()`; until resolved, [`lazy_socket`], which resolves it
/// (so the hot path makes one indirect call with no NULL check).
static NEXT: AtomicPtr<c_void> = AtomicPtr::new(lazy_socket as SocketFn as *mut c_void);

/// Looks the next `socket` up, and with the report on the next definitions
/// of the functions it interposes; called from the constructor. Without
/// the report those are looked up at their first call, so that programs
/// that do not report pay for no dlsym beyond socket's when they load. The
/// price: dlsym is not async-signal-safe, so a program whose very first
/// `close()` (or `dup2()`, …) runs in a signal handler interrupting the
/// dynamic loader could misbehave there; with the report on, everything is
/// resolved here, before `main`.
#[cold]
pub fn resolve(report: bool) {
    resolve_socket();
    if report {
        resolve_report_functions();
    }
}

/// Looks the next `socket` up and stores it.
#[cold]
fn resolve_socket() -> SocketFn {
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
    // SAFETY: `resolve_socket` returns a function of socket()'s C type.
    unsafe { resolve_socket()(domain, ty, protocol) }
}

/// Stands in for a `socket()` the C library does not have: ENOSYS.
unsafe extern "C" fn no_socket(_: c_int, _: c_int, _: c_int) -> c_int {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() = libc::ENOSYS };
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

/// For each `name: fn(args) -> ret = SYSCALL`, defines `pub fn name(args)`
/// calling the next definition through an atomic pointer that starts as a
/// stand-in which looks it up with dlsym (one indirect call, no NULL
/// check), and which fails with ENOSYS if the C library has none (never
/// seen, as for socket()).
macro_rules! chain {
    ($($name:ident: fn($($arg:ident: $ty:ty),*) -> c_int;)*) => {
        $(
            #[allow(non_snake_case)]
            mod $name {
                use super::*;
                pub type Fn = unsafe extern "C" fn($($ty),*) -> c_int;
                pub static NEXT: AtomicPtr<c_void> = AtomicPtr::new(lazy as Fn as *mut c_void);

                #[cold]
                pub fn resolve() -> Fn {
                    let name = concat!(stringify!($name), "\0");
                    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name
                    // has no other preconditions; NULL when there is none.
                    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) };
                    let f: Fn = if f.is_null() {
                        missing
                    } else {
                        // SAFETY: dlsym's address for this symbol, whose C
                        // type is Fn.
                        unsafe { core::mem::transmute::<*mut c_void, Fn>(f) }
                    };
                    NEXT.store(f as *mut c_void, Ordering::Relaxed);
                    f
                }

                unsafe extern "C" fn lazy($($arg: $ty),*) -> c_int {
                    // SAFETY: resolve() returns a function of this C type.
                    unsafe { resolve()($($arg),*) }
                }

                unsafe extern "C" fn missing($(_: $ty),*) -> c_int {
                    // SAFETY: this thread's errno slot.
                    unsafe { *libc::__errno_location() = libc::ENOSYS };
                    -1
                }
            }

            /// Calls the next definition.
            #[inline(always)]
            pub fn $name($($arg: $ty),*) -> c_int {
                let f = $name::NEXT.load(Ordering::Relaxed);
                // SAFETY: NEXT only ever holds a function of this C type:
                // the stand-in, the raw call or what dlsym found.
                unsafe { core::mem::transmute::<*mut c_void, $name::Fn>(f)($($arg),*) }
            }
        )*

        #[cold]
        fn resolve_report_functions() {
            $( $name::resolve(); )*
        }
    };
}

chain! {
    close: fn(fd: c_int) -> c_int;
    dup2: fn(old: c_int, new: c_int) -> c_int;
    dup3: fn(old: c_int, new: c_int, flags: c_int) -> c_int;
    close_range: fn(first: c_uint, last: c_uint, flags: c_int) -> c_int;
    shutdown: fn(fd: c_int, how: c_int) -> c_int;
    accept: fn(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int;
    accept4: fn(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t, flags: c_int) -> c_int;
}
