//! The shim's configuration and process-wide state, in one atomic word.
//!
//! The environment is read once, by a constructor; a `socket()` that runs
//! before it (another library's constructor can do that) reads it then. The
//! lookup scans `environ` directly: no getenv, no locks, no allocation.
//! Readers that see "read" see the whole configuration.
//!
//! `MPTCPIZE_REPORT` (set by `mptcpize-rs run --report[=FILE]`) turns the
//! per-connection report on, as `mptcpize_rules::env::Report` reads it:
//! `stderr` (or `-`, or an on word) writes it to fd 2, an off word or an
//! empty value leaves it off, anything else is a file the report is
//! appended to. Its path is copied
//! once (into a page mapped for it), so a program that rewrites its
//! environment (for its process title) cannot change it.

use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use mptcpize_rules::env::{self, Report, Settings};

const UNREAD: u32 = 1;
const DEBUG: u32 = 2;
const NO_FALLBACK: u32 = 4;
const MPTCP_UNAVAILABLE: u32 = 8;
const REPORT: u32 = 16;
const REPORT_TO_FILE: u32 = 32;

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
    /// Sockets are followed and reported (`MPTCPIZE_REPORT` is set).
    pub fn report(self) -> bool {
        self.0 & REPORT != 0
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
/// configuration is not read yet, the debug log or the report is on.
#[inline(always)]
pub fn needs_attention() -> bool {
    STATE.load(Ordering::Relaxed) & (UNREAD | DEBUG | REPORT) != 0
}

/// True when the report is on (false before the environment was read: no
/// socket is followed before then).
#[inline(always)]
pub fn report_on() -> bool {
    STATE.load(Ordering::Relaxed) & REPORT != 0
}

/// Where the report goes.
pub enum ReportTo {
    Stderr,
    /// The file's NUL-terminated path.
    File(&'static CStr),
}

/// The longest report file path kept; a longer one turns the report off.
const PATH_MAX: usize = 4096;

/// The report file's NUL-terminated path, in a page of its own mapped by
/// [`keep_path`] (a static buffer would add a page of `.bss`, and a mapping,
/// to every program that loads the shim); null until then. Written once,
/// before it is published, and never again.
static PATH: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

/// Where the report goes, or `None` when it is off.
pub fn report_to() -> Option<ReportTo> {
    let s = STATE.load(Ordering::Acquire);
    if s & REPORT == 0 {
        None
    } else if s & REPORT_TO_FILE == 0 {
        Some(ReportTo::Stderr)
    } else {
        let p = PATH.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: PATH (Acquire) points to a NUL-terminated string written
        // completely before it was published, and never written again.
        Some(ReportTo::File(unsafe { CStr::from_ptr(p.cast()) }))
    }
}

/// Copies `path` into a page of its own, once per process; false when it is
/// too long or no page can be mapped.
fn keep_path(path: &[u8]) -> bool {
    if path.len() >= PATH_MAX {
        return false;
    }
    if !PATH.load(Ordering::Acquire).is_null() {
        return true;
    }
    // SAFETY: an anonymous private mapping; no memory of ours is touched.
    let page = unsafe {
        libc::syscall(
            libc::SYS_mmap,
            core::ptr::null_mut::<u8>(),
            PATH_MAX,
            libc::c_long::from(libc::PROT_READ | libc::PROT_WRITE),
            libc::c_long::from(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS),
            -1 as libc::c_long,
            0 as libc::c_long,
        )
    };
    if page < 0 {
        return false;
    }
    let buf = page as *mut u8;
    // Byte by byte with volatile stores (the compiler makes no memcpy call:
    // the shim imports none); the page is zeros beyond, so the NUL is there.
    for (i, &b) in path.iter().enumerate() {
        // SAFETY: `i < path.len() < PATH_MAX`, within our own fresh page.
        unsafe { core::ptr::write_volatile(buf.add(i), b) };
    }
    if PATH
        .compare_exchange(
            core::ptr::null_mut(),
            buf,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        // Another thread published the same path first.
        // SAFETY: our own mapping, never published.
        unsafe { libc::syscall(libc::SYS_munmap, buf, PATH_MAX) };
    }
    true
}

/// Remembers for the rest of the process that MPTCP sockets cannot be made.
pub fn mark_mptcp_unavailable() {
    STATE.fetch_or(MPTCP_UNAVAILABLE, Ordering::Relaxed);
}

/// Reads the configuration from the environment, as the rules read it
/// (`mptcpize_rules::env`). Idempotent: two threads racing here compute the
/// same bits.
#[cold]
pub fn init() -> u32 {
    let mut settings = Settings::new();
    for_each_var(|name, value| settings.read(name, value));
    let mut bits = 0;
    if settings.debug() {
        bits |= DEBUG;
    }
    if settings.no_fallback() {
        bits |= NO_FALLBACK;
    }
    match settings.report() {
        Report::Off => {}
        Report::Stderr => bits |= REPORT,
        Report::File(path) if keep_path(path) => bits |= REPORT | REPORT_TO_FILE,
        Report::File(_) => {}
    }
    // Set the configuration first, then mark it read, so that a reader that
    // sees the mark also sees the bits.
    STATE.fetch_or(bits, Ordering::Relaxed);
    STATE.fetch_and(!UNREAD, Ordering::Release) & !UNREAD | bits
}

#[cfg(not(test))]
#[ctor::ctor(unsafe)]
fn read_environment_at_load() {
    let report = State(init()).report();
    crate::next::resolve(report);
    if report {
        crate::report::start();
    }
}

extern "C" {
    static environ: *const *const c_char;
}

/// The variables the shim reads.
const NAMES: [&[u8]; 4] = [
    env::DEBUG.as_bytes(),
    env::MPTCPWRAP_DEBUG.as_bytes(),
    env::FALLBACK.as_bytes(),
    env::REPORT.as_bytes(),
];

/// Calls `f(name, value)` for each of [`NAMES`] that is set. Values are cut
/// at 8 bytes, which every value the shim understands fits in, except the
/// report's path (at most [`PATH_MAX`], longer turns it off). One pass over
/// `environ`, and most entries are passed over at their first byte: loading
/// the shim stays cheap.
fn for_each_var<'e>(mut f: impl FnMut(&[u8], &'e [u8])) {
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
                    let max = if name == env::REPORT.as_bytes() {
                        PATH_MAX
                    } else {
                        8
                    };
                    let mut len = 0;
                    while len < max && *value.add(len) != 0 {
                        len += 1;
                    }
                    f(name, core::slice::from_raw_parts(value, len));
                }
            }
        }
    }
}
