//! The core shim's configuration, read once from the environment (as
//! `mptcpize_rules::env` reads it) into one atomic word: debug lines on,
//! fallback off, refused socket options kept. The constructor reads it when the library loads; a
//! `socket()` that runs before it (another library's constructor can do
//! that) reads it then. Readers that see "read" see the whole configuration.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use mptcpize_preload::environ::Environ;
use mptcpize_preload::stderr;

const UNREAD: u32 = 1;
const DEBUG: u32 = 2;
const NO_FALLBACK: u32 = 4;
const STRICT_OPTIONS: u32 = 8;

/// Starts as "not read yet"; [`read`] replaces it.
static CONFIG: AtomicU32 = AtomicU32::new(UNREAD);

/// A snapshot of the configuration.
#[derive(Clone, Copy)]
pub struct Config(u32);

impl Config {
    pub fn debug(self) -> bool {
        self.0 & DEBUG != 0
    }
    pub fn no_fallback(self) -> bool {
        self.0 & NO_FALLBACK != 0
    }
    /// Refused socket options keep their error (`MPTCPIZE_STRICT_OPTIONS`).
    pub fn strict_options(self) -> bool {
        self.0 & STRICT_OPTIONS != 0
    }
}

/// The configuration, reading the environment first if nobody has yet
/// (a call before the constructor).
pub fn get() -> Config {
    let c = CONFIG.load(Ordering::Acquire);
    if c & UNREAD == 0 {
        Config(c)
    } else {
        Config(read(Environ::current()))
    }
}

/// True once the configuration is read and a successful MPTCP socket needs
/// nothing more than returning it (the debug log is off): a byte of its
/// own, which the hot path tests in one instruction.
static QUIET: AtomicBool = AtomicBool::new(false);

/// See [`QUIET`].
#[inline(always)]
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Reads the environment. Idempotent: threads racing here compute the same
/// bits. With the debug log on, notes which file the process's stderr is
/// (the log goes there and nowhere else).
#[cold]
pub fn read(environ: Environ) -> u32 {
    let bits = environ.with_settings(|s| {
        (u32::from(s.debug()) * DEBUG)
            | (u32::from(s.no_fallback()) * NO_FALLBACK)
            | (u32::from(s.strict_options()) * STRICT_OPTIONS)
    });
    if bits & DEBUG != 0 {
        stderr::capture();
    }
    CONFIG.store(bits, Ordering::Release);
    QUIET.store(bits & DEBUG == 0, Ordering::Release);
    crate::fdtable::set_fast(bits & DEBUG == 0);
    bits
}
