//! One line, built in a buffer on the stack and written with a single
//! write(2), so that lines from threads and from other processes never mix.
//! Numbers are formatted here by hand rather than with `core::fmt`, which
//! would bring panic paths (and `abort`, `memcpy` imports) into libraries
//! that must have none.

use core::mem::MaybeUninit;

/// A line of at most `N` bytes, newline included; longer text is cut.
pub struct Line<const N: usize> {
    /// Bytes `..len` are written; the rest is never read.
    buf: [MaybeUninit<u8>; N],
    len: usize,
}

impl<const N: usize> Line<N> {
    /// An empty line in `slot`, where it stays: neither cleared nor moved
    /// (no memset or memcpy: the buffer is filled as it is written, and
    /// nothing reads beyond that).
    pub fn empty(slot: &mut MaybeUninit<Line<N>>) -> &mut Line<N> {
        let p = slot.as_mut_ptr();
        // SAFETY: `len` is written through a raw pointer into the slot; the
        // buffer's bytes are MaybeUninit, valid uninitialised, so the whole
        // Line is initialised once `len` is.
        unsafe {
            core::ptr::addr_of_mut!((*p).len).write(0);
            slot.assume_init_mut()
        }
    }

    /// An empty line in `slot`, started with `mptcpize[PID]` and `tag`.
    pub fn start<'a>(slot: &'a mut MaybeUninit<Line<N>>, tag: &str) -> &'a mut Line<N> {
        Line::empty(slot)
            .s("mptcpize[")
            .n(crate::sys::getpid() as u64)
            .s("]")
            .s(tag)
    }

    /// One byte; the last one is kept for the newline. Not inlined, on
    /// purpose: a loop the compiler cannot turn into a memcpy() call keeps
    /// the libraries' imports to what they need.
    #[inline(never)]
    pub fn push(&mut self, b: u8) {
        if self.len + 1 < N {
            if let Some(slot) = self.buf.get_mut(self.len) {
                slot.write(b);
            }
            self.len += 1;
        }
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        let len = self.len.min(N);
        // SAFETY: bytes ..len were written by push (len never exceeds N),
        // and MaybeUninit<u8> has u8's layout.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), len) }
    }

    /// Appends text.
    pub fn s(&mut self, s: &str) -> &mut Line<N> {
        for &b in s.as_bytes() {
            self.push(b);
        }
        self
    }

    /// Appends bytes (a path, which need not be UTF-8).
    pub fn b(&mut self, bytes: &[u8]) -> &mut Line<N> {
        for &b in bytes {
            self.push(b);
        }
        self
    }

    /// Appends a number in decimal.
    pub fn n(&mut self, mut n: u64) -> &mut Line<N> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        for &d in digits.iter().skip(i) {
            self.push(d);
        }
        self
    }

    /// Appends a signed number in decimal.
    pub fn i(&mut self, n: i64) -> &mut Line<N> {
        if n < 0 {
            self.push(b'-');
        }
        self.n(n.unsigned_abs())
    }

    /// Appends `N word` or `N words`.
    pub fn count(&mut self, n: u64, word: &str) -> &mut Line<N> {
        self.n(n).s(" ").s(word);
        if n != 1 {
            self.s("s");
        }
        self
    }

    /// Ends the line with its newline and gives its bytes.
    pub fn finish(&mut self) -> &[u8] {
        if let Some(slot) = self.buf.get_mut(self.len) {
            slot.write(b'\n');
            self.len += 1;
        }
        self.written()
    }

    /// The text so far (without the newline), for tests.
    pub fn text(&self) -> &str {
        core::str::from_utf8(self.written()).unwrap_or("")
    }
}

impl<const N: usize> mptcpize_rules::names::Sink for Line<N> {
    /// Not inlined: the report's renderer calls it for each word, and one
    /// copy of the loop keeps the library small.
    #[inline(never)]
    fn text(&mut self, s: &str) {
        self.s(s);
    }
    fn int(&mut self, n: i64) {
        self.i(n);
    }
    #[inline(never)]
    fn uint(&mut self, n: u64) {
        self.n(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_counts_and_cut() {
        let mut slot = MaybeUninit::uninit();
        let line: &mut Line<64> = Line::empty(&mut slot);
        line.n(0)
            .s(" ")
            .n(u64::MAX)
            .s(" ")
            .i(-12)
            .s(" ")
            .count(1, "subflow")
            .s(" ")
            .count(2, "subflow");
        assert_eq!(
            line.text(),
            "0 18446744073709551615 -12 1 subflow 2 subflows"
        );
        for _ in 0..10 {
            line.s("0123456789");
        }
        assert_eq!(line.text().len(), 63);
        assert_eq!(line.finish().last(), Some(&b'\n'));
        assert_eq!(line.finish().len(), 64);
    }
}
