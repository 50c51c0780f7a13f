//! A bulk sender and receiver for throughput and failover measurements: an
//! ordinary std::net TCP program, or one that opens IPPROTO_MPTCP sockets
//! itself (`--native-mptcp`), to compare against running under mptcpize-rs.
//!
//! ```text
//! bulk serve ADDR [--native-mptcp] [--once]
//! bulk send ADDR (--bytes N | --seconds S) [--native-mptcp]
//! bulk connect ADDR --count N [--native-mptcp]
//! ```
//!
//! `send` writes the example pattern and prints `sent N bytes in S s (R Mbit/s), fnv H`.
//! `serve` checks every byte against the pattern and prints, per connection,
//! `received N bytes in S s (R Mbit/s), fnv H, pattern intact` (or `corrupt
//! at byte N`) and what the kernel says the connection is. The two FNV-1a
//! hashes must be equal. `connect` opens and closes N connections one after
//! another and prints the median and 90th percentile connect time.

use mptcpize_examples::{fill_pattern, pattern_byte, Fnv, SocketView};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: bulk serve ADDR [--native-mptcp] [--once]
       bulk send ADDR (--bytes N | --seconds S) [--native-mptcp]
       bulk connect ADDR --count N [--native-mptcp]";

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("bulk: {msg}");
    std::process::exit(1)
}

fn usage(msg: &str) -> ! {
    eprintln!("bulk: {msg}\n{USAGE}");
    std::process::exit(2)
}

struct Opts {
    mode: String,
    addr: SocketAddr,
    native: bool,
    once: bool,
    bytes: Option<u64>,
    seconds: Option<f64>,
    count: u32,
}

fn parse() -> Opts {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| usage("no mode"));
    if mode == "-h" || mode == "--help" {
        println!("{USAGE}");
        std::process::exit(0);
    }
    let addr = args.next().unwrap_or_else(|| usage("no ADDR"));
    let addr = addr
        .parse()
        .unwrap_or_else(|_| usage(&format!("{addr:?} is not an IP:PORT address")));
    let mut o = Opts {
        mode,
        addr,
        native: false,
        once: false,
        bytes: None,
        seconds: None,
        count: 0,
    };
    while let Some(a) = args.next() {
        let mut value = |what: &str| -> String {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs {what}")))
        };
        match a.as_str() {
            "--native-mptcp" => o.native = true,
            "--once" => o.once = true,
            "--bytes" => {
                o.bytes = Some(
                    value("a number")
                        .parse()
                        .unwrap_or_else(|_| usage("--bytes needs a number")),
                )
            }
            "--seconds" => {
                o.seconds = Some(
                    value("a number")
                        .parse()
                        .unwrap_or_else(|_| usage("--seconds needs a number")),
                )
            }
            "--count" => {
                o.count = value("a number")
                    .parse()
                    .unwrap_or_else(|_| usage("--count needs a number"))
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    o
}

/// A stream socket for `addr`: TCP the ordinary way, or IPPROTO_MPTCP.
fn stream_socket(addr: &SocketAddr, native: bool) -> std::io::Result<std::os::fd::OwnedFd> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let proto = if native { libc::IPPROTO_MPTCP } else { 0 };
    // SAFETY: socket() takes integers.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh fd that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// `libc::sockaddr_storage` for `addr`, and its length.
fn raw_addr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and aligned for it.
            unsafe { std::ptr::write((&raw mut ss).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6 and aligned for it.
            unsafe { std::ptr::write((&raw mut ss).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn connect(addr: &SocketAddr, native: bool) -> std::io::Result<TcpStream> {
    if !native {
        return TcpStream::connect(addr);
    }
    use std::os::fd::{AsRawFd, IntoRawFd};
    let fd = stream_socket(addr, true)?;
    let (ss, len) = raw_addr(addr);
    // SAFETY: `ss` holds a valid address of `len` bytes.
    check(unsafe { libc::connect(fd.as_raw_fd(), (&raw const ss).cast(), len) })?;
    // SAFETY: a connected stream socket whose ownership moves to the TcpStream.
    Ok(unsafe { TcpStream::from_raw_fd(fd.into_raw_fd()) })
}

fn listen(addr: &SocketAddr, native: bool) -> std::io::Result<TcpListener> {
    if !native {
        return TcpListener::bind(addr);
    }
    use std::os::fd::{AsRawFd, IntoRawFd};
    let fd = stream_socket(addr, true)?;
    let one: libc::c_int = 1;
    let (ss, len) = raw_addr(addr);
    // SAFETY: `one` is an int option value; `ss` holds a valid address of `len` bytes.
    unsafe {
        check(libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&raw const one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ))?;
        check(libc::bind(fd.as_raw_fd(), (&raw const ss).cast(), len))?;
        check(libc::listen(fd.as_raw_fd(), 128))?;
    }
    // SAFETY: a listening socket whose ownership moves to the TcpListener.
    Ok(unsafe { TcpListener::from_raw_fd(fd.into_raw_fd()) })
}

fn mbit(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / secs.max(1e-9) / 1e6
}

/// Where a run of received bytes really comes from: the first stream offset
/// within 4 MiB of `at` whose pattern bytes equal `sample`.
fn locate(sample: &[u8], at: u64) -> Option<u64> {
    let from = at.saturating_sub(4 << 20);
    (from..at + (4 << 20)).find(|&x| {
        sample
            .iter()
            .enumerate()
            .all(|(k, &b)| pattern_byte(x + k as u64) == b)
    })
}

/// The first changed byte: its offset, and up to 32 bytes received there.
struct Damage {
    at: u64,
    sample: Vec<u8>,
    differing: u64,
}

fn receive(mut conn: TcpStream) -> std::io::Result<String> {
    let view = SocketView::of(&conn);
    let mut buf = vec![0u8; 256 * 1024];
    let (mut got, mut fnv) = (0u64, Fnv::default());
    let mut damage: Option<Damage> = None;
    let mut start = None;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if start.is_none() {
            start = Some(Instant::now());
        }
        let data = &buf[..n];
        for (k, &b) in data.iter().enumerate() {
            if b != pattern_byte(got + k as u64) {
                let d = damage.get_or_insert_with(|| Damage {
                    at: got + k as u64,
                    sample: data[k..n.min(k + 32)].to_vec(),
                    differing: 0,
                });
                d.differing += 1;
            }
        }
        fnv.update(data);
        got += n as u64;
    }
    let secs = start.map_or(0.0, |s: Instant| s.elapsed().as_secs_f64());
    let end = SocketView::of(&conn);
    let pattern = match damage {
        None => "pattern intact".to_string(),
        Some(d) => format!(
            "corrupt at byte {} ({} bytes differ; the first {} bytes there are {})",
            d.at,
            d.differing,
            d.sample.len(),
            match locate(&d.sample, d.at) {
                Some(x) => format!("the stream's bytes at offset {x}"),
                None => "not from the stream near there".into(),
            }
        ),
    };
    Ok(format!(
        "received {got} bytes in {secs:.3} s ({:.2} Mbit/s), fnv {:016x}, {pattern}; socket {}, {}",
        mbit(got, secs),
        fnv.0,
        view.protocol_name(),
        end.connection()
    ))
}

fn serve(o: &Opts) {
    let listener = listen(&o.addr, o.native)
        .unwrap_or_else(|e| fail(format!("cannot listen on {}: {e}", o.addr)));
    println!(
        "listening on {} (socket: {})",
        listener.local_addr().expect("local_addr"),
        SocketView::of(&listener).protocol_name()
    );
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bulk: accept: {e}");
                continue;
            }
        };
        let worker = std::thread::spawn(move || match receive(conn) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("bulk: receive: {e}"),
        });
        if o.once {
            let _ = worker.join();
            return;
        }
    }
}

