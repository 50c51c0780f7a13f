//! The socket options programs set, asked of this kernel, so that the
//! README says which ones MPTCP refuses here and what mptcpize-rs does
//! about each: every call on a TCP socket and on an MPTCP socket (fresh and
//! connected, over loopback), then under `mptcpize-rs run` set before
//! connecting (a refused option makes the socket TCP) and after connecting
//! (the kernel's error, or an honest success).
//!
//! The options: those MPTCP refuses on some kernel (the `SOL_SOCKET`,
//! `SOL_IP` and `SOL_TCP` ones of net/mptcp/sockopt.c's lists, kTLS's
//! TCP_ULP, TCP_MD5SIG), those that broke programs on older kernels
//! (TCP_KEEPIDLE, TCP_NOTSENT_LOWAT, IPV6_V6ONLY), and the calls the
//! matrix's and issue 15's programs make (TCP_QUICKACK, IP_OPTIONS, IP_TTL,
//! TCP_USER_TIMEOUT, SO_OOBINLINE).

use crate::artifacts::{bin, launcher};
use crate::proc::{run, Child};
use libc::{c_int, c_void, socklen_t};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

/// What a probe does with the option.
#[derive(Clone, Debug)]
pub enum Op {
    /// setsockopt() with these bytes.
    Set(Vec<u8>),
    /// getsockopt() into a buffer of this size.
    Get(u8),
}

/// One call to try.
#[derive(Clone, Debug)]
pub struct Probe {
    /// How the README writes it: `setsockopt(SOL_IP, IP_TTL, 64)`.
    pub call: String,
    pub level: c_int,
    pub option: c_int,
    pub op: Op,
    /// On an AF_INET6 socket rather than an AF_INET one.
    pub inet6: bool,
}

impl Probe {
    fn set(call: &str, level: c_int, option: c_int, value: &[u8]) -> Probe {
        Probe {
            call: call.into(),
            level,
            option,
            op: Op::Set(value.to_vec()),
            inet6: false,
        }
    }

    fn set_int(call: &str, level: c_int, option: c_int, value: c_int) -> Probe {
        Probe::set(call, level, option, &value.to_ne_bytes())
    }

    fn get(call: &str, level: c_int, option: c_int, len: u8) -> Probe {
        Probe {
            op: Op::Get(len),
            ..Probe::set(call, level, option, &[])
        }
    }

    fn inet6(self) -> Probe {
        Probe {
            inet6: true,
            call: format!("{} (AF_INET6)", self.call),
            ..self
        }
    }

    /// True for a setsockopt() probe.
    pub fn is_set(&self) -> bool {
        matches!(self.op, Op::Set(_))
    }
}

