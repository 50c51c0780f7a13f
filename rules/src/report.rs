//! The words and the two forms of `mptcpize-rs run --report`: the text
//! lines (`mptcpize[PID] report: connection to …`) and JSON Lines (one
//! object per connection, one per process at its exit; the schema is in
//! README.md, "The report"). One place for both, so that the report
//! library (preload mode) and the seccomp supervisor write the same words
//! and the same objects.
//!
//! Everything is written into a [`Sink`]: the report library's line on the
//! stack (no `core::fmt`, no allocation, no panic), or a `String` in the
//! launcher. Addresses are written as `ss` writes them: IPv4-mapped IPv6
//! addresses as IPv4, IPv6 addresses in brackets (RFC 5952).

use crate::counts::{write_fallback_reason, write_socket_counts, SocketCounts};
use crate::names::Sink;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// What became of a connection (`"outcome"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// MPTCP negotiated with the peer.
    Mptcp,
    /// An MPTCP socket whose connection fell back to TCP.
    FellBack,
    /// A TCP socket.
    Tcp,
}

impl Outcome {
    /// The JSON value.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Mptcp => "mptcp",
            Outcome::FellBack => "fallback",
            Outcome::Tcp => "tcp",
        }
    }
}

/// Why a connection is not MPTCP (`"reason"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// It is MPTCP.
    None,
    /// An MPTCP connection whose peer (or a middlebox) answered in TCP.
    PeerDidNotNegotiate,
    /// A plain-TCP client on an MPTCP listener.
    PeerDidNotOffer,
    /// The core shim made the socket TCP: MPTCP refused an option.
    RefusedOption,
    /// The host has no MPTCP: the error of an MPTCP `socket()` (0: unknown).
    Unavailable(i32),
}

/// Writes a reason: `the peer did not negotiate MPTCP`,
/// `MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0`, …
pub fn write_reason(out: &mut impl Sink, reason: Reason) {
    match reason {
        Reason::None => {}
        Reason::PeerDidNotNegotiate => out.text("the peer did not negotiate MPTCP"),
        Reason::PeerDidNotOffer => out.text("the peer did not offer MPTCP"),
        Reason::RefusedOption => {
            out.text("made TCP: MPTCP refused a socket option set before connecting")
        }
        Reason::Unavailable(errno) => write_fallback_reason(out, errno),
    }
}

/// Which end of the connection the process is (`"side"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// It connected (`socket()` + `connect()`).
    Client,
    /// It accepted the connection.
    Server,
}

impl Side {
    /// The JSON value.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// How the end of a connection was seen (`"closed"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// `close()`.
    Close,
    /// `fclose()` of a stream on it.
    Fclose,
    /// `syscall(SYS_close, fd)` (libuv's close, node's).
    Syscall,
    /// `dup2()` or `dup3()` over its descriptor.
    Dup2,
    /// `close_range()`.
    CloseRange,
    /// Still open when the process exited.
    Exit,
}

impl Closed {
    /// The JSON value.
    pub const fn name(self) -> &'static str {
        match self {
            Closed::Close => "close",
            Closed::Fclose => "fclose",
            Closed::Syscall => "syscall",
            Closed::Dup2 => "dup2",
            Closed::CloseRange => "close_range",
            Closed::Exit => "exit",
        }
    }
}

/// One subflow at the last look (`"subflow_bytes"` entries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Subflow {
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// One connection, as reported.
#[derive(Clone, Copy, Debug)]
pub struct Connection<'a> {
    pub pid: u32,
    /// The process's name (`/proc/PID/comm`), any bytes.
    pub comm: &'a [u8],
    pub side: Side,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// The local token (`mptcp_info.token`), MPTCP only.
    pub token: Option<u32>,
    pub outcome: Outcome,
    pub reason: Reason,
    /// The most subflows established at once, the initial one included.
    pub subflows: u8,
    pub joins_attempted: Option<u8>,
    pub joins_failed: Option<u8>,
    /// Each subflow at the last look; `None` when the kernel cannot say.
    pub subflow_bytes: Option<&'a [Subflow]>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// False: at least these bytes, counted at shutdown.
    pub bytes_exact: bool,
    pub closed: Closed,
}

