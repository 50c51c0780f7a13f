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
        // No dlsym: glibc before 2.34 in a program that does not load
        // libdl.so.2 (see preload-link/); the shim does not need libdl,
        // which would cost every program its loading.
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

/// For each `name: fn(args) -> c_int = SYS_name`, defines `pub fn name(args)`
/// calling the next definition through an atomic pointer that starts as a
/// stand-in which looks it up with dlsym (one indirect call, no NULL
/// check), and which makes the system call itself when dlsym finds none
/// or is not there (glibc before 2.34 without libdl.so.2, as for socket()).
macro_rules! chain {
    ($($name:ident: fn($($arg:ident: $ty:ty),*) -> c_int = $sys:ident;)*) => {
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
                        raw
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

                unsafe extern "C" fn raw($($arg: $ty),*) -> c_int {
                    // SAFETY: the system call of this name takes these
                    // arguments; syscall() returns -1 and sets errno on
                    // failure, as the C library's wrapper does.
                    unsafe { libc::syscall(libc::$sys, $($arg),*) as c_int }
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
    close: fn(fd: c_int) -> c_int = SYS_close;
    dup2: fn(old: c_int, new: c_int) -> c_int = SYS_dup2;
    dup3: fn(old: c_int, new: c_int, flags: c_int) -> c_int = SYS_dup3;
    close_range: fn(first: c_uint, last: c_uint, flags: c_int) -> c_int = SYS_close_range;
    shutdown: fn(fd: c_int, how: c_int) -> c_int = SYS_shutdown;
    accept: fn(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int = SYS_accept;
    accept4: fn(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t, flags: c_int) -> c_int = SYS_accept4;
}
