//! The next definition of each function a preload library interposes: the
//! C library's, or that of a library preloaded after ours (proxychains,
//! libfaketime, the core shim after the report's library, …). Calling it,
//! rather than making the system call, keeps those libraries working.
//!
//! [`chain!`] declares them; [`lookup`] is the one look-up they all make.

use core::ffi::{c_int, c_void, CStr};
use core::ptr::NonNull;

/// The next definition of `name` after the library that calls this (dlsym
/// with `RTLD_NEXT`, which finds the calling library from the return
/// address: this function is compiled into each library). None when there
/// is none, or no `dlsym` at all (glibc before 2.34 in a program that does
/// not load libdl.so.2: see preload-link/). Not async-signal-safe: made
/// when the library loads, or on a call that comes before that.
#[cold]
pub fn lookup(name: &CStr) -> Option<NonNull<c_void>> {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other
    // preconditions; it returns NULL when there is no such symbol.
    NonNull::new(unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) })
}

/// The stand-in of a function the C library does not have (never seen for
/// the ones interposed): fails with ENOSYS.
pub fn enosys() -> c_int {
    crate::errno::set(libc::ENOSYS);
    -1
}

/// For each `name: fn(args) -> ret [else syscall(NR)];` defines
/// `pub unsafe fn name(args) -> ret`, which calls the next definition of
/// `name` through an atomic pointer (one indirect call, no NULL check), and
/// once `resolve_all()`, which looks every one up (the library's constructor
/// calls it, so that no interposed call in a signal handler ever runs
/// dlsym, which is not async-signal-safe). Until then the pointer holds a
/// stand-in that looks the function up on its first call (a call from
/// another library's constructor can come first).
///
/// When there is no next definition, the pointer gets a function that makes
/// system call NR with the arguments (all that the C library's wrapper
/// does), or else one that fails with ENOSYS.
#[macro_export]
macro_rules! chain {
    ($($name:ident: fn($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $(, else syscall($nr:expr))?;)*) => {
        $(
            #[allow(non_snake_case)]
            mod $name {
                use super::*;
                pub type Fn = unsafe extern "C" fn($($ty),*) -> $ret;
                pub static NEXT: core::sync::atomic::AtomicPtr<core::ffi::c_void> =
                    core::sync::atomic::AtomicPtr::new(lazy as Fn as *mut core::ffi::c_void);

                /// Looks the next definition up and stores it.
                #[cold]
                pub fn resolve() -> Fn {
                    const NAME: &core::ffi::CStr = match core::ffi::CStr::from_bytes_with_nul(
                        concat!(stringify!($name), "\0").as_bytes(),
                    ) {
                        Ok(name) => name,
                        Err(_) => panic!("a C name"), // at compile time
                    };
                    let f: Fn = match $crate::next::lookup(NAME) {
                        // SAFETY: dlsym's address for this symbol, whose C
                        // type is Fn.
                        Some(f) => unsafe { core::mem::transmute::<*mut core::ffi::c_void, Fn>(f.as_ptr()) },
                        None => $crate::chain!(@fallback [$($arg: $ty),*] -> $ret; $($nr)?),
                    };
                    NEXT.store(f as *mut core::ffi::c_void, core::sync::atomic::Ordering::Relaxed);
                    f
                }

                /// Stands in until [`resolve`] ran.
                unsafe extern "C" fn lazy($($arg: $ty),*) -> $ret {
                    // SAFETY: resolve() returns a function of this C type;
                    // the arguments are our caller's, passed on.
                    unsafe { resolve()($($arg),*) }
                }

                #[allow(dead_code)]
                unsafe extern "C" fn missing($(_: $ty),*) -> $ret {
                    $crate::next::enosys()
                }
            }

            /// Calls the next definition.
            ///
            /// # Safety
            /// The arguments must meet the C function's contract (pointers
            /// valid as it requires): they are passed on as they are.
            #[inline(always)]
            pub unsafe fn $name($($arg: $ty),*) -> $ret {
                let f = $name::NEXT.load(core::sync::atomic::Ordering::Relaxed);
                // SAFETY: NEXT only ever holds a function of this C type:
                // the stand-in, the fallback or what dlsym found; the
                // caller vouches for the arguments.
                unsafe { core::mem::transmute::<*mut core::ffi::c_void, $name::Fn>(f)($($arg),*) }
            }
        )*

        /// Looks every next definition up (see `mptcpize_preload::chain!`).
        #[cold]
        pub fn resolve_all() {
            $( $name::resolve(); )*
        }
    };
    (@fallback [$($arg:ident: $ty:ty),*] -> $ret:ty; $nr:expr) => {{
        /// The system call itself, with the C function's type.
        unsafe extern "C" fn raw($($arg: $ty),*) -> $ret {
            // SAFETY: the caller's arguments, as the C function takes them
            // (its contract covers the pointers); -1 and errno on failure.
            unsafe { $crate::sys::syscall($nr, &[$($arg as core::ffi::c_long),*]) as $ret }
        }
        raw
    }};
    (@fallback [$($arg:ident: $ty:ty),*] -> $ret:ty;) => { missing };
}