impl Connection<'_> {
    /// Subflows beyond the initial one (`"extra_subflows"`), as `ss -M`
    /// counts them (`subflows:1`).
    pub fn extra_subflows(&self) -> u8 {
        self.subflows.saturating_sub(1)
    }

    /// The text after `mptcpize[PID] report: `:
    /// `connection to 10.0.2.1:5201 from 10.0.1.1:40000, token 1a2b3c4d:
    /// MPTCP negotiated, 2 subflows (1 extra), 4000 bytes sent, 4000 bytes
    /// received`.
    #[inline(never)]
    pub fn write_text(&self, out: &mut impl Sink) {
        let (first, second) = match self.side {
            Side::Client => ("connection to ", " from "),
            Side::Server => ("connection from ", " to "),
        };
        out.text(first);
        match self.remote {
            Some(a) => write_addr(out, a),
            None => out.text("(peer gone)"),
        }
        if let Some(a) = self.local {
            out.text(second);
            write_addr(out, a);
        }
        if let Some(t) = self.token {
            out.text(", token ");
            write_hex(out, t);
        }
        match self.outcome {
            Outcome::Mptcp => {
                out.text(": MPTCP negotiated, ");
                write_count(out, self.subflows.into(), "subflow");
                out.text(" (");
                out.uint(self.extra_subflows().into());
                out.text(" extra)");
                if let Some(tried) = self.joins_attempted.filter(|&n| n > 0) {
                    out.text(", ");
                    write_count(out, tried.into(), "join");
                    out.text(" attempted");
                    if let Some(failed) = self.joins_failed.filter(|&n| n > 0) {
                        out.text(", ");
                        out.uint(failed.into());
                        out.text(" not established");
                    }
                }
            }
            Outcome::FellBack | Outcome::Tcp => {
                out.text(if self.outcome == Outcome::FellBack {
                    ": fell back to TCP ("
                } else {
                    ": TCP ("
                });
                write_reason(out, self.reason);
                out.text(")");
            }
        }
        if self.bytes_exact {
            out.text(", ");
            out.uint(self.bytes_sent);
            out.text(" bytes sent, ");
            out.uint(self.bytes_received);
            out.text(" bytes received");
        } else {
            out.text(", at least ");
            out.uint(self.bytes_sent);
            out.text(" bytes sent and ");
            out.uint(self.bytes_received);
            out.text(" received (counted at shutdown: the kernel drops a fallen-back connection's counts once both ends closed)");
        }
        if self.closed == Closed::Exit {
            out.text(", open at exit");
        }
    }

    /// The JSON object, keys in the schema's order.
    #[inline(never)]
    pub fn write_json(&self, out: &mut impl Sink) {
        let mut o = Object::start(out);
        o.str("kind", "connection");
        o.num("pid", self.pid.into());
        o.bytes("comm", self.comm);
        o.str("side", self.side.name());
        o.addr("local", self.local);
        o.addr("remote", self.remote);
        match self.token {
            Some(t) => {
                o.key("token");
                o.out.text("\"");
                write_hex(o.out, t);
                o.out.text("\"");
            }
            None => o.null("token"),
        }
        o.str("outcome", self.outcome.name());
        match self.reason {
            Reason::None => o.null("reason"),
            r => {
                o.key("reason");
                o.out.text("\"");
                write_reason(o.out, r);
                o.out.text("\"");
            }
        }
        o.num("subflows", self.subflows.into());
        o.num("extra_subflows", self.extra_subflows().into());
        o.opt_num("joins_attempted", self.joins_attempted.map(u64::from));
        o.opt_num("joins_failed", self.joins_failed.map(u64::from));
        match self.subflow_bytes {
            Some(list) => {
                o.key("subflow_bytes");
                o.out.text("[");
                for (i, sf) in list.iter().enumerate() {
                    if i > 0 {
                        o.out.text(",");
                    }
                    let mut s = Object::start(o.out);
                    s.addr("local", sf.local);
                    s.addr("remote", sf.remote);
                    s.num("bytes_sent", sf.bytes_sent);
                    s.num("bytes_received", sf.bytes_received);
                    s.end();
                }
                o.out.text("]");
            }
            None => o.null("subflow_bytes"),
        }
        o.num("bytes_sent", self.bytes_sent);
        o.num("bytes_received", self.bytes_received);
        o.bool("bytes_exact", self.bytes_exact);
        o.str("closed", self.closed.name());
        o.end();
    }
}

