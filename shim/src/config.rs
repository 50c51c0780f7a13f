//! The shim's configuration and process-wide state, in one atomic word.
//!
//! The environment is read once, by a constructor; a `socket()` that runs
//! before it (another library's constructor can do that) reads it then. The
//! lookup scans `environ` directly: no getenv, no locks, no allocation.
//! Readers that see "read" see the whole configuration.

use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicU32, Ordering};

const UNREAD: u32 = 1;
const DEBUG: u32 = 2;
const NO_FALLBACK: u32 = 4;
const MPTCP_UNAVAILABLE: u32 = 8;

/// Starts as "not read yet"; [`init`] clears that bit and sets the others.
static STATE: AtomicU32 = AtomicU32::new(UNREAD);

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
}

/// The current state, reading the environment first if nobody has yet.
pub fn state() -> State {
    let s = STATE.load(Ordering::Relaxed);
    if s & UNREAD == 0 {
        State(s)
    } else {
        State(init())
    }
}

/// True once a socket() in this process fell back to TCP. Valid before the
/// environment was read: the bit is only ever set, by a fallback.
#[inline(always)]
pub fn mptcp_unavailable() -> bool {
    STATE.load(Ordering::Relaxed) & MPTCP_UNAVAILABLE != 0
}

/// True when a successful MPTCP socket needs more than returning it: the
/// configuration is not read yet, or the debug log is on.
#[inline(always)]
pub fn needs_attention() -> bool {
    STATE.load(Ordering::Relaxed) & (UNREAD | DEBUG) != 0
}

/// Remembers for the rest of the process that MPTCP sockets cannot be made.
pub fn mark_mptcp_unavailable() {
    STATE.fetch_or(MPTCP_UNAVAILABLE, Ordering::Relaxed);
}

/// Reads the configuration from the environment. Idempotent: two threads
/// racing here compute the same bits.
#[cold]
pub fn init() -> u32 {
    let mut bits = 0;
    if flag_on(b"MPTCPIZE_DEBUG") || flag_on(b"MPTCPWRAP_DEBUG") {
        bits |= DEBUG;
    }
    if let Some(v) = env(b"MPTCPIZE_FALLBACK") {
        if is_false(v) {
            bits |= NO_FALLBACK;
        }
    }
    // Set the configuration first, then mark it read, so that a reader that
    // sees the mark also sees the bits.
    STATE.fetch_or(bits, Ordering::Relaxed);
    STATE.fetch_and(!UNREAD, Ordering::Release) & !UNREAD | bits
}

#[cfg(not(test))]
#[ctor::ctor(unsafe)]
fn read_environment_at_load() {
    init();
    crate::next::resolve();
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
