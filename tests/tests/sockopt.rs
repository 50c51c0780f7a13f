//! Socket options MPTCP refuses (issue 15), asked of the running kernel:
//! under `mptcpize-rs run`, a refused option set on a socket that has not
//! connected yet makes it the TCP socket the program asked for, which then
//! works; set on a connected socket, it gets the kernel's error (except
//! `SO_OOBINLINE` on, whose promise holds over MPTCP); `--strict-options`
//! keeps every error; options MPTCP takes leave the socket MPTCP.

use mptcpize_tests::compat::sockopts::{probes, survey, EchoServer, Outcome};
use mptcpize_tests::proc::run;
use mptcpize_tests::{mptcpize, require_program, require_root_mptcp};
use std::time::Duration;

/// What the probe echoes when the connection works: all of it.
const ALL: usize = 64 * 1024;

fn is_oobinline_on(o: &Outcome) -> bool {
    o.probe.level == libc::SOL_SOCKET && o.probe.option == libc::SO_OOBINLINE
}

#[test]
fn every_option_mptcp_refuses_makes_a_fresh_socket_tcp_and_a_connected_one_gets_the_error() {
    require_root_mptcp!();
    let outcomes = survey();
    let refused: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.refused_by_mptcp_only())
        .collect();
    // Issue 15 names these on Linux 6.18; a kernel that takes them all has
    // nothing to revert and this test says so.
    assert!(
        refused.iter().any(|o| o.probe.option == libc::IP_TTL),
        "this kernel's MPTCP takes IP_TTL: nothing to test"
    );
    let mut problems = Vec::new();
    for o in &outcomes {
        let (before, after) = (&o.shim_before, &o.shim_after);
        let call = &o.probe.call;
        if o.refused_by_mptcp_only() {
            // Before connect: made TCP, the option set, the connection works.
            if (before.result.as_str(), before.protocol, before.echoed)
                != ("ok", libc::IPPROTO_TCP, ALL)
            {
                problems.push(format!(
                    "{call} before connect: {before:?}, want ok on a working TCP socket"
                ));
            }
            // Once connected: the kernel's error on a working MPTCP socket,
            // or the honest success of SO_OOBINLINE on.
            let want = if is_oobinline_on(o) {
                "ok"
            } else {
                o.mptcp.as_str()
            };
            if (after.result.as_str(), after.protocol, after.echoed)
                != (want, libc::IPPROTO_MPTCP, ALL)
            {
                problems.push(format!(
                    "{call} once connected: {after:?}, want {want} on a working MPTCP socket"
                ));
            }
        } else if o.probe.is_set() && o.mptcp_fresh == "ok" {
            // Taken by MPTCP: the socket stays MPTCP (once connected, the
            // kernel answers as it does, EINVAL for options of the
            // handshake).
            // (The kernel's AF_INET6 column is of a fresh socket.)
            let connected = if o.probe.inet6 {
                after.result.as_str()
            } else {
                o.mptcp.as_str()
            };
            for (when, s, want) in [("before", before, "ok"), ("after", after, connected)] {
                if (s.result.as_str(), s.protocol, s.echoed) != (want, libc::IPPROTO_MPTCP, ALL) {
                    problems.push(format!(
                        "{call} {when} connect: {s:?}, want {want} on a working MPTCP socket"
                    ));
                }
            }
        } else {
            // Refused by TCP too (TCP_ULP without kTLS), or a getsockopt:
            // the kernel's answer, on an MPTCP socket.
            if before.result != o.mptcp_fresh || before.protocol != libc::IPPROTO_MPTCP {
                problems.push(format!(
                    "{call} before connect: {before:?}, want the kernel's {}",
                    o.mptcp_fresh
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn strict_options_and_its_variable_keep_the_kernels_error() {
    require_root_mptcp!();
    let server = EchoServer::start(true);
    let refused: Vec<_> = probes()
        .into_iter()
        .filter(|p| {
            p.is_set()
                && p.run_fresh(libc::IPPROTO_TCP) == "ok"
                && matches!(
                    p.run_fresh(libc::IPPROTO_MPTCP).as_str(),
                    "EOPNOTSUPP" | "ENOPROTOOPT"
                )
        })
        .collect();
    assert!(!refused.is_empty());
    for p in &refused {
        let strict = server.probe(p, "before", &["--strict-options"]);
        assert_eq!(
            strict.result,
            p.run_fresh(libc::IPPROTO_MPTCP),
            "{}: {strict:?}",
            p.call
        );
        assert_eq!(strict.protocol, libc::IPPROTO_MPTCP, "{}", p.call);
    }
    // The variable alone does the same (for LD_PRELOAD users).
    let ttl = refused
        .iter()
        .find(|p| p.option == libc::IP_TTL && p.level == libc::IPPROTO_IP)
        .unwrap();
    std::env::set_var("MPTCPIZE_STRICT_OPTIONS", "1");
    let strict = server.probe(ttl, "before", &[]);
    std::env::remove_var("MPTCPIZE_STRICT_OPTIONS");
    assert_eq!(
        (strict.result.as_str(), strict.protocol),
        ("EOPNOTSUPP", libc::IPPROTO_MPTCP)
    );
}

#[test]
fn a_reversion_is_logged_with_the_option_and_the_fd() {
    require_root_mptcp!();
    let server = EchoServer::start(true);
    let ttl = probes()
        .into_iter()
        .find(|p| p.call.contains("IP_TTL"))
        .unwrap();
    let mut cmd = mptcpize(&["run", "-d", "--"]);
    cmd.arg(mptcpize_tests::bin("sockopt-probe")).args([
        &server.addr,
        "before",
        "set",
        "0",
        "2",
        "40000000",
    ]);
    let out = run(cmd, Duration::from_secs(30));
    out.assert_success();
    assert!(out.stdout.contains("option=ok protocol=6"), "{out}");
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("IP_TTL"))
        .unwrap_or_else(|| panic!("no debug line for IP_TTL: {out}"));
    assert!(
        line.ends_with(
            "]: setsockopt(3, SOL_IP, IP_TTL) refused by MPTCP (EOPNOTSUPP): socket 3 made TCP"
        ),
        "{line} ({})",
        ttl.call
    );
}

/// The evidence for answering `SO_OOBINLINE` on with success once
/// connected: on an MPTCP socket a peer's urgent byte (`send(MSG_OOB)`)
/// arrives as an ordinary byte, in order, and nothing is left out of band,
/// which is exactly what the option promises, whether the peer speaks MPTCP
/// or the connection fell back to TCP with a plain TCP peer. (A plain TCP
/// socket without the option takes it out of the stream: the difference
/// the option makes.) Under the shim the call then succeeds on a connected
/// socket, with either peer, and the socket stays MPTCP.
#[test]
fn urgent_data_arrives_inline_on_mptcp_sockets_so_oobinline_on_is_answered_success() {
    require_root_mptcp!();
    let (mptcp, tcp) = (libc::IPPROTO_MPTCP, libc::IPPROTO_TCP);
    let cases = [
        ((mptcp, mptcp), "abUcd", "MPTCP with an MPTCP peer"),
        (
            (tcp, mptcp),
            "abUcd",
            "MPTCP fallen back to TCP (plain TCP sender)",
        ),
        ((tcp, tcp), "abcd", "plain TCP without SO_OOBINLINE"),
    ];
    for ((sender, receiver), want, what) in cases {
        let got = String::from_utf8(urgent_byte_over(sender, receiver)).unwrap();
        assert_eq!(got, want, "{what}");
    }
    let oob = probes()
        .into_iter()
        .find(|p| p.call.contains("SO_OOBINLINE"))
        .unwrap();
    for shimmed_peer in [true, false] {
        let s = EchoServer::start(shimmed_peer).probe(&oob, "after", &[]);
        assert_eq!(
            (s.result.as_str(), s.protocol, s.echoed),
            ("ok", libc::IPPROTO_MPTCP, ALL),
            "peer under the tool: {shimmed_peer}"
        );
    }
}

/// Sends `ab`, `U` as urgent data, `cd` from a socket of protocol `sender`
/// to one of protocol `receiver` that connected to it; what the receiver
/// reads in band.
fn urgent_byte_over(sender: i32, receiver: i32) -> Vec<u8> {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let l = std::net::TcpListener::from(raw_socket(sender));
    // SAFETY: plain calls on our own fds below.
    unsafe {
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        use std::os::fd::AsRawFd;
        assert_eq!(
            libc::bind(l.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), 16),
            0
        );
        assert_eq!(libc::listen(l.as_raw_fd(), 1), 0);
    }
    let addr = l.local_addr().unwrap();
    let c = std::net::TcpStream::from(raw_socket(receiver));
    let c = {
        use std::os::fd::{AsRawFd, IntoRawFd};
        let std::net::SocketAddr::V4(v4) = addr else {
            unreachable!()
        };
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: a sockaddr_in of 16 bytes.
        assert_eq!(
            unsafe { libc::connect(c.as_raw_fd(), (&sa as *const libc::sockaddr_in).cast(), 16) },
            0
        );
        // SAFETY: the fd we own.
        unsafe { std::net::TcpStream::from_raw_fd(c.into_raw_fd()) }
    };
    let (mut s, _) = l.accept().unwrap();
    let mut c = c;
    let send = |c: &mut std::net::TcpStream, data: &[u8], flags: i32| {
        use std::os::fd::AsRawFd;
        // SAFETY: data is readable for its length.
        let n = unsafe { libc::send(c.as_raw_fd(), data.as_ptr().cast(), data.len(), flags) };
        assert_eq!(n, data.len() as isize);
    };
    send(&mut s, b"ab", 0);
    std::thread::sleep(Duration::from_millis(50));
    send(&mut s, b"U", libc::MSG_OOB);
    std::thread::sleep(Duration::from_millis(50));
    send(&mut s, b"cd", 0);
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    let mut inband = Vec::new();
    c.read_to_end(&mut inband).unwrap();
    inband
}

fn raw_socket(protocol: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: socket() takes integers; the fd is owned from here.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            protocol,
        );
        assert!(fd >= 0);
        std::os::fd::OwnedFd::from_raw_fd(fd)
    }
}

/// What the program did to the socket before the refused option is all
/// there on the TCP socket: the bound address (and so the listener it
/// becomes), O_NONBLOCK, SO_REUSEADDR and other options, the close-on-exec
/// flag either way.
#[test]
fn a_socket_made_tcp_keeps_its_address_flags_and_options() {
    require_root_mptcp!();
    require_program!("python3");
    let script = r#"
import os, socket
out = []
for inheritable in (False, True):
    s = socket.socket()
    os.set_inheritable(s.fileno(), inheritable)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind(("127.0.0.1", 0))
    name = s.getsockname()
    s.setblocking(False)
    fd = s.fileno()
    before = s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 77)
    after = s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    out.append(f"before={before} after={after} samefd={s.fileno() == fd} name={s.getsockname() == name} "
               f"blocking={s.getblocking()} reuse={s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)} "
               f"rcvbuf={s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 65536} "
               f"nodelay={s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)} "
               f"ttl={s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)} inheritable={os.get_inheritable(fd)}")
    s.setblocking(True)
    s.listen()
    c = socket.create_connection(name)
    a, _ = s.accept()
    c.sendall(b"x" * 100000)
    c.close()
    got = b""
    while True:
        d = a.recv(65536)
        if not d:
            break
        got += d
    out.append(f"listener got {len(got)}")
print("\n".join(out))
"#;
    let cmd = mptcpize(&["run", "--", "python3", "-c", script]);
    let out = run(cmd, Duration::from_secs(30));
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let want = |inheritable: bool| {
        format!(
            "before=262 after=6 samefd=True name=True blocking=False reuse=1 rcvbuf=True nodelay=1 ttl=77 inheritable={}",
            if inheritable { "True" } else { "False" }
        )
    };
    assert_eq!(
        lines,
        [
            want(false).as_str(),
            "listener got 100000",
            want(true).as_str(),
            "listener got 100000"
        ],
        "{out}"
    );
}

/// `run --report` counts the sockets made TCP, and says so of their
/// connections, rather than blaming MPTCP being unavailable.
#[test]
fn the_report_counts_sockets_made_tcp_after_a_refused_option() {
    require_root_mptcp!();
    let server = EchoServer::start(true);
    let mut cmd = mptcpize(&["run", "--report", "--"]);
    cmd.arg(mptcpize_tests::bin("sockopt-probe")).args([
        &server.addr,
        "before",
        "set",
        "0",
        "2",
        "40000000",
    ]);
    let out = run(cmd, Duration::from_secs(30));
    out.assert_success();
    assert!(
        out.stdout.contains("option=ok protocol=6 echoed=65536"),
        "{out}"
    );
    let report: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("] report: "))
        .collect();
    assert!(
        report.iter().any(|l| l.contains(
            ": TCP (made TCP: MPTCP refused a socket option set before connecting), 65536 bytes sent, 65536 bytes received"
        )),
        "{out}"
    );
    assert!(
        report
            .iter()
            .any(|l| l.contains("exit: 1 socket made MPTCP")
                && l.contains(", 1 made TCP again after MPTCP refused a socket option")),
        "{out}"
    );
}