/// How a process's sockets were made MPTCP (`"mode"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The preload libraries.
    Preload,
    /// The seccomp supervisor.
    Seccomp,
}

impl Mode {
    /// The JSON value.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Preload => "preload",
            Mode::Seccomp => "seccomp",
        }
    }
}

/// One process's counts, at its exit. `None`: what this mode cannot see.
#[derive(Clone, Copy, Debug)]
pub struct Process<'a> {
    pub pid: u32,
    pub comm: &'a [u8],
    pub mode: Mode,
    /// Sockets made MPTCP.
    pub sockets_mptcp: u32,
    /// Sockets made TCP because MPTCP is unavailable.
    pub sockets_fallback: u32,
    /// The error that made the first one fall back (0: none or unknown).
    pub fallback_errno: i32,
    /// MPTCP `socket()` calls that failed without a fallback.
    pub sockets_failed: u32,
    /// MPTCP sockets made TCP again after MPTCP refused an option.
    pub sockets_made_tcp: Option<u32>,
    pub connections_mptcp: Option<u32>,
    pub connections_fallback: Option<u32>,
    pub connections_tcp: Option<u32>,
    /// The most subflows any MPTCP connection had.
    pub max_subflows: Option<u8>,
    /// Sockets not followed (descriptors beyond the table).
    pub not_followed: Option<u32>,
    /// The first descriptor not followed.
    pub followed_fds: u32,
    /// Connections closed past the library (raw close system calls).
    pub closed_unseen: Option<u32>,
    /// Connections this process closed while another process still held
    /// them (that one reports them).
    pub handed_over: Option<u32>,
    /// MPTCP and TCP connections open at exit that the library never saw
    /// made (raw system calls, a runtime that bypasses the C library).
    pub never_seen: Option<u32>,
}

