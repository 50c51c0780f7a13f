//! The next definitions of the functions the report interposes: the core
//! shim's `socket()` (preloaded after this library), the C library's
//! `close()`, `accept()`, `fclose()`, …, or those of another library
//! preloaded after ours; and the C library's `fileno()` and `fflush()`,
//! looked up the same unversioned way. Each is reached through an atomic pointer, looked up with dlsym
//! when the library loads (a call that comes first looks it up then).

use core::ffi::{c_int, c_uint, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

/// For each `name: fn(args) -> c_int`, defines `pub fn name(args)`
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
                    // SAFETY: resolve() returns a function of this C type;
                    // the arguments are our caller's, passed on.
                    unsafe { resolve()($($arg),*) }
                }

                unsafe extern "C" fn missing($(_: $ty),*) -> c_int {
                    mptcpize_preload::errno::set(libc::ENOSYS);
                    -1
                }
            }

            /// Calls the next definition.
            ///
            /// # Safety
            /// The arguments must meet the C function's contract (pointers
            /// valid as it requires): they are passed on as they are.
            #[inline(always)]
            pub unsafe fn $name($($arg: $ty),*) -> c_int {
                let f = $name::NEXT.load(Ordering::Relaxed);
                // SAFETY: NEXT only ever holds a function of this C type:
                // the stand-in or what dlsym found; the caller vouches for
                // the arguments.
                unsafe { core::mem::transmute::<*mut c_void, $name::Fn>(f)($($arg),*) }
            }
        )*

        /// Looks every next definition up; called from the constructor, so
        /// that no interposed call in a signal handler ever runs dlsym (which
        /// is not async-signal-safe).
        #[cold]
        pub fn resolve_all() {
            $( $name::resolve(); )*
            crate::rawclose::resolve();
        }
    };
}

chain! {
    socket: fn(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    close: fn(fd: c_int) -> c_int;
    dup2: fn(old: c_int, new: c_int) -> c_int;
    dup3: fn(old: c_int, new: c_int, flags: c_int) -> c_int;
    close_range: fn(first: c_uint, last: c_uint, flags: c_int) -> c_int;
    shutdown: fn(fd: c_int, how: c_int) -> c_int;
    accept: fn(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int;
    accept4: fn(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t, flags: c_int) -> c_int;
    setsockopt: fn(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: libc::socklen_t) -> c_int;
    fclose: fn(stream: *mut c_void) -> c_int;
    fileno: fn(stream: *mut c_void) -> c_int;
    fflush: fn(stream: *mut c_void) -> c_int;
}
