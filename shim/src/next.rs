//! The next definition of each function the shim interposes: the C
//! library's, or that of a library preloaded after ours (proxychains,
//! libfaketime, …). Calling it, rather than the raw syscall, keeps other
//! preloaded libraries working.
//!
//! Each symbol is looked up once with `dlsym(RTLD_NEXT)` (by the constructor,
//! or by the first call that runs before it) and kept in an atomic pointer.

use core::ffi::{c_int, c_uint, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

/// One interposed symbol: its NUL-terminated name and the next definition.
struct Next {
    name: &'static core::ffi::CStr,
    ptr: AtomicPtr<c_void>,
}

impl Next {
    const fn new(name: &'static core::ffi::CStr) -> Self {
        Next {
            name,
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    #[cold]
    fn resolve(&self) -> *mut c_void {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other
        // preconditions; it returns NULL when there is no such symbol.
        let f = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
        self.ptr.store(f, Ordering::Relaxed);
        f
    }

    /// The next definition, or NULL when there is none.
    #[inline(always)]
    fn get(&self) -> *mut c_void {
        let f = self.ptr.load(Ordering::Relaxed);
        if f.is_null() {
            self.resolve()
        } else {
            f
        }
    }
}

static SOCKET: Next = Next::new(c"socket");
static CLOSE: Next = Next::new(c"close");
static DUP2: Next = Next::new(c"dup2");
static DUP3: Next = Next::new(c"dup3");
static CLOSE_RANGE: Next = Next::new(c"close_range");
static ACCEPT: Next = Next::new(c"accept");
static ACCEPT4: Next = Next::new(c"accept4");
static SHUTDOWN: Next = Next::new(c"shutdown");

/// Looks every symbol up once; called from the constructor.
#[cold]
pub fn resolve() {
    for next in [
        &SOCKET,
        &CLOSE,
        &DUP2,
        &DUP3,
        &CLOSE_RANGE,
        &ACCEPT,
        &ACCEPT4,
        &SHUTDOWN,
    ] {
        next.resolve();
    }
}

/// Calls `$next` as the C function type `$ty`, or makes `$syscall` when
/// there is no next definition (never seen in practice).
macro_rules! call_next {
    ($next:expr, $ty:ty, ($($arg:expr),*), $syscall:expr) => {{
        let f = $next.get();
        if f.is_null() {
            // SAFETY: the syscall takes the same integers and pointers the
            // C function does, which our caller handed us unchanged.
            return unsafe { libc::syscall($syscall, $($arg),*) as _ };
        }
        // SAFETY: `f` is the address dlsym gave for this symbol, whose C type
        // is `$ty`; the arguments are passed through unchanged.
        unsafe { core::mem::transmute::<*mut c_void, $ty>(f)($($arg),*) }
    }};
}

/// The next `socket()`.
#[inline(always)]
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    call_next!(
        SOCKET,
        unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
        (domain, ty, protocol),
        libc::SYS_socket
    )
}

/// The next `close()`.
#[inline(always)]
pub fn close(fd: c_int) -> c_int {
    call_next!(
        CLOSE,
        unsafe extern "C" fn(c_int) -> c_int,
        (fd),
        libc::SYS_close
    )
}

/// The next `dup2()`.
#[inline(always)]
pub fn dup2(old: c_int, new: c_int) -> c_int {
    call_next!(
        DUP2,
        unsafe extern "C" fn(c_int, c_int) -> c_int,
        (old, new),
        libc::SYS_dup2
    )
}

/// The next `dup3()`.
#[inline(always)]
pub fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    call_next!(
        DUP3,
        unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
        (old, new, flags),
        libc::SYS_dup3
    )
}

/// The next `close_range()`.
#[inline(always)]
pub fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    call_next!(
        CLOSE_RANGE,
        unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int,
        (first, last, flags),
        libc::SYS_close_range
    )
}

/// The next `accept()`.
#[inline(always)]
pub fn accept(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int {
    call_next!(
        ACCEPT,
        unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> c_int,
        (fd, addr, len),
        libc::SYS_accept
    )
}

/// The next `accept4()`.
#[inline(always)]
pub fn accept4(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
    flags: c_int,
) -> c_int {
    call_next!(
        ACCEPT4,
        unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut libc::socklen_t, c_int) -> c_int,
        (fd, addr, len, flags),
        libc::SYS_accept4
    )
}

/// The next `shutdown()`.
#[inline(always)]
pub fn shutdown(fd: c_int, how: c_int) -> c_int {
    call_next!(
        SHUTDOWN,
        unsafe extern "C" fn(c_int, c_int) -> c_int,
        (fd, how),
        libc::SYS_shutdown
    )
}