impl Process<'_> {
    /// The fallback reason, when some socket fell back or failed.
    fn fallback_reason(&self) -> Option<Reason> {
        (self.sockets_fallback + self.sockets_failed > 0)
            .then_some(Reason::Unavailable(self.fallback_errno))
    }

    /// The text after `mptcpize[PID] report: `: `exit: 1 socket made MPTCP,
    /// 0 fell back to TCP; connections: 1 MPTCP (largest: 2 subflows), 0
    /// fell back to TCP, 0 TCP`.
    #[inline(never)]
    pub fn write_text(&self, out: &mut impl Sink) {
        out.text("exit: ");
        write_socket_counts(
            out,
            &SocketCounts {
                mptcp: self.sockets_mptcp.into(),
                fell_back: self.sockets_fallback.into(),
                failed: self.sockets_failed.into(),
                fallback_errno: self.fallback_errno,
            },
        );
        if let Some(n) = self.sockets_made_tcp.filter(|&n| n > 0) {
            out.text(", ");
            out.uint(n.into());
            out.text(" made TCP again after MPTCP refused a socket option");
        }
        if let (Some(mptcp), Some(fell_back), Some(tcp)) = (
            self.connections_mptcp,
            self.connections_fallback,
            self.connections_tcp,
        ) {
            out.text("; connections: ");
            out.uint(mptcp.into());
            out.text(" MPTCP");
            if let Some(most) = self.max_subflows.filter(|_| mptcp > 0) {
                out.text(" (largest: ");
                write_count(out, most.into(), "subflow");
                out.text(")");
            }
            out.text(", ");
            out.uint(fell_back.into());
            out.text(" fell back to TCP, ");
            out.uint(tcp.into());
            out.text(" TCP");
        }
        if let Some(n) = self.not_followed.filter(|&n| n > 0) {
            out.text("; ");
            write_count(out, n.into(), "socket");
            out.text(" with fds >= ");
            out.uint(self.followed_fds.into());
            out.text(" not followed");
        }
        if let Some(n) = self.handed_over.filter(|&n| n > 0) {
            out.text("; ");
            write_count(out, n.into(), "connection");
            out.text(" handed over (another process still held them, and reports them)");
        }
        if let Some(n) = self.closed_unseen.filter(|&n| n > 0) {
            out.text("; ");
            write_count(out, n.into(), "connection");
            out.text(
                " closed without the C library (raw close system calls): their bytes are unknown",
            );
        }
        if let Some(n) = self.never_seen.filter(|&n| n > 0) {
            out.text("; ");
            write_count(out, n.into(), "TCP or MPTCP connection");
            out.text(
                " open at exit made without the C library (raw system calls): not reported, `mptcpize-rs top` shows such connections",
            );
        }
    }

    /// The JSON object, keys in the schema's order.
    #[inline(never)]
    pub fn write_json(&self, out: &mut impl Sink) {
        let mut o = Object::start(out);
        o.str("kind", "process");
        o.num("pid", self.pid.into());
        o.bytes("comm", self.comm);
        o.str("mode", self.mode.name());
        o.num("sockets_mptcp", self.sockets_mptcp.into());
        o.num("sockets_fallback", self.sockets_fallback.into());
        match self.fallback_reason() {
            Some(r) => {
                o.key("fallback_reason");
                o.out.text("\"");
                write_reason(o.out, r);
                o.out.text("\"");
            }
            None => o.null("fallback_reason"),
        }
        o.num("sockets_failed", self.sockets_failed.into());
        o.opt_num("sockets_made_tcp", self.sockets_made_tcp.map(u64::from));
        o.opt_num("connections_mptcp", self.connections_mptcp.map(u64::from));
        o.opt_num(
            "connections_fallback",
            self.connections_fallback.map(u64::from),
        );
        o.opt_num("connections_tcp", self.connections_tcp.map(u64::from));
        o.opt_num("max_subflows", self.max_subflows.map(u64::from));
        o.opt_num("not_followed", self.not_followed.map(u64::from));
        o.opt_num("closed_unseen", self.closed_unseen.map(u64::from));
        o.opt_num("handed_over", self.handed_over.map(u64::from));
        o.opt_num("never_seen", self.never_seen.map(u64::from));
        o.end();
    }
}

/// A JSON object being written: keys and values, commas between them.
/// Keys are ours (plain ASCII, never escaped); string values from outside
/// go through [`write_json_string`].
struct Object<'s, S: Sink> {
    out: &'s mut S,
    first: bool,
}

impl<'s, S: Sink> Object<'s, S> {
    fn start(out: &'s mut S) -> Self {
        out.text("{");
        Object { out, first: true }
    }

    #[inline(never)]
    fn key(&mut self, key: &str) {
        self.out.text(if self.first { "\"" } else { ",\"" });
        self.first = false;
        self.out.text(key);
        self.out.text("\":");
    }

    /// A value of ours (no character needs escaping).
    #[inline(never)]
    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        self.out.text("\"");
        self.out.text(value);
        self.out.text("\"");
    }

    #[inline(never)]
    fn bytes(&mut self, key: &str, value: &[u8]) {
        self.key(key);
        write_json_string(self.out, value);
    }

    #[inline(never)]
    fn num(&mut self, key: &str, n: u64) {
        self.key(key);
        self.out.uint(n);
    }

    #[inline(never)]
    fn opt_num(&mut self, key: &str, n: Option<u64>) {
        match n {
            Some(n) => self.num(key, n),
            None => self.null(key),
        }
    }

    #[inline(never)]
    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.text("null");
    }

    #[inline(never)]
    fn bool(&mut self, key: &str, v: bool) {
        self.key(key);
        self.out.text(if v { "true" } else { "false" });
    }

    #[inline(never)]
    fn addr(&mut self, key: &str, a: Option<SocketAddr>) {
        self.key(key);
        match a {
            Some(a) => {
                self.out.text("\"");
                write_addr(self.out, a);
                self.out.text("\"");
            }
            None => self.out.text("null"),
        }
    }

    fn end(self) {
        self.out.text("}");
    }
}

const HEX: &str = "0123456789abcdef";

