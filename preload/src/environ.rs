//! The settings (`mptcpize_rules::env`), read with one scan of the
//! environment: no getenv, no locks, no allocation, and most entries are
//! passed over at their first byte, so that loading a library stays cheap.
//!
//! The environment comes from the C library's call of the libraries'
//! constructors (glibc passes `argc, argv, envp` to each `.init_array`
//! function), so that the libraries import no `environ` (each import is a
//! symbol look-up in every program that loads them); a call that comes
//! before the constructor finds `environ` with dlsym.

use core::ffi::{c_char, c_int};
use mptcpize_rules::env::{self, Settings};

/// The variables the libraries read.
const NAMES: [&str; 6] = [
    env::DEBUG,
    env::MPTCPWRAP_DEBUG,
    env::FALLBACK,
    env::STRICT_OPTIONS,
    env::REPORT,
    env::REPORT_FORMAT,
];

/// The longest value read; a longer one is cut here (only a report path
/// can be long, and a cut path is refused).
pub const VALUE_MAX: usize = 4096;

/// A constructor as the C library calls it: `(argc, argv, envp)`.
pub type Constructor = unsafe extern "C" fn(c_int, *const *const c_char, *const *const c_char);

/// The process's environment: a NULL-terminated array of NUL-terminated
/// `NAME=value` strings, or null.
#[derive(Clone, Copy)]
pub struct Environ(*const *const c_char);

impl Environ {
    /// The environment a constructor was given.
    ///
    /// # Safety
    /// `envp` is null or the C library's environment array, whose strings
    /// outlive the uses of this value.
    pub unsafe fn from_ptr(envp: *const *const c_char) -> Environ {
        Environ(envp)
    }

    /// The environment as it is now, found with dlsym (for a call that
    /// comes before the constructor: rare, and never in a signal handler
    /// of this process, which has no handler before its libraries loaded).
    #[cold]
    pub fn current() -> Environ {
        // SAFETY: dlsym with a NUL-terminated name; NULL when absent.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"environ".as_ptr()) };
        if p.is_null() {
            return Environ(core::ptr::null());
        }
        // SAFETY: `environ` is a `char **` variable of the C library, at the
        // address dlsym gave.
        Environ(unsafe { *p.cast::<*const *const c_char>() })
    }

    /// Calls `f` with the settings of this environment. The values borrow
    /// the environment's strings: `f` must not keep them.
    pub fn with_settings<R>(self, f: impl FnOnce(&Settings<'_>) -> R) -> R {
        let mut settings = Settings::new();
        // SAFETY: `self.0` is null or a NULL-terminated array of
        // NUL-terminated strings (from_ptr's contract; the C library's own
        // `environ` for current()). It is only read here, never past an
        // entry's NUL (a byte that differs from a name's ends the
        // comparison first), and the strings outlive this call.
        unsafe {
            let mut p = self.0;
            while !p.is_null() && !(*p).is_null() {
                let entry = (*p).cast::<u8>();
                p = p.add(1);
                if *entry != b'M' {
                    continue;
                }
                for name in NAMES {
                    let name = name.as_bytes();
                    let matches = name.iter().enumerate().all(|(i, &b)| *entry.add(i) == b);
                    if matches && *entry.add(name.len()) == b'=' {
                        let value = entry.add(name.len() + 1);
                        let mut len = 0;
                        while len < VALUE_MAX && *value.add(len) != 0 {
                            len += 1;
                        }
                        settings.read(name, core::slice::from_raw_parts(value, len));
                    }
                }
            }
        }
        f(&settings)
    }
}
