//! What the two preload libraries, `libmptcpize.so` (the core shim) and
//! `libmptcpize_report.so` (`run --report`), share. Everything here is
//! `no_std`, allocation-free and async-signal-safe, and imports nothing
//! beyond `__errno_location` and `dlsym` (each import is a symbol look-up
//! in every program that loads a library):
//!
//! - [`sys`]: the system calls, typed (slices, references, small structs):
//!   the `unsafe` of raw pointers stays in that one file;
//! - [`errno`]: this thread's errno, and a guard that restores it;
//! - [`environ`]: the settings (`mptcpize_rules::env`), from one scan of
//!   `environ`;
//! - [`stderr`]: the stderr the process had when the library loaded, the
//!   only place log and report lines on stderr go;
//! - [`page`]: memory mapped once per process and published atomically;
//! - [`line`]: a line built on the stack and written with one write(2);
//! - [`next`]: the next definition of each interposed function
//!   ([`chain!`]).
#![no_std]

pub mod environ;
pub mod errno;
pub mod line;
pub mod next;
pub mod page;
pub mod stderr;
pub mod sys;

/// Defines what every preload library needs at its C boundary: a panic
/// handler that aborts (nothing may unwind across the C ABI; no code path
/// is meant to panic) and, in unoptimised builds, the `rust_eh_personality`
/// that core's unwind tables name under `panic = "abort"` (release builds,
/// with LTO, drop the reference; it is never called). Invoked once at the
/// root of each library; unit tests (with std) get neither.
#[macro_export]
macro_rules! c_boundary {
    () => {
        #[cfg(not(test))]
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            $crate::sys::abort()
        }

        #[cfg(all(not(test), debug_assertions))]
        #[no_mangle]
        pub extern "C" fn rust_eh_personality() {}
    };
}