/// One hexadecimal digit.
fn digit(out: &mut impl Sink, d: u32) {
    let d = (d & 0xf) as usize;
    out.text(HEX.get(d..d + 1).unwrap_or("0"));
}

/// `v` in lowercase hexadecimal without leading zeros, as `printf("%x")`
/// (how `ss -Mi` prints a token).
pub fn write_hex(out: &mut impl Sink, v: u32) {
    let mut started = false;
    for shift in (0..8).rev() {
        let d = (v >> (shift * 4)) & 0xf;
        if d != 0 || started || shift == 0 {
            started = true;
            digit(out, d);
        }
    }
}

/// `bytes` as a JSON string: quotes, backslashes and control characters
/// escaped; UTF-8 kept; bytes that are not UTF-8 written as U+FFFD.
pub fn write_json_string(out: &mut impl Sink, bytes: &[u8]) {
    out.text("\"");
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let mut plain = 0;
        for (i, b) in valid.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f | 0x7f => "",
                _ => continue,
            };
            // Whole characters before: `i` is an ASCII byte's index.
            out.text(valid.get(plain..i).unwrap_or(""));
            plain = i + 1;
            if escape.is_empty() {
                out.text("\\u00");
                digit(out, u32::from(b) >> 4);
                digit(out, u32::from(b));
            } else {
                out.text(escape);
            }
        }
        out.text(valid.get(plain..).unwrap_or(""));
        if !chunk.invalid().is_empty() {
            out.text("\\ufffd");
        }
    }
    out.text("\"");
}

/// `N word` or `N words`.
pub fn write_count(out: &mut impl Sink, n: u64, word: &str) {
    out.uint(n);
    out.text(" ");
    out.text(word);
    if n != 1 {
        out.text("s");
    }
}

/// An address as `ss` writes it: `a.b.c.d:port` (IPv4-mapped IPv6
/// addresses too), `[v6]:port` (RFC 5952).
pub fn write_addr(out: &mut impl Sink, addr: SocketAddr) {
    match addr.ip().to_canonical() {
        core::net::IpAddr::V4(ip) => write_v4(out, ip),
        core::net::IpAddr::V6(ip) => {
            out.text("[");
            write_v6(out, ip);
            out.text("]");
        }
    }
    out.text(":");
    out.uint(addr.port().into());
}

fn write_v4(out: &mut impl Sink, ip: Ipv4Addr) {
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.text(".");
        }
        out.uint(o.into());
    }
}

