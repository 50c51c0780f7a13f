//! Connections closed through stdio: a program that wraps a socket in a
//! stream (`fdopen`) closes it with `fclose()`, which closes the fd inside
//! the C library, past the interposed `close()`. The stream is flushed
//! first, so that the bytes it still holds are sent and counted, then the
//! connection is reported as `close()` would ([`crate::closer`]).

use crate::closer::{self, Closed};
use crate::{next, on, table};
use core::ffi::{c_int, c_void};
use mptcpize_preload::errno;

/// The interposed `fclose(3)`.
///
/// # Safety
/// Callable as the C library's `fclose()`: `stream` is an open stream.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn fclose(stream: *mut c_void) -> c_int {
    if !stream.is_null() && on() {
        let fd = {
            // fileno() sets errno on a stream without a descriptor.
            let _errno = errno::Guard::save();
            // SAFETY: the caller's open stream.
            unsafe { next::fileno(stream) }
        };
        if table::get(fd).is_some() {
            // SAFETY: the caller's open stream; fclose() flushes it the same
            // way (a failure shows again there).
            unsafe { next::fflush(stream) };
            // SAFETY: the caller's stream, passed on.
            return closer::closing(fd, Closed::Fclose, || unsafe { next::fclose(stream) });
        }
    }
    // SAFETY: the caller's stream, passed on.
    unsafe { next::fclose(stream) }
}
