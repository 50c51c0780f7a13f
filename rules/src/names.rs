//! How log lines write a `socket()` call and an error:
//! `socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, 0)`, `ENOPROTOOPT` (or
//! `errno 97` for an error without a name here).
//!
//! The words are written into a [`Sink`]: the preload libraries' stack
//! buffers (which cannot use `core::fmt`: it would bring panic paths and
//! `memcpy` into a library that must have neither), or, through the
//! [`Display`](core::fmt::Display) of [`SocketCall`] and [`Errno`], a
//! `String` in the launcher.

use crate::SOCK_TYPE_MASK;

/// Where words are written.
pub trait Sink {
    /// Appends text.
    fn text(&mut self, s: &str);
    /// Appends a number in decimal.
    fn int(&mut self, n: i64);
}

/// `AF_INET`, `AF_INET6`, `AF_UNIX`, …; `None` for other families.
pub const fn family(domain: i32) -> Option<&'static str> {
    Some(match domain {
        libc::AF_INET => "AF_INET",
        libc::AF_INET6 => "AF_INET6",
        libc::AF_UNIX => "AF_UNIX",
        libc::AF_NETLINK => "AF_NETLINK",
        libc::AF_PACKET => "AF_PACKET",
        _ => return None,
    })
}

/// `SOCK_STREAM`, `SOCK_DGRAM`, … for the type bits of `ty` (its flags are
/// ignored); `None` for other types.
pub const fn sock_type(ty: i32) -> Option<&'static str> {
    Some(match ty & SOCK_TYPE_MASK {
        libc::SOCK_STREAM => "SOCK_STREAM",
        libc::SOCK_DGRAM => "SOCK_DGRAM",
        libc::SOCK_RAW => "SOCK_RAW",
        libc::SOCK_SEQPACKET => "SOCK_SEQPACKET",
        _ => return None,
    })
}

/// The flags of `socket()`'s type argument, with their names, in the order
/// they are written.
pub const TYPE_FLAGS: [(i32, &str); 2] = [
    (libc::SOCK_NONBLOCK, "SOCK_NONBLOCK"),
    (libc::SOCK_CLOEXEC, "SOCK_CLOEXEC"),
];

fn name_or_number(out: &mut impl Sink, name: Option<&str>, n: i32) {
    match name {
        Some(name) => out.text(name),
        None => out.int(n.into()),
    }
}

/// Writes `socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)`.
pub fn write_socket_call(out: &mut impl Sink, domain: i32, ty: i32, protocol: i32) {
    out.text("socket(");
    name_or_number(out, family(domain), domain);
    out.text(", ");
    name_or_number(out, sock_type(ty), ty & SOCK_TYPE_MASK);
    for (flag, name) in TYPE_FLAGS {
        if ty & flag != 0 {
            out.text("|");
            out.text(name);
        }
    }
    out.text(", ");
    out.int(protocol.into());
    out.text(")");
}

/// Writes `ENOPROTOOPT`, or `errno N` for an error without a name here.
pub fn write_errno(out: &mut impl Sink, errno: i32) {
    match crate::errno::name(errno) {
        Some(name) => out.text(name),
        None => {
            out.text("errno ");
            out.int(errno.into());
        }
    }
}

/// A `socket()` call, displayed as [`write_socket_call`] writes it.
#[derive(Clone, Copy, Debug)]
pub struct SocketCall {
    pub domain: i32,
    pub ty: i32,
    pub protocol: i32,
}

/// An errno, displayed as [`write_errno`] writes it.
#[derive(Clone, Copy, Debug)]
pub struct Errno(pub i32);

/// A [`Sink`] over a formatter, keeping its first error.
pub(crate) struct Fmt<'a, 'b>(&'a mut core::fmt::Formatter<'b>, core::fmt::Result);

impl Sink for Fmt<'_, '_> {
    fn text(&mut self, s: &str) {
        if self.1.is_ok() {
            self.1 = self.0.write_str(s);
        }
    }
    fn int(&mut self, n: i64) {
        if self.1.is_ok() {
            self.1 = core::fmt::Display::fmt(&n, self.0);
        }
    }
}

/// Displays what `write` writes into a [`Sink`] (the `Display` of the
/// words' types).
pub(crate) fn display(
    f: &mut core::fmt::Formatter<'_>,
    write: impl FnOnce(&mut Fmt<'_, '_>),
) -> core::fmt::Result {
    let mut out = Fmt(f, Ok(()));
    write(&mut out);
    out.1
}

impl core::fmt::Display for SocketCall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        display(f, |out| {
            write_socket_call(out, self.domain, self.ty, self.protocol)
        })
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        display(f, |out| write_errno(out, self.0))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn calls_read_as_strace_writes_them() {
        let call = |domain, ty, protocol| {
            format!(
                "{}",
                SocketCall {
                    domain,
                    ty,
                    protocol
                }
            )
        };
        assert_eq!(
            call(libc::AF_INET, libc::SOCK_STREAM, 0),
            "socket(AF_INET, SOCK_STREAM, 0)"
        );
        assert_eq!(
            call(
                libc::AF_INET6,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                6
            ),
            "socket(AF_INET6, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 6)"
        );
        assert_eq!(call(99, 14, -1), "socket(99, 14, -1)");
    }

    #[test]
    fn errors_have_their_names_or_numbers() {
        assert_eq!(format!("{}", Errno(libc::ENOPROTOOPT)), "ENOPROTOOPT");
        assert_eq!(format!("{}", Errno(4000)), "errno 4000");
    }
}