/// RFC 5952: lowercase, no leading zeros, the longest run of two or more
/// zero groups as `::`.
fn write_v6(out: &mut impl Sink, ip: Ipv6Addr) {
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
            out.text("::");
            i += best_len;
            continue;
        }
        if i > 0 && !(best_len >= 2 && i == best + best_len) {
            out.text(":");
        }
        let v = g.get(i).copied().unwrap_or(0);
        let mut started = false;
        for shift in [12, 8, 4, 0] {
            let d = u32::from(v >> shift) & 0xf;
            if d != 0 || started || shift == 0 {
                started = true;
                digit(out, d);
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::{String, ToString};

    impl Sink for String {
        fn text(&mut self, s: &str) {
            self.push_str(s);
        }
        fn int(&mut self, n: i64) {
            self.push_str(&n.to_string());
        }
    }

    fn shown(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn addresses_read_as_ss_writes_them() {
        for (a, want) in [
            ("10.231.0.2:7000", "10.231.0.2:7000"),
            ("0.0.0.0:0", "0.0.0.0:0"),
            ("255.255.255.255:65535", "255.255.255.255:65535"),
            ("[::1]:80", "[::1]:80"),
            ("[::]:1", "[::]:1"),
            ("[2001:db8::1]:443", "[2001:db8::1]:443"),
            ("[2001:db8:0:1:0:0:0:1]:5", "[2001:db8:0:1::1]:5"),
            ("[2001:0:0:1:0:0:0:1]:5", "[2001:0:0:1::1]:5"),
            ("[fe80::1:2:3:4]:9", "[fe80::1:2:3:4]:9"),
            ("[1:2:3:4:5:6:7:8]:9", "[1:2:3:4:5:6:7:8]:9"),
            ("[1:0:3:4:5:6:7:8]:9", "[1:0:3:4:5:6:7:8]:9"),
            ("[::ffff:10.1.2.3]:22", "10.1.2.3:22"),
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(shown(|s| write_addr(s, addr)), want, "{a}");
            // As std writes the canonical address (what `top` prints).
            let std = SocketAddr::new(addr.ip().to_canonical(), addr.port()).to_string();
            assert_eq!(want, std);
        }
    }

    #[test]
    fn tokens_read_as_printf_x() {
        for t in [0u32, 1, 0xf, 0x10, 0x1a2b3c4d, 0x0abc, u32::MAX] {
            assert_eq!(shown(|s| write_hex(s, t)), std::format!("{t:x}"));
        }
    }

    #[test]
    fn any_bytes_make_a_json_string() {
        for (bytes, want) in [
            (&b"iperf3"[..], r#""iperf3""#),
            (b"a\"b\\c", r#""a\"b\\c""#),
            (b"t\tn\nr\r\x01\x1f\x7f", r#""t\tn\nr\r\u0001\u001f\u007f""#),
            (b"caf\xc3\xa9", "\"caf\u{e9}\""),
            (b"x\xffy\xc3", r#""x\ufffdy\ufffd""#),
            (b"", r#""""#),
        ] {
            let s = shown(|s| write_json_string(s, bytes));
            assert_eq!(s, want);
            let back: std::string::String = serde_json_lite(&s);
            assert_eq!(back, String::from_utf8_lossy(bytes));
        }
    }

    /// Reads back a JSON string with the escapes written above.
    fn serde_json_lite(s: &str) -> String {
        let inner = &s[1..s.len() - 1];
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next().unwrap() {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                c => out.push(c),
            }
        }
        out
    }

    fn conn<'a>() -> Connection<'a> {
        Connection {
            pid: 42,
            comm: b"iperf3",
            side: Side::Client,
            local: Some("[::ffff:10.0.1.1]:40000".parse().unwrap()),
            remote: Some("10.0.2.1:5201".parse().unwrap()),
            token: Some(0x1a2b3c4d),
            outcome: Outcome::Mptcp,
            reason: Reason::None,
            subflows: 2,
            joins_attempted: Some(1),
            joins_failed: Some(0),
            subflow_bytes: None,
            bytes_sent: 4000,
            bytes_received: 10,
            bytes_exact: true,
            closed: Closed::Close,
        }
    }

    #[test]
    fn a_connection_in_text() {
        assert_eq!(
            shown(|s| conn().write_text(s)),
            "connection to 10.0.2.1:5201 from 10.0.1.1:40000, token 1a2b3c4d: MPTCP negotiated, \
             2 subflows (1 extra), 1 join attempted, 4000 bytes sent, 10 bytes received"
        );
        let failed = Connection {
            subflows: 1,
            joins_failed: Some(1),
            side: Side::Server,
            closed: Closed::Exit,
            ..conn()
        };
        assert_eq!(
            shown(|s| failed.write_text(s)),
            "connection from 10.0.2.1:5201 to 10.0.1.1:40000, token 1a2b3c4d: MPTCP negotiated, \
             1 subflow (0 extra), 1 join attempted, 1 not established, 4000 bytes sent, \
             10 bytes received, open at exit"
        );
        let tcp = Connection {
            token: None,
            outcome: Outcome::Tcp,
            reason: Reason::Unavailable(libc::ENOPROTOOPT),
            subflows: 1,
            joins_attempted: None,
            local: None,
            ..conn()
        };
        assert_eq!(
            shown(|s| tcp.write_text(s)),
            "connection to 10.0.2.1:5201: TCP (MPTCP unavailable: ENOPROTOOPT, \
             net.mptcp.enabled=0), 4000 bytes sent, 10 bytes received"
        );
    }

    #[test]
    fn a_connection_in_json() {
        let sfs = [
            Subflow {
                local: Some("10.0.1.1:40000".parse().unwrap()),
                remote: Some("10.0.2.1:5201".parse().unwrap()),
                bytes_sent: 3000,
                bytes_received: 10,
            },
            Subflow {
                local: Some("[2001:db8::2]:40001".parse().unwrap()),
                remote: None,
                bytes_sent: 1000,
                bytes_received: 0,
            },
        ];
        let c = Connection {
            comm: b"a\"b",
            subflow_bytes: Some(&sfs),
            ..conn()
        };
        assert_eq!(
            shown(|s| c.write_json(s)),
            r#"{"kind":"connection","pid":42,"comm":"a\"b","side":"client","local":"10.0.1.1:40000","remote":"10.0.2.1:5201","token":"1a2b3c4d","outcome":"mptcp","reason":null,"subflows":2,"extra_subflows":1,"joins_attempted":1,"joins_failed":0,"subflow_bytes":[{"local":"10.0.1.1:40000","remote":"10.0.2.1:5201","bytes_sent":3000,"bytes_received":10},{"local":"[2001:db8::2]:40001","remote":null,"bytes_sent":1000,"bytes_received":0}],"bytes_sent":4000,"bytes_received":10,"bytes_exact":true,"closed":"close"}"#
        );
        let fb = Connection {
            token: None,
            outcome: Outcome::FellBack,
            reason: Reason::PeerDidNotNegotiate,
            joins_attempted: None,
            joins_failed: None,
            bytes_exact: false,
            closed: Closed::Exit,
            ..conn()
        };
        let json = shown(|s| fb.write_json(s));
        assert!(
            json.contains(
                r#""token":null,"outcome":"fallback","reason":"the peer did not negotiate MPTCP","#
            ),
            "{json}"
        );
        assert!(
            json.contains(r#""joins_attempted":null,"joins_failed":null,"subflow_bytes":null,"#),
            "{json}"
        );
        assert!(
            json.ends_with(r#""bytes_exact":false,"closed":"exit"}"#),
            "{json}"
        );
    }

    fn process<'a>() -> Process<'a> {
        Process {
            pid: 7,
            comm: b"curl",
            mode: Mode::Preload,
            sockets_mptcp: 0,
            sockets_fallback: 1,
            fallback_errno: libc::ENOPROTOOPT,
            sockets_failed: 0,
            sockets_made_tcp: Some(0),
            connections_mptcp: Some(0),
            connections_fallback: Some(0),
            connections_tcp: Some(1),
            max_subflows: Some(0),
            not_followed: Some(0),
            followed_fds: 65536,
            closed_unseen: None,
            handed_over: None,
            never_seen: None,
        }
    }

    #[test]
    fn a_process_in_text_and_json() {
        assert_eq!(
            shown(|s| process().write_text(s)),
            "exit: 0 sockets made MPTCP, 1 fell back to TCP (MPTCP unavailable: ENOPROTOOPT, \
             net.mptcp.enabled=0); connections: 0 MPTCP, 0 fell back to TCP, 1 TCP"
        );
        assert_eq!(
            shown(|s| process().write_json(s)),
            r#"{"kind":"process","pid":7,"comm":"curl","mode":"preload","sockets_mptcp":0,"sockets_fallback":1,"fallback_reason":"MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0","sockets_failed":0,"sockets_made_tcp":0,"connections_mptcp":0,"connections_fallback":0,"connections_tcp":1,"max_subflows":0,"not_followed":0,"closed_unseen":null,"handed_over":null,"never_seen":null}"#
        );
        let seccomp = Process {
            mode: Mode::Seccomp,
            sockets_mptcp: 2,
            sockets_fallback: 0,
            sockets_made_tcp: None,
            connections_mptcp: None,
            connections_fallback: None,
            connections_tcp: None,
            max_subflows: None,
            not_followed: None,
            ..process()
        };
        assert_eq!(
            shown(|s| seccomp.write_text(s)),
            "exit: 2 sockets made MPTCP, 0 fell back to TCP"
        );
        let json = shown(|s| seccomp.write_json(s));
        assert!(
            json.contains(r#""mode":"seccomp","sockets_mptcp":2,"sockets_fallback":0,"fallback_reason":null,"sockets_failed":0,"sockets_made_tcp":null,"connections_mptcp":null"#),
            "{json}"
        );
    }
}
