//! The shim's configuration and process-wide state, in one atomic word.
//!
//! The environment is read once, by a constructor; a `socket()` that runs
//! before it (another library's constructor can do that) reads it then. The
//! lookup scans `environ` directly: no getenv, no locks, no allocation.
//! Readers that see "read" see the whole configuration.

use core::ffi::c_char;
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
    for_each_var(|name, value| match name {
        b"MPTCPIZE_DEBUG" | b"MPTCPWRAP_DEBUG" if !is_false(value) => bits |= DEBUG,
        b"MPTCPIZE_FALLBACK" if is_false(value) => bits |= NO_FALLBACK,
        _ => {}
    });
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

/// A variable is off when set to empty, `0`, `no`, `false` or `off`.
fn is_false(v: &[u8]) -> bool {
    matches!(
        v,
        b"" | b"0" | b"no" | b"false" | b"off" | b"NO" | b"FALSE" | b"OFF"
    )
}

extern "C" {
    static environ: *const *const c_char;
}

/// The variables the shim reads.
const NAMES: [&[u8]; 3] = [b"MPTCPIZE_DEBUG", b"MPTCPWRAP_DEBUG", b"MPTCPIZE_FALLBACK"];

/// Calls `f(name, value)` for each of [`NAMES`] that is set. Values are cut
/// at 8 bytes, which every value the shim understands fits in. One pass over
/// `environ`, and most entries are passed over at their first byte: loading
/// the shim stays cheap.
fn for_each_var(mut f: impl FnMut(&[u8], &[u8])) {
    // SAFETY: `environ` is the C library's NULL-terminated array of
    // NUL-terminated strings. It is only read here, never past an entry's
    // NUL (a byte that differs from a name's ends the comparison first), and
    // the strings live as long as getenv assumes.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return;
        }
        while !(*p).is_null() {
            let entry = (*p).cast::<u8>();
            p = p.add(1);
            if *entry != b'M' {
                continue;
            }
            for name in NAMES {
                let matches = name.iter().enumerate().all(|(i, &b)| *entry.add(i) == b);
                if matches && *entry.add(name.len()) == b'=' {
                    let value = entry.add(name.len() + 1);
                    let mut len = 0;
                    while len < 8 && *value.add(len) != 0 {
                        len += 1;
                    }
                    f(name, core::slice::from_raw_parts(value, len));
                }
            }
        }
    }
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
