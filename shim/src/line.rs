//! One report line, `mptcpize[PID] report: …`, built in a buffer on the
//! stack and written with a single write(2) on stderr or on the report file
//! (opened with `O_APPEND` for that one write), so lines from threads and
//! from other processes never mix. Numbers and addresses are formatted here
//! by hand rather than with `core::fmt`, which would bring panic paths (and
//! `abort`, `memcpy` imports) into a library that must have none.

use crate::config::{self, ReportTo};
use crate::sys;
use core::mem::MaybeUninit;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The longest line; longer text is cut.
const MAX: usize = 400;

pub struct Line {
    /// Bytes `..len` are written; the rest is never read.
    buf: [MaybeUninit<u8>; MAX],
    len: usize,
}

impl Line {
    /// An empty line in `slot`, where it stays: neither cleared nor moved
    /// (no memset or memcpy: the buffer is filled as it is written, and
    /// nothing reads beyond that).
    pub fn empty(slot: &mut MaybeUninit<Line>) -> &mut Line {
        let p = slot.as_mut_ptr();
        // SAFETY: `len` is written through a raw pointer into the slot; the
        // buffer's bytes are MaybeUninit, valid uninitialised, so the whole
        // Line is initialised once `len` is.
        unsafe {
            core::ptr::addr_of_mut!((*p).len).write(0);
            slot.assume_init_mut()
        }
    }

    /// An empty line in `slot`, started with `mptcpize[PID] report: `.
    pub fn start(slot: &mut MaybeUninit<Line>) -> &mut Line {
        Line::empty(slot)
            .s("mptcpize[")
            .n(sys::getpid() as u64)
            .s("] report: ")
    }

    fn push(&mut self, b: u8) {
        // The last byte is kept for the newline.
        if self.len < MAX - 1 {
            if let Some(slot) = self.buf.get_mut(self.len) {
                slot.write(b);
            }
            self.len += 1;
        }
    }

    /// The bytes written so far.
    fn written(&self) -> &[u8] {
        let len = self.len.min(MAX);
        // SAFETY: bytes ..len were written by push (len never exceeds MAX),
        // and MaybeUninit<u8> has u8's layout.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr().cast::<u8>(), len) }
    }

    /// Appends text.
    pub fn s(&mut self, s: &str) -> &mut Line {
        for &b in s.as_bytes() {
            self.push(b);
        }
        self
    }

