//! This thread's errno. The libraries' own syscalls must not change the
//! errno a program sees: [`Guard`] saves it and puts it back when dropped.

use core::ffi::c_int;

/// This thread's errno.
#[inline(always)]
pub fn get() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's errno.
#[inline(always)]
pub fn set(value: c_int) {
    // SAFETY: as in get(): the calling thread's own errno slot.
    unsafe { *libc::__errno_location() = value }
}

/// Restores the errno of its creation when dropped.
pub struct Guard(c_int);

impl Guard {
    /// Saves this thread's errno.
    #[must_use]
    pub fn save() -> Guard {
        Guard(get())
    }

    /// The errno saved.
    pub fn saved(&self) -> c_int {
        self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        set(self.0);
    }
}
