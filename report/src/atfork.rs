//! A handler run in the child after each fork(), through the C library's
//! `__register_atfork` (what pthread_atfork calls), looked up when the
//! report starts rather than imported.

use core::ffi::{c_int, c_void};

/// Registers `child`; false when the C library has no `__register_atfork`.
pub fn register_child(child: unsafe extern "C" fn()) -> bool {
    type Register = unsafe extern "C" fn(
        Option<unsafe extern "C" fn()>,
        Option<unsafe extern "C" fn()>,
        Option<unsafe extern "C" fn()>,
        *mut c_void,
    ) -> c_int;
    // SAFETY: dlsym with a NUL-terminated name; NULL when absent.
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__register_atfork".as_ptr()) };
    if f.is_null() {
        return false;
    }
    // SAFETY: glibc's int __register_atfork(void (*)(void), void (*)(void),
    // void (*)(void), void *dso_handle); a NULL dso_handle means "never
    // unregister", right for a library that is never unloaded.
    unsafe {
        core::mem::transmute::<*mut c_void, Register>(f)(
            None,
            None,
            Some(child),
            core::ptr::null_mut(),
        ) == 0
    }
}
