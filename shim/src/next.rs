//! The next `socket()` and `setsockopt()` in the symbol chain: the C
//! library's, or those of a library preloaded after ours (proxychains,
//! libfaketime, …). Calling them, rather than the raw syscalls, keeps other
//! preloaded libraries working. Without dlsym (glibc before 2.34 in a
//! program that does not load libdl.so.2: the shim does not need it, see
//! preload-link/), the system calls themselves, which is all glibc's do (a
//! library preloaded after ours is then bypassed).

use core::ffi::{c_int, c_void};

mod chain {
    use super::*;

    mptcpize_preload::chain! {
        socket: fn(domain: c_int, ty: c_int, protocol: c_int) -> c_int, else syscall(libc::SYS_socket);
        setsockopt: fn(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int,
            else syscall(libc::SYS_setsockopt);
    }
}

/// Looks the next `socket` and `setsockopt` up; called from the
/// constructor, so that no call in a signal handler ever runs dlsym (which
/// is not async-signal-safe).
pub use chain::resolve_all as resolve;
pub use chain::setsockopt;

/// Calls the next `socket()`.
#[inline(always)]
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: socket() takes integers.
    unsafe { chain::socket(domain, ty, protocol) }
}
