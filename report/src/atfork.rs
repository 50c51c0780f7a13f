//! Which process this is, for the report: handlers run after each fork(),
//! through the C library's `__register_atfork` (what pthread_atfork calls),
//! looked up when the report starts rather than imported; the pid the
//! report started in (or forked into), which tells a `vfork()` child; and
//! how many forks this process has seen, which tells a socket a child may
//! share from one that only this process holds.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};
use mptcpize_preload::sys;

/// The pid the report started in, or the last fork() made: a process whose
/// getpid() differs is a `vfork()` child (or `clone(CLONE_VM)`), which
/// runs in its parent's memory: the table it sees is its parent's.
static PID: AtomicI32 = AtomicI32::new(0);

/// Forks seen by this process and its ancestors since the report started,
/// as a parent or a child: a socket followed before the last one may be
/// held by another process too.
static FORKS: AtomicU32 = AtomicU32::new(0);

/// Notes the pid and registers the handlers; `child` runs in each forked
/// child after the report's own bookkeeping. False when the C library has
/// no `__register_atfork` (then forks are not seen).
pub fn start(child: unsafe extern "C" fn()) -> bool {
    PID.store(sys::getpid() as i32, Ordering::Relaxed);
    CHILD.store(child as *mut c_void, Ordering::Relaxed);
    register(Some(forked_parent), Some(forked_child))
}

/// The program's `child` handler.
static CHILD: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

unsafe extern "C" fn forked_parent() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

unsafe extern "C" fn forked_child() {
    FORKS.fetch_add(1, Ordering::Relaxed);
    PID.store(sys::getpid() as i32, Ordering::Relaxed);
    let child = CHILD.load(Ordering::Relaxed);
    if !child.is_null() {
        // SAFETY: CHILD only ever holds the `unsafe extern "C" fn()` given
        // to start().
        unsafe { core::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(child)() };
    }
}

/// True in a `vfork()` child (or a `clone(CLONE_VM)` thread of another
/// process) before it executes a program: its memory, the report's table
/// included, is its parent's. One getpid(2).
pub fn in_vfork_child() -> bool {
    let pid = PID.load(Ordering::Relaxed);
    pid != 0 && sys::getpid() as i32 != pid
}

/// How many forks this process has seen (see [`FORKS`]).
pub fn forks() -> u32 {
    FORKS.load(Ordering::Relaxed)
}

fn register(parent: Option<unsafe extern "C" fn()>, child: Option<unsafe extern "C" fn()>) -> bool {
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
        core::mem::transmute::<*mut c_void, Register>(f)(None, parent, child, core::ptr::null_mut())
            == 0
    }
}