/// `struct tcp_md5sig` for peer 192.0.2.1 (TEST-NET-1, never the test's
/// peer, so the key signs none of its segments) with the key `test`.
fn md5sig() -> Vec<u8> {
    let mut v = vec![0u8; 216];
    v[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    v[4..8].copy_from_slice(&[192, 0, 2, 1]);
    v[130..132].copy_from_slice(&4u16.to_ne_bytes());
    v[136..140].copy_from_slice(b"test");
    v
}

/// `struct linger` on, 5 s.
fn linger() -> Vec<u8> {
    [1i32.to_ne_bytes(), 5i32.to_ne_bytes()].concat()
}

/// Every probe, in the README's order.
pub fn probes() -> Vec<Probe> {
    use libc::{IPPROTO_IP as IP, IPPROTO_IPV6 as IPV6, IPPROTO_TCP as TCP, SOL_SOCKET as SOCK};
    vec![
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_NODELAY, 1)",
            TCP,
            libc::TCP_NODELAY,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)",
            SOCK,
            libc::SO_KEEPALIVE,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)",
            SOCK,
            libc::SO_REUSEADDR,
            1,
        ),
        Probe::set(
            "setsockopt(SOL_SOCKET, SO_LINGER, {1, 5})",
            SOCK,
            libc::SO_LINGER,
            &linger(),
        ),
        Probe::set_int(
            "setsockopt(SOL_SOCKET, SO_OOBINLINE, 1)",
            SOCK,
            libc::SO_OOBINLINE,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)",
            SOCK,
            libc::SO_ZEROCOPY,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_SOCKET, SO_PEEK_OFF, 0)",
            SOCK,
            libc::SO_PEEK_OFF,
            0,
        ),
        Probe::set_int(
            "setsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, 1000000)",
            SOCK,
            libc::SO_MAX_PACING_RATE,
            1_000_000,
        ),
        Probe::set_int("setsockopt(SOL_IP, IP_TOS, 0x10)", IP, libc::IP_TOS, 0x10),
        Probe::set_int("setsockopt(SOL_IP, IP_TTL, 64)", IP, libc::IP_TTL, 64),
        Probe::set_int("setsockopt(SOL_IP, IP_MINTTL, 1)", IP, libc::IP_MINTTL, 1),
        Probe::set_int("setsockopt(SOL_IP, IP_RECVERR, 1)", IP, libc::IP_RECVERR, 1),
        Probe::set_int(
            "setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)",
            IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DO,
        ),
        Probe::set(
            "setsockopt(SOL_IP, IP_OPTIONS, \"\")",
            IP,
            libc::IP_OPTIONS,
            &[],
        ),
        Probe::get("getsockopt(SOL_IP, IP_OPTIONS)", IP, libc::IP_OPTIONS, 40),
        Probe::set_int(
            "setsockopt(SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)",
            IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_IP, IP_FREEBIND, 1)",
            IP,
            libc::IP_FREEBIND,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_KEEPIDLE, 60)",
            TCP,
            libc::TCP_KEEPIDLE,
            60,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_KEEPINTVL, 10)",
            TCP,
            libc::TCP_KEEPINTVL,
            10,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_KEEPCNT, 5)",
            TCP,
            libc::TCP_KEEPCNT,
            5,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_NOTSENT_LOWAT, 16384)",
            TCP,
            libc::TCP_NOTSENT_LOWAT,
            16384,
        ),
        Probe::set_int("setsockopt(SOL_TCP, TCP_CORK, 1)", TCP, libc::TCP_CORK, 1),
        Probe::set(
            "setsockopt(SOL_TCP, TCP_CONGESTION, \"cubic\")",
            TCP,
            libc::TCP_CONGESTION,
            b"cubic",
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_MAXSEG, 1400)",
            TCP,
            libc::TCP_MAXSEG,
            1400,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_DEFER_ACCEPT, 1)",
            TCP,
            libc::TCP_DEFER_ACCEPT,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_FASTOPEN_CONNECT, 1)",
            TCP,
            libc::TCP_FASTOPEN_CONNECT,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_USER_TIMEOUT, 30000)",
            TCP,
            libc::TCP_USER_TIMEOUT,
            30000,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_QUICKACK, 1)",
            TCP,
            libc::TCP_QUICKACK,
            1,
        ),
        Probe::get(
            "getsockopt(SOL_TCP, TCP_QUICKACK)",
            TCP,
            libc::TCP_QUICKACK,
            4,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_SYNCNT, 3)",
            TCP,
            libc::TCP_SYNCNT,
            3,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_LINGER2, 10)",
            TCP,
            libc::TCP_LINGER2,
            10,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_WINDOW_CLAMP, 65535)",
            TCP,
            libc::TCP_WINDOW_CLAMP,
            65535,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, 1)",
            TCP,
            libc::TCP_THIN_LINEAR_TIMEOUTS,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_THIN_DUPACK, 1)",
            TCP,
            libc::TCP_THIN_DUPACK,
            1,
        ),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_SAVE_SYN, 1)",
            TCP,
            libc::TCP_SAVE_SYN,
            1,
        ),
        Probe::set_int("setsockopt(SOL_TCP, TCP_TX_DELAY, 1)", TCP, 37, 1),
        Probe::set_int(
            "setsockopt(SOL_TCP, TCP_REPAIR, 0)",
            TCP,
            libc::TCP_REPAIR,
            0,
        ),
        Probe::set(
            "setsockopt(SOL_TCP, TCP_MD5SIG, {192.0.2.1, \"test\"})",
            TCP,
            libc::TCP_MD5SIG,
            &md5sig(),
        ),
        Probe::set(
            "setsockopt(SOL_TCP, TCP_ULP, \"tls\")",
            TCP,
            libc::TCP_ULP,
            b"tls",
        ),
        Probe::get("getsockopt(SOL_TCP, TCP_INFO)", TCP, libc::TCP_INFO, 232),
        Probe::set_int(
            "setsockopt(SOL_IPV6, IPV6_V6ONLY, 0)",
            IPV6,
            libc::IPV6_V6ONLY,
            0,
        )
        .inet6(),
        Probe::get(
            "getsockopt(SOL_IPV6, IPV6_V6ONLY)",
            IPV6,
            libc::IPV6_V6ONLY,
            4,
        )
        .inet6(),
        Probe::set_int(
            "setsockopt(SOL_IPV6, IPV6_TCLASS, 0x10)",
            IPV6,
            libc::IPV6_TCLASS,
            0x10,
        )
        .inet6(),
        Probe::set_int(
            "setsockopt(SOL_IPV6, IPV6_UNICAST_HOPS, 64)",
            IPV6,
            libc::IPV6_UNICAST_HOPS,
            64,
        )
        .inet6(),
        Probe::set_int(
            "setsockopt(SOL_IPV6, IPV6_RECVERR, 1)",
            IPV6,
            libc::IPV6_RECVERR,
            1,
        )
        .inet6(),
    ]
}