fn send(o: &Opts) {
    let limit = match (o.bytes, o.seconds) {
        (Some(b), None) => Err(b),
        (None, Some(s)) if s > 0.0 => Ok(Duration::from_secs_f64(s)),
        _ => usage("send needs exactly one of --bytes N and --seconds S (S > 0)"),
    };
    let mut stream = connect(&o.addr, o.native)
        .unwrap_or_else(|e| fail(format!("cannot connect to {}: {e}", o.addr)));
    let view = SocketView::of(&stream);
    println!(
        "connected to {}: socket {}, {}",
        o.addr,
        view.protocol_name(),
        view.connection()
    );
    let mut buf = vec![0u8; 256 * 1024];
    let (mut sent, mut fnv) = (0u64, Fnv::default());
    let start = Instant::now();
    loop {
        let n = match limit {
            Err(total) if sent >= total => break,
            Err(total) => buf.len().min((total - sent) as usize),
            Ok(d) if start.elapsed() >= d => break,
            Ok(_) => buf.len(),
        };
        fill_pattern(&mut buf[..n], sent);
        if let Err(e) = stream.write_all(&buf[..n]) {
            fail(format!("send after {sent} bytes: {e}"));
        }
        fnv.update(&buf[..n]);
        sent += n as u64;
    }
    if let Err(e) = stream.shutdown(std::net::Shutdown::Write) {
        fail(format!("shutdown: {e}"));
    }
    // Wait for the receiver to close: then every byte has been read.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.read(&mut buf);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} bytes in {secs:.3} s ({:.2} Mbit/s), fnv {:016x}",
        mbit(sent, secs),
        fnv.0
    );
}

fn connects(o: &Opts) {
    if o.count == 0 {
        usage("connect needs --count N (N > 0)");
    }
    let mut times = Vec::with_capacity(o.count as usize);
    let mut last = None;
    for _ in 0..o.count {
        let start = Instant::now();
        let stream = connect(&o.addr, o.native)
            .unwrap_or_else(|e| fail(format!("cannot connect to {}: {e}", o.addr)));
        times.push(start.elapsed().as_secs_f64() * 1e6);
        last = Some(SocketView::of(&stream));
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let view = last.expect("count > 0");
    println!(
        "{} connects: median {:.1} us, p90 {:.1} us; socket {}, {}",
        times.len(),
        pct(0.5),
        pct(0.9),
        view.protocol_name(),
        view.connection()
    );
}

fn main() {
    let o = parse();
    match o.mode.as_str() {
        "serve" => serve(&o),
        "send" => send(&o),
        "connect" => connects(&o),
        other => usage(&format!("unknown mode {other:?}")),
    }
}
