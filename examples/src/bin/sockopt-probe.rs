//! Sets (or gets) one socket option on a new TCP socket, before or after
//! connecting it, the way a program would, and says what happened: the
//! tests run it under `mptcpize-rs run` to see what the shim does with an
//! option MPTCP refuses.
//!
//! `sockopt-probe ADDR before|after|before6|after6 set|get LEVEL NAME HEX`
//!
//! - `before`: socket(AF_INET, SOCK_STREAM, 0), the option, connect to ADDR;
//! - `after`: socket, connect to ADDR, the option;
//! - `before6`, `after6`: the same with an AF_INET6 socket, connecting to
//!   ADDR's IPv4-mapped IPv6 address.
//!
//! HEX is the value's bytes (`set`) or the buffer size in bytes (`get`).
//! Prints one line: `option=ok|ERRNO protocol=6|262 echoed=N` where N is
//! how many of 64 KiB sent came back from ADDR's echo server, intact (0
//! when not connected).

use mptcpize_examples::{fill_pattern, protocol_of};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 6 {
        eprintln!("usage: sockopt-probe ADDR before|after|before6|after6 set|get LEVEL NAME HEX");
        std::process::exit(2);
    }
    let addr: std::net::SocketAddr = args[0].parse().expect("ADDR");
    let (when, op) = (args[1].as_str(), args[2].as_str());
    let inet6 = when.ends_with('6');
    let when = when.trim_end_matches('6');
    let level: libc::c_int = args[3].parse().expect("LEVEL");
    let name: libc::c_int = args[4].parse().expect("NAME");
    let hex = &args[5];
    let value: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("HEX"))
        .collect();

    let family = if inet6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: socket() takes integers.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    let mut stream = None;
    if when == "after" {
        // SAFETY: fd is our new socket; TcpStream owns it from here.
        stream = Some(connect(unsafe { TcpStream::from_raw_fd(fd) }, addr, inet6));
    }
    let result = option(fd, op, level, name, &value);
    if when == "before" && result == "ok" {
        // SAFETY: as above.
        stream = Some(connect(unsafe { TcpStream::from_raw_fd(fd) }, addr, inet6));
    }
    let echoed = stream.as_mut().map(echo).unwrap_or(0);
    println!(
        "option={result} protocol={} echoed={echoed}",
        protocol_of(fd)
    );
    if let Some(s) = stream {
        let _ = s.into_raw_fd();
    }
}

/// Connects the socket as `connect(2)` on it would.
/// An AF_INET6 socket connects to the IPv4-mapped address.
fn connect(stream: TcpStream, addr: std::net::SocketAddr, inet6: bool) -> TcpStream {
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let sa6 = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: v4.port().to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr {
            s6_addr: v4.ip().to_ipv6_mapped().octets(),
        },
        sin6_scope_id: 0,
    };
    // SAFETY: a sockaddr of its size, alive for the call.
    let rc = unsafe {
        if inet6 {
            libc::connect(
                stream.as_raw_fd(),
                (&sa6 as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        } else {
            libc::connect(
                stream.as_raw_fd(),
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
    };
    assert!(rc == 0, "connect: {}", std::io::Error::last_os_error());
    stream
}

/// The option call: "ok" or the errno's name.
fn option(
    fd: libc::c_int,
    op: &str,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> String {
    let rc = if op == "set" {
        // SAFETY: value is readable for its length.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                value.as_ptr().cast(),
                value.len() as libc::socklen_t,
            )
        }
    } else {
        let mut buf = vec![0u8; value.first().copied().unwrap_or(4).into()];
        let mut len = buf.len() as libc::socklen_t;
        // SAFETY: buf has `len` writable bytes.
        unsafe { libc::getsockopt(fd, level, name, buf.as_mut_ptr().cast(), &mut len) }
    };
    if rc == 0 {
        return "ok".into();
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match errno {
        libc::ENOPROTOOPT => "ENOPROTOOPT".into(),
        libc::EOPNOTSUPP => "EOPNOTSUPP".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EPERM => "EPERM".into(),
        e => format!("errno{e}"),
    }
}

/// Sends 64 KiB and reads it back; how many bytes came back intact.
fn echo(stream: &mut TcpStream) -> usize {
    let mut data = vec![0u8; 64 * 1024];
    fill_pattern(&mut data, 0);
    let mut writer = stream.try_clone().expect("clone");
    let sent = data.clone();
    let t = std::thread::spawn(move || writer.write_all(&sent).is_ok());
    let mut back = vec![0u8; data.len()];
    let got = stream.read_exact(&mut back).is_ok();
    let _ = t.join();
    if got && back == data {
        back.len()
    } else {
        0
    }
}
