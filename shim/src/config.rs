//! The shim's configuration and process-wide state, in one atomic word.
//!
//! The environment is read once, by a constructor; a `socket()` that runs
//! before it (another library's constructor can do that) reads it then. The
//! lookup scans `environ` directly: no getenv, no locks, no allocation.
//! Readers see either "not yet read" or the whole configuration.
//!
//! `MPTCPIZE_REPORT` (set by `mptcpize-rs run --report[=FILE]`) turns the
//! per-connection report on: `stderr` (or `-`, or empty) writes it to fd 2,
//! anything else is a file the report is appended to; its path is copied into
//! a static buffer once, so a program that rewrites its environment (for its
//! process title) cannot change it.

use core::cell::UnsafeCell;
use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

const READ: u32 = 1;
const DEBUG: u32 = 2;
const NO_FALLBACK: u32 = 4;
const MPTCP_UNAVAILABLE: u32 = 8;
const REPORT: u32 = 16;
const REPORT_TO_FILE: u32 = 32;

static STATE: AtomicU32 = AtomicU32::new(0);

/// A snapshot of the configuration and state.
#[derive(Clone, Copy)]
pub struct State(u32);

impl State {
    pub fn debug(self) -> bool {
        self.0 & DEBUG != 0
    }
    pub fn no_fallback(self) -> bool {
        self.0 & NO_FALLBACK != 0
    }
    pub fn mptcp_unavailable(self) -> bool {
        self.0 & MPTCP_UNAVAILABLE != 0
    }
    /// Sockets are tracked and reported (`MPTCPIZE_REPORT` is set).
    pub fn report(self) -> bool {
        self.0 & REPORT != 0
    }
}

/// Where the report goes.
pub enum ReportTo {
    Stderr,
    /// The file's NUL-terminated path.
    File(&'static CStr),
}

/// The longest report file path kept; a longer one turns the report off.
const PATH_MAX: usize = 4096;

/// The report file's path, written once by the first [`init`] and read only
/// after [`PATH_READY`] says it is complete.
struct PathBuf(UnsafeCell<[u8; PATH_MAX]>);
// SAFETY: the buffer is written by exactly one thread (the one that wins
// PATH_CLAIMED) before PATH_READY is published with Release ordering, and
// only read after an Acquire load of PATH_READY; it is never written again.
unsafe impl Sync for PathBuf {}

static PATH: PathBuf = PathBuf(UnsafeCell::new([0; PATH_MAX]));
static PATH_CLAIMED: AtomicBool = AtomicBool::new(false);
static PATH_READY: AtomicBool = AtomicBool::new(false);

/// Where the report goes, or `None` when it is off (or the path was still
/// being copied by another thread, which only happens before `main`).
pub fn report_to() -> Option<ReportTo> {
    let s = state();
    if !s.report() {
        None
    } else if s.0 & REPORT_TO_FILE == 0 {
        Some(ReportTo::Stderr)
    } else if PATH_READY.load(Ordering::Acquire) {
        // SAFETY: PATH_READY (Acquire) says the buffer was completely written,
        // NUL included, and it is never written again.
        let bytes: &'static [u8; PATH_MAX] = unsafe { &*PATH.0.get() };
        CStr::from_bytes_until_nul(bytes).ok().map(ReportTo::File)
    } else {
        None
    }
}

/// Copies `path` into [`PATH`], once per process; false when it is too long.
fn keep_path(path: &[u8]) -> bool {
    if path.len() >= PATH_MAX || path.contains(&0) {
        return false;
    }
    if PATH_CLAIMED.swap(true, Ordering::Relaxed) {
        // Another thread copies it (the same bytes: the environment is read
        // before main); report_to() waits for PATH_READY.
        return true;
    }
    // SAFETY: winning PATH_CLAIMED makes this the only writer, and no reader
    // looks before PATH_READY is set below.
    unsafe {
        let buf = &mut *PATH.0.get();
        buf[..path.len()].copy_from_slice(path);
        buf[path.len()] = 0;
    }
    PATH_READY.store(true, Ordering::Release);
    true
}

/// The current state, reading the environment first if nobody has yet.
#[inline(always)]
pub fn state() -> State {
    let s = STATE.load(Ordering::Relaxed);
    if s & READ != 0 {
        State(s)
    } else {
        State(init())
    }
}

/// Remembers for the rest of the process that MPTCP sockets cannot be made.
pub fn mark_mptcp_unavailable() {
    STATE.fetch_or(MPTCP_UNAVAILABLE, Ordering::Relaxed);
}

/// Reads the configuration from the environment. Idempotent: two threads
/// racing here compute the same bits.
#[cold]
pub fn init() -> u32 {
    let mut bits = READ;
    if flag_on(b"MPTCPIZE_DEBUG") || flag_on(b"MPTCPWRAP_DEBUG") {
        bits |= DEBUG;
    }
    if let Some(v) = env(b"MPTCPIZE_FALLBACK") {
        if is_false(v) {
            bits |= NO_FALLBACK;
        }
    }
    match env(b"MPTCPIZE_REPORT") {
        None => {}
        Some(b"" | b"-" | b"stderr") => bits |= REPORT,
        Some(path) => {
            if keep_path(path) {
                bits |= REPORT | REPORT_TO_FILE;
            }
        }
    }
    STATE.fetch_or(bits, Ordering::Relaxed) | bits
}

#[cfg(not(test))]
#[ctor::ctor(unsafe)]
fn read_environment_at_load() {
    let bits = init();
    crate::next::resolve();
    if State(bits).report() {
        crate::report::start();
    }
}

/// A debug variable is on when set to anything but empty, `0`, `no`, `false`
/// or `off`.
fn flag_on(name: &[u8]) -> bool {
    matches!(env(name), Some(v) if !is_false(v))
}

fn is_false(v: &[u8]) -> bool {
    matches!(
        v,
        b"" | b"0" | b"no" | b"false" | b"off" | b"NO" | b"FALSE" | b"OFF"
    )
}

extern "C" {
    static environ: *const *const c_char;
}

/// The value of environment variable `name`, found by scanning `environ`.
fn env(name: &[u8]) -> Option<&'static [u8]> {
    // SAFETY: `environ` is the C library's NULL-terminated array of
    // NUL-terminated strings; it is read here, never written, and the strings
    // live for the life of the process in practice (as getenv assumes).
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return None;
        }
        while !(*p).is_null() {
            let entry = CStr::from_ptr(*p).to_bytes();
            if entry.len() > name.len() && entry.starts_with(name) && entry[name.len()] == b'=' {
                return Some(&entry[name.len() + 1..]);
            }
            p = p.add(1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_words() {
        for v in [&b""[..], b"0", b"no", b"off", b"false"] {
            assert!(is_false(v));
        }
        for v in [&b"1"[..], b"yes", b"on"] {
            assert!(!is_false(v));
        }
    }
}
