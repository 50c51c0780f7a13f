//! The debug log (`MPTCPIZE_DEBUG=1`): one line on stderr per converted
//! socket, per fallback and per failure, built in a stack buffer and written
//! with a single write(2), so it stays async-signal-safe and lines from many
//! threads do not interleave. errno is preserved across the write.

use core::ffi::c_int;
use mptcpize_rules::names::{self, Sink};

/// The longest line; longer text is cut.
const MAX: usize = 192;

/// A line being written into a buffer on the caller's stack.
struct Line<'a> {
    buf: &'a mut [u8; MAX],
    len: usize,
}

impl<'a> Line<'a> {
    /// Starts a line with `mptcpize[PID]: `.
    fn new(buf: &'a mut [u8; MAX]) -> Self {
        let mut line = Line { buf, len: 0 };
        line.str("mptcpize[");
        // SAFETY: getpid(2) has no arguments and cannot fail.
        line.num(unsafe { libc::syscall(libc::SYS_getpid) });
        line.str("]: ");
        line
    }

    fn str(&mut self, s: &str) -> &mut Self {
        for &b in s.as_bytes() {
            self.push(b);
        }
        self
    }

    /// One byte at a time, on purpose: a loop the compiler cannot turn into
    /// a memcpy() call keeps the shim's imports (each a symbol look-up when
    /// a program loads it) to what it needs.
    #[inline(never)]
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn num(&mut self, mut n: i64) -> &mut Self {
        if n < 0 {
            self.str("-");
            n = -n;
        }
        let mut digits = [0u8; 20];
        let mut count = 0;
        for slot in digits.iter_mut() {
            *slot = b'0' + (n % 10) as u8;
            count += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in digits.iter().take(count).rev() {
            self.push(d);
        }
        self
    }

    /// `socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)`, in the rules' words.
    fn call(&mut self, domain: c_int, ty: c_int, protocol: c_int) -> &mut Self {
        names::write_socket_call(self, domain, ty, protocol);
        self
    }

    fn errno(&mut self, err: c_int) -> &mut Self {
        names::write_errno(self, err);
        self
    }

    fn emit(&mut self) {
        self.str("\n");
        if self.len == MAX {
            self.buf[MAX - 1] = b'\n';
        }
        // SAFETY: errno is this thread's; write(2) reads `len` initialised
        // bytes of our buffer. The syscall, like getpid's above, goes through
        // syscall(): one import instead of two.
        unsafe {
            let errno = libc::__errno_location();
            let saved = *errno;
            libc::syscall(libc::SYS_write, 2, self.buf.as_ptr(), self.len);
            *errno = saved;
        }
    }
}

impl Sink for Line<'_> {
    fn text(&mut self, s: &str) {
        self.str(s);
    }
    fn int(&mut self, n: i64) {
        self.num(n);
    }
}

/// `mptcpize[PID]: socket(AF_INET, SOCK_STREAM, 0) = 3: MPTCP`
#[cold]
pub fn converted(domain: c_int, ty: c_int, protocol: c_int, fd: c_int) {
    Line::new(&mut [0; MAX])
        .call(domain, ty, protocol)
        .str(" = ")
        .num(fd.into())
        .str(": MPTCP")
        .emit();
}

/// `mptcpize[PID]: socket(…) = 3: TCP, MPTCP unavailable (ENOPROTOOPT), fallback for the rest of the process`
#[cold]
pub fn fell_back(domain: c_int, ty: c_int, protocol: c_int, err: c_int, fd: c_int) {
    Line::new(&mut [0; MAX])
        .call(domain, ty, protocol)
        .str(" = ")
        .num(fd.into())
        .str(": TCP, MPTCP unavailable (")
        .errno(err)
        .str("), fallback for the rest of the process")
        .emit();
}

/// `mptcpize[PID]: socket(…) = -1: MPTCP failed (ENOPROTOOPT), fallback disabled`
#[cold]
pub fn failed(domain: c_int, ty: c_int, protocol: c_int, err: c_int, no_fallback: bool) {
    Line::new(&mut [0; MAX])
        .call(domain, ty, protocol)
        .str(" = -1: MPTCP failed (")
        .errno(err)
        .str(if no_fallback {
            "), fallback disabled"
        } else {
            ")"
        })
        .emit();
}
