//! The system calls the report makes for itself, through `syscall(2)`: the
//! shim imports no more symbols than the `socket()` path needs, so loading
//! it stays as cheap with the report code as without (every import is a
//! symbol look-up in every program that loads the shim). These calls are
//! the shim's own business: other preloaded libraries need not see them.

use core::ffi::{c_int, c_long, c_void};

fn ret(rc: c_long) -> c_int {
    rc as c_int
}

/// getsockopt(2).
pub fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *mut c_void,
    len: *mut u32,
) -> c_int {
    // SAFETY: the caller passes a buffer of `*len` bytes and a valid `len`.
    ret(unsafe {
        libc::syscall(
            libc::SYS_getsockopt,
            c_long::from(fd),
            c_long::from(level),
            c_long::from(name),
            value,
            len,
        )
    })
}

/// getpeername(2).
pub fn getpeername(fd: c_int, addr: *mut libc::sockaddr, len: *mut u32) -> c_int {
    // SAFETY: the caller passes a buffer of `*len` bytes and a valid `len`.
    ret(unsafe { libc::syscall(libc::SYS_getpeername, c_long::from(fd), addr, len) })
}

/// fstat(2).
pub fn fstat(fd: c_int, st: *mut libc::stat) -> c_int {
    // SAFETY: the caller passes room for one struct stat.
    ret(unsafe { libc::syscall(libc::SYS_fstat, c_long::from(fd), st) })
}

/// poll(2) of one fd without waiting, as ppoll(2) with a zero timeout.
pub fn poll_now(p: &mut libc::pollfd) -> c_int {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: one pollfd and a timespec, both valid for the call; no mask.
    ret(unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            p as *mut libc::pollfd,
            1 as c_long,
            &zero as *const libc::timespec,
            core::ptr::null::<libc::sigset_t>(),
            0 as c_long,
        )
    })
}

/// open(2) for appending, as openat(2) from the working directory.
pub fn open_append(path: &core::ffi::CStr) -> c_int {
    let flags = libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path; the fd is the caller's to close.
    ret(unsafe {
        libc::syscall(
            libc::SYS_openat,
            c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            c_long::from(flags),
            0o644 as c_long,
        )
    })
}

/// write(2) of the whole of `buf` in one call.
pub fn write(fd: c_int, buf: &[u8]) -> isize {
    // SAFETY: `buf` is valid for reads of its length.
    unsafe { libc::syscall(libc::SYS_write, c_long::from(fd), buf.as_ptr(), buf.len()) as isize }
}

/// close(2) of an fd the report opened itself.
pub fn close(fd: c_int) {
    // SAFETY: closes only the caller's own fd.
    unsafe { libc::syscall(libc::SYS_close, c_long::from(fd)) };
}

/// True when `fd` is an open file descriptor (fcntl(2) `F_GETFD`).
pub fn is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD reads the descriptor's flags, nothing of ours.
    unsafe {
        libc::syscall(
            libc::SYS_fcntl,
            c_long::from(fd),
            c_long::from(libc::F_GETFD),
        ) >= 0
    }
}

/// getpid(2).
pub fn getpid() -> c_long {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) }
}

/// Registers `child` to run in the child after each fork(), through the
/// C library's `__register_atfork` (what pthread_atfork calls), looked up
/// when the report starts rather than imported: only reported processes
/// pay for the look-up. False when the C library has none.
pub fn at_fork_child(child: unsafe extern "C" fn()) -> bool {
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

/// Fills `v` with zero bytes, with volatile stores so that the compiler
/// makes no `memset` call of it (the shim imports no memset: one symbol
/// look-up less in every program), and gives it back initialised, in
/// place (no copy, so no memcpy either).
///
/// # Safety
/// All zero bytes must be a valid `T` (C structs of integers and arrays).
pub unsafe fn zeroed<T>(v: &mut core::mem::MaybeUninit<T>) -> &mut T {
    let p = v.as_mut_ptr().cast::<u8>();
    for i in 0..core::mem::size_of::<T>() {
        // SAFETY: `i` is within the value's bytes.
        unsafe { core::ptr::write_volatile(p.add(i), 0) };
    }
    // SAFETY: every byte was written, and the caller vouches that zeros
    // are a valid T.
    unsafe { v.assume_init_mut() }
}