/// What one call gave under `mptcpize-rs run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shimmed {
    /// "ok" or the errno's name.
    pub result: String,
    /// The socket's protocol afterwards (6 TCP, 262 MPTCP).
    pub protocol: c_int,
    /// Bytes echoed back intact over the connection (64 KiB when it works).
    pub echoed: usize,
}

impl Shimmed {
    /// `ok, TCP`, `ok, MPTCP` or the errno's name.
    pub fn words(&self) -> String {
        match (self.result.as_str(), self.protocol) {
            ("ok", libc::IPPROTO_TCP) => "ok, TCP".into(),
            ("ok", libc::IPPROTO_MPTCP) => "ok, MPTCP".into(),
            (r, _) => r.into(),
        }
    }
}

/// One call's results ("ok" or the errno's name).
pub struct Outcome {
    pub probe: Probe,
    /// On a connected TCP socket.
    pub tcp: String,
    /// On a fresh (not yet connected) MPTCP socket.
    pub mptcp_fresh: String,
    /// On a connected MPTCP socket.
    pub mptcp: String,
    /// Under `mptcpize-rs run`, before connecting and after.
    pub shim_before: Shimmed,
    pub shim_after: Shimmed,
}

impl Outcome {
    /// True when MPTCP refuses a set that TCP takes: the options the shim
    /// makes TCP.
    pub fn refused_by_mptcp_only(&self) -> bool {
        self.probe.is_set()
            && self.tcp == "ok"
            && matches!(self.mptcp_fresh.as_str(), "EOPNOTSUPP" | "ENOPROTOOPT")
    }
}

/// Asks every probe of the kernel, then of `mptcpize-rs run` (the probe
/// program connecting to an echo server that runs under it too). Panics if
/// the MPTCP socket is not MPTCP, or if TCP refuses TCP_NODELAY: then the
/// table would not say what it claims.
pub fn survey() -> Vec<Outcome> {
    let tcp = Connected::new(libc::IPPROTO_TCP);
    let mptcp = Connected::new(libc::IPPROTO_MPTCP);
    assert_eq!(
        protocol(&mptcp.client),
        libc::IPPROTO_MPTCP,
        "not an MPTCP socket"
    );
    let server = EchoServer::start(true);
    let outcomes: Vec<Outcome> = probes()
        .into_iter()
        .map(|p| Outcome {
            tcp: p.run_connected(&tcp, libc::IPPROTO_TCP),
            mptcp_fresh: p.run_fresh(libc::IPPROTO_MPTCP),
            mptcp: p.run_connected(&mptcp, libc::IPPROTO_MPTCP),
            shim_before: server.probe(&p, "before", &[]),
            shim_after: server.probe(&p, "after", &[]),
            probe: p,
        })
        .collect();
    assert_eq!(outcomes[0].tcp, "ok", "TCP refused TCP_NODELAY");
    outcomes
}

/// The `echo-server` example on loopback, under `mptcpize-rs run` when
/// `shimmed` (else plain TCP), for probes under `mptcpize-rs run` to
/// connect to.
pub struct EchoServer {
    _child: Child,
    pub addr: String,
}

impl EchoServer {
    pub fn start(shimmed: bool) -> EchoServer {
        let cmd = if shimmed {
            let mut c = Command::new(launcher());
            c.args(["run", "--"]).arg(bin("echo-server"));
            c
        } else {
            Command::new(bin("echo-server"))
        };
        let mut child = Child::spawn(cmd);
        let line = child.wait_for_line("listening on", Duration::from_secs(30));
        let addr = line
            .split_whitespace()
            .find(|w| w.contains(':'))
            .expect("echo-server prints its address")
            .to_string();
        EchoServer {
            _child: child,
            addr,
        }
    }

