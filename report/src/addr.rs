//! Socket addresses in report lines, as std writes them (`a.b.c.d:port`,
//! `[v6]:port`, RFC 5952), without `core::fmt`.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use mptcpize_preload::line::Line;

/// Appends an address to a line.
pub trait WriteAddr {
    /// Appends `a.b.c.d:port` or `[v6]:port`.
    fn addr(&mut self, addr: SocketAddr) -> &mut Self;
    fn hex(&mut self, v: u16) -> &mut Self;
    fn v4(&mut self, ip: Ipv4Addr) -> &mut Self;
    fn v6(&mut self, ip: Ipv6Addr) -> &mut Self;
}

impl<const N: usize> WriteAddr for Line<N> {
    fn hex(&mut self, v: u16) -> &mut Self {
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

    fn v4(&mut self, ip: Ipv4Addr) -> &mut Self {
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
    fn v6(&mut self, ip: Ipv6Addr) -> &mut Self {
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

    fn addr(&mut self, addr: SocketAddr) -> &mut Self {
        match addr {
            SocketAddr::V4(a) => self.v4(*a.ip()),
            SocketAddr::V6(a) => self.s("[").v6(*a.ip()).s("]"),
        };
        self.s(":").n(u64::from(addr.port()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::MaybeUninit;

    fn shown(addr: &str) -> String {
        let mut slot = MaybeUninit::uninit();
        let line: &mut Line<100> = Line::empty(&mut slot);
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
}