    /// Appends a number in decimal.
    pub fn n(&mut self, mut n: u64) -> &mut Line {
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

    /// Appends `N word` or `N words`.
    pub fn count(&mut self, n: u64, word: &str) -> &mut Line {
        self.n(n).s(" ").s(word);
        if n != 1 {
            self.s("s");
        }
        self
    }

    fn hex(&mut self, v: u16) -> &mut Line {
        let mut started = false;
        for shift in [12, 8, 4, 0] {
            let d = ((v >> shift) & 0xf) as u8;
            if d != 0 || started || shift == 0 {
                started = true;
                self.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
            }
        }
        self
    }

    fn v4(&mut self, ip: Ipv4Addr) -> &mut Line {
        for (i, o) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                self.push(b'.');
            }
            self.n(u64::from(o));
        }
        self
    }

    /// RFC 5952: lowercase, no leading zeros, the longest run of two or
    /// more zero groups as `::`, and IPv4-mapped addresses as `::ffff:a.b.c.d`.
    fn v6(&mut self, ip: Ipv6Addr) -> &mut Line {
        if let Some(v4) = ip.to_ipv4_mapped() {
            return self.s("::ffff:").v4(v4);
        }
        let g = ip.segments();
        // The longest run of zero groups (the first of equal ones).
        let (mut best, mut best_len, mut run, mut run_len) = (0, 0, 0, 0);
        for (i, &x) in g.iter().enumerate() {
            if x == 0 {
                if run_len == 0 {
                    run = i;
                }
                run_len += 1;
                if run_len > best_len {
                    (best, best_len) = (run, run_len);
                }
            } else {
                run_len = 0;
            }
        }
        let mut i = 0;
        while i < 8 {
            if best_len >= 2 && i == best {
                self.s("::");
                i += best_len;
                continue;
            }
            if i > 0 && !(best_len >= 2 && i == best + best_len) {
                self.push(b':');
            }
            self.hex(g.get(i).copied().unwrap_or(0));
            i += 1;
        }
        self
    }

    /// Appends `a.b.c.d:port` or `[v6]:port`.
    pub fn addr(&mut self, addr: SocketAddr) -> &mut Line {
        match addr {
            SocketAddr::V4(a) => self.v4(*a.ip()),
            SocketAddr::V6(a) => self.s("[").v6(*a.ip()).s("]"),
        };
        self.s(":").n(u64::from(addr.port()))
    }

    /// The text so far (without the newline).
    #[cfg(test)]
    pub fn text(&self) -> &str {
        core::str::from_utf8(self.written()).unwrap_or("")
    }

    /// Ends the line and writes it where the report goes.
    pub fn emit(&mut self) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            slot.write(b'\n');
            self.len += 1;
        }
        let text = self.written();
        match config::report_to() {
            Some(ReportTo::Stderr) if !stderr_is_a_network_socket() => {
                sys::write(2, text);
            }
            Some(ReportTo::Stderr) => {}
            Some(ReportTo::File(path)) => {
                let fd = sys::open_append(path);
                if fd >= 0 {
                    sys::write(fd, text);
                    sys::close(fd);
                }
            }
            None => {}
        }
    }
}

impl mptcpize_rules::names::Sink for Line {
    fn text(&mut self, s: &str) {
        self.s(s);
    }
    fn int(&mut self, n: i64) {
        if n < 0 {
            self.s("-");
        }
        self.n(n.unsigned_abs());
    }
}

/// True when fd 2 is an IPv4 or IPv6 socket: a daemon that closed its
/// stderr got it back as a connection (or an inetd-style service talks to its
/// peer on it), and report lines there would go to the peer.
fn stderr_is_a_network_socket() -> bool {
    let mut domain: core::ffi::c_int = 0;
    let mut len = core::mem::size_of::<core::ffi::c_int>() as u32;
    let rc = sys::getsockopt(
        2,
        libc::SOL_SOCKET,
        libc::SO_DOMAIN,
        (&raw mut domain).cast(),
        &mut len,
    );
    rc == 0 && (domain == libc::AF_INET || domain == libc::AF_INET6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(addr: &str) -> String {
        let mut slot = MaybeUninit::uninit();
        let line = Line::empty(&mut slot);
        line.addr(addr.parse().unwrap());
        line.text().to_string()
    }

    #[test]
    fn addresses_read_as_std_writes_them() {
        for a in [
            "10.231.0.2:7000",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:80",
            "[::]:1",
            "[2001:db8::1]:443",
            "[2001:db8:0:1:0:0:0:1]:5",
            "[2001:0:0:1:0:0:0:1]:5",
            "[fe80::1:2:3:4]:9",
            "[1:2:3:4:5:6:7:8]:9",
            "[1:0:3:4:5:6:7:8]:9",
            "[::ffff:10.1.2.3]:22",
        ] {
            let std = a.parse::<SocketAddr>().unwrap().to_string();
            assert_eq!(shown(a), std, "{a}");
        }
    }

    #[test]
    fn numbers_counts_and_cut() {
        let mut slot = MaybeUninit::uninit();
        let line = Line::empty(&mut slot);
        line.n(0)
            .s(" ")
            .n(u64::MAX)
            .s(" ")
            .count(1, "subflow")
            .s(" ")
            .count(2, "subflow");
        assert_eq!(line.text(), "0 18446744073709551615 1 subflow 2 subflows");
        for _ in 0..100 {
            line.s("0123456789");
        }
        assert_eq!(line.text().len(), MAX - 1);
    }
}