    /// Runs the probe program under `mptcpize-rs run` with the launcher's
    /// `flags` (`--strict-options`), setting the option `when` (`before` or
    /// `after` connecting here).
    pub fn probe(&self, p: &Probe, when: &str, flags: &[&str]) -> Shimmed {
        let hex: String = match &p.op {
            Op::Set(v) => v.iter().map(|b| format!("{b:02x}")).collect(),
            Op::Get(n) => format!("{n:02x}"),
        };
        let mut cmd = Command::new(launcher());
        cmd.arg("run")
            .args(flags)
            .arg("--")
            .arg(bin("sockopt-probe"))
            .arg(&self.addr)
            .arg(format!("{when}{}", if p.inet6 { "6" } else { "" }))
            .arg(if p.is_set() { "set" } else { "get" })
            .arg(p.level.to_string())
            .arg(p.option.to_string())
            .arg(if hex.is_empty() { "".into() } else { hex });
        let out = run(cmd, Duration::from_secs(30));
        out.assert_success();
        let field = |name: &str| {
            out.stdout
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {out}"))
                .to_string()
        };
        Shimmed {
            result: field("option="),
            protocol: field("protocol=").parse().expect("protocol"),
            echoed: field("echoed=").parse().expect("echoed"),
        }
    }
}

impl Probe {
    fn run_connected(&self, connected: &Connected, protocol: c_int) -> String {
        if self.inet6 {
            self.run_fresh(protocol)
        } else {
            self.call(connected.client.as_raw_fd())
        }
    }

    /// The call on a fresh socket of `protocol`, as the kernel answers it.
    pub fn run_fresh(&self, protocol: c_int) -> String {
        let family = if self.inet6 {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        let fresh = new_socket(family, protocol);
        self.call(fresh.as_raw_fd())
    }

    fn call(&self, fd: c_int) -> String {
        let rc = match &self.op {
            Op::Set(value) => {
                // SAFETY: value points to `value.len()` readable bytes.
                unsafe {
                    libc::setsockopt(
                        fd,
                        self.level,
                        self.option,
                        value.as_ptr().cast::<c_void>(),
                        value.len() as socklen_t,
                    )
                }
            }
            Op::Get(len) => {
                let mut buf = vec![0u8; usize::from(*len)];
                let mut len = socklen_t::from(*len);
                // SAFETY: buf has `len` writable bytes; len is a valid socklen_t.
                unsafe {
                    libc::getsockopt(
                        fd,
                        self.level,
                        self.option,
                        buf.as_mut_ptr().cast(),
                        &mut len,
                    )
                }
            }
        };
        if rc == 0 {
            "ok".into()
        } else {
            errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }
    }
}

/// A client socket connected over loopback, its accepted peer and listener.
struct Connected {
    client: OwnedFd,
    _server: OwnedFd,
    _listener: OwnedFd,
}

impl Connected {
    fn new(protocol: c_int) -> Connected {
        let listener = new_socket(libc::AF_INET, protocol);
        let mut addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as socklen_t;
        let sa = (&mut addr as *mut libc::sockaddr_in).cast::<libc::sockaddr>();
        // SAFETY: sa points to a sockaddr_in of `len` bytes, alive throughout;
        // the fds are ours.
        unsafe {
            check(libc::bind(listener.as_raw_fd(), sa, len), "bind");
            check(libc::listen(listener.as_raw_fd(), 1), "listen");
            check(
                libc::getsockname(listener.as_raw_fd(), sa, &mut len),
                "getsockname",
            );
        }
        let client = new_socket(libc::AF_INET, protocol);
        // SAFETY: as above; accept() may take null address arguments.
        let server = unsafe {
            check(libc::connect(client.as_raw_fd(), sa, len), "connect");
            let fd = libc::accept(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            check(fd, "accept");
            OwnedFd::from_raw_fd(fd)
        };
        Connected {
            client,
            _server: server,
            _listener: listener,
        }
    }
}

fn new_socket(domain: c_int, protocol: c_int) -> OwnedFd {
    // SAFETY: socket() takes integers; a valid fd is owned by the OwnedFd.
    unsafe {
        let fd = libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, protocol);
        check(fd, "socket");
        OwnedFd::from_raw_fd(fd)
    }
}

fn protocol(fd: &OwnedFd) -> c_int {
    let mut value: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: value is a writable c_int and len its size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PROTOCOL,
            (&mut value as *mut c_int).cast(),
            &mut len,
        )
    };
    check(rc, "getsockopt(SO_PROTOCOL)");
    value
}

#[track_caller]
fn check(rc: c_int, what: &str) {
    assert!(rc >= 0, "{what}: {}", std::io::Error::last_os_error());
}

/// The symbolic name of the errnos socket options return.
pub fn errno_name(errno: c_int) -> String {
    let name = match errno {
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EINVAL => "EINVAL",
        libc::ENOENT => "ENOENT",
        libc::ENOTCONN => "ENOTCONN",
        libc::EISCONN => "EISCONN",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EFAULT => "EFAULT",
        libc::ENOMEM => "ENOMEM",
        _ => return format!("errno {errno}"),
    };
    name.into()
}
