//! Connections closed with `syscall(SYS_close, fd)`, past the interposed
//! `close()`: libuv (node) closes its sockets this way. The C library's
//! `syscall()` is interposed, on x86_64 and aarch64 Linux, where a variadic
//! call passes the number and up to six arguments exactly as a function
//! taking seven `long`s receives them, so every call is passed on whole.
//! Only `SYS_close` of a followed fd does more; every other number costs a
//! comparison. The preload libraries' own system calls never come here:
//! they are made with the instruction itself (`mptcpize_preload::sys`).

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod interposed {
    use crate::closer::{self, Closed};
    use core::ffi::{c_int, c_long, c_void};
    use core::sync::atomic::{AtomicPtr, Ordering};

    type Syscall = unsafe extern "C" fn(c_long, ...) -> c_long;

    /// The C library's `syscall()`, looked up when the library loads.
    static NEXT: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

    #[cold]
    pub fn resolve() -> *mut c_void {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name.
        let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"syscall".as_ptr()) };
        NEXT.store(f, Ordering::Relaxed);
        f
    }

    /// Calls the C library's `syscall()` with all seven words.
    #[inline(always)]
    unsafe fn next(
        n: c_long,
        a0: c_long,
        a1: c_long,
        a2: c_long,
        a3: c_long,
        a4: c_long,
        a5: c_long,
    ) -> c_long {
        let mut f = NEXT.load(Ordering::Relaxed);
        if f.is_null() {
            f = resolve();
            if f.is_null() {
                mptcpize_preload::errno::set(libc::ENOSYS);
                return -1;
            }
        }
        // SAFETY: dlsym's address of `long syscall(long, ...)`; the words
        // are the caller's (those it did not pass are ignored by the kernel
        // for this number, as they would have been).
        unsafe { core::mem::transmute::<*mut c_void, Syscall>(f)(n, a0, a1, a2, a3, a4, a5) }
    }

    /// The interposed `syscall(2)`.
    ///
    /// # Safety
    /// Callable as the C library's `syscall()`: the arguments are passed on.
    #[cfg_attr(not(test), no_mangle)]
    pub unsafe extern "C" fn syscall(
        n: c_long,
        a0: c_long,
        a1: c_long,
        a2: c_long,
        a3: c_long,
        a4: c_long,
        a5: c_long,
    ) -> c_long {
        if n == libc::SYS_close && crate::on() {
            // SAFETY: the caller's arguments, passed on.
            let close = || unsafe { next(n, a0, a1, a2, a3, a4, a5) };
            return closer::closing(a0 as c_int, Closed::Syscall, close);
        }
        // SAFETY: the caller's arguments, passed on.
        unsafe { next(n, a0, a1, a2, a3, a4, a5) }
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub use interposed::resolve;

/// Nothing to look up where `syscall()` is not interposed.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn resolve() {}
