//! The socket options programs set, tried on this kernel on a connected TCP
//! socket and on a connected MPTCP socket (over loopback), so the README says
//! which ones MPTCP rejects here: the options that broke programs on older
//! kernels (TCP_KEEPIDLE, TCP_NOTSENT_LOWAT, IPV6_V6ONLY), the ones MPTCP
//! never took (TCP_ULP for kTLS, TCP_MD5SIG), and the two the matrix's
//! programs trip on (TCP_QUICKACK, IP_OPTIONS).

use libc::{c_int, c_void, socklen_t};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What a probe does with the option.
#[derive(Clone, Copy)]
enum Op {
    /// setsockopt() with these bytes.
    Set(&'static [u8]),
    /// setsockopt() with this int.
    SetInt(c_int),
    /// getsockopt() into a buffer of this size.
    Get(usize),
}

/// One call to try.
struct Probe {
    call: &'static str,
    level: c_int,
    option: c_int,
    op: Op,
    /// On a fresh AF_INET6 socket rather than the connected IPv4 one.
    inet6: bool,
}

const fn set(call: &'static str, level: c_int, option: c_int, value: &'static [u8]) -> Probe {
    Probe {
        call,
        level,
        option,
        op: Op::Set(value),
        inet6: false,
    }
}

const fn set_int(call: &'static str, level: c_int, option: c_int, value: c_int) -> Probe {
    Probe {
        call,
        level,
        option,
        op: Op::SetInt(value),
        inet6: false,
    }
}

const fn get(call: &'static str, level: c_int, option: c_int, len: usize) -> Probe {
    Probe {
        call,
        level,
        option,
        op: Op::Get(len),
        inet6: false,
    }
}

const TCP_ULP: c_int = 31;
const TCP_MD5SIG: c_int = 14;
const TCP_NOTSENT_LOWAT: c_int = 25;
/// `struct tcp_md5sig` is 216 bytes; all zero (no address family) is refused
/// by TCP itself with EINVAL, which tells a protocol-level refusal apart.
const MD5SIG: &[u8] = &[0; 216];

fn probes() -> Vec<Probe> {
    use libc::{IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, SOL_SOCKET};
    vec![
        set_int(
            "setsockopt(SOL_TCP, TCP_NODELAY, 1)",
            IPPROTO_TCP,
            libc::TCP_NODELAY,
            1,
        ),
        set_int(
            "setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)",
            SOL_SOCKET,
            libc::SO_KEEPALIVE,
            1,
        ),
        set_int(
            "setsockopt(SOL_TCP, TCP_KEEPIDLE, 60)",
            IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            60,
        ),
        set_int(
            "setsockopt(SOL_TCP, TCP_KEEPINTVL, 10)",
            IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            10,
        ),
        set_int(
            "setsockopt(SOL_TCP, TCP_KEEPCNT, 5)",
            IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            5,
        ),
        set_int(
            "setsockopt(SOL_TCP, TCP_USER_TIMEOUT, 30000)",
            IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            30000,
        ),
        set_int(
            "setsockopt(SOL_TCP, TCP_NOTSENT_LOWAT, 16384)",
            IPPROTO_TCP,
            TCP_NOTSENT_LOWAT,
            16384,
        ),
        set_int(
            "setsockopt(SOL_TCP, TCP_CORK, 1)",
            IPPROTO_TCP,
            libc::TCP_CORK,
            1,
        ),
        set_int(
            "setsockopt(SOL_TCP, TCP_QUICKACK, 1)",
            IPPROTO_TCP,
            libc::TCP_QUICKACK,
            1,
        ),
        get(
            "getsockopt(SOL_TCP, TCP_QUICKACK)",
            IPPROTO_TCP,
            libc::TCP_QUICKACK,
            4,
        ),
        set(
            "setsockopt(SOL_TCP, TCP_CONGESTION, \"cubic\")",
            IPPROTO_TCP,
            libc::TCP_CONGESTION,
            b"cubic",
        ),
        get(
            "getsockopt(SOL_TCP, TCP_INFO)",
            IPPROTO_TCP,
            libc::TCP_INFO,
            232,
        ),
        get(
            "getsockopt(SOL_TCP, TCP_MAXSEG)",
            IPPROTO_TCP,
            libc::TCP_MAXSEG,
            4,
        ),
        set(
            "setsockopt(SOL_TCP, TCP_ULP, \"tls\")",
            IPPROTO_TCP,
            TCP_ULP,
            b"tls",
        ),
        set(
            "setsockopt(SOL_TCP, TCP_MD5SIG, {})",
            IPPROTO_TCP,
            TCP_MD5SIG,
            MD5SIG,
        ),
        set_int(
            "setsockopt(SOL_IP, IP_TOS, 0x10)",
            IPPROTO_IP,
            libc::IP_TOS,
            0x10,
        ),
        get(
            "getsockopt(SOL_IP, IP_OPTIONS)",
            IPPROTO_IP,
            libc::IP_OPTIONS,
            40,
        ),
        Probe {
            inet6: true,
            ..get(
                "getsockopt(SOL_IPV6, IPV6_V6ONLY) (AF_INET6)",
                IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                4,
            )
        },
        Probe {
            inet6: true,
            ..set_int(
                "setsockopt(SOL_IPV6, IPV6_V6ONLY, 0) (AF_INET6)",
                IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                0,
            )
        },
    ]
}

/// One call's result on TCP and on MPTCP: "ok" or the errno's name.
pub struct Outcome {
    pub call: &'static str,
    pub tcp: String,
    pub mptcp: String,
}

/// Tries every probe on a connected TCP and a connected MPTCP socket.
/// Panics if the MPTCP socket is not MPTCP, or if TCP refuses TCP_NODELAY:
/// then the table would not say what it claims.
pub fn survey() -> Vec<Outcome> {
    let tcp = Connected::new(libc::IPPROTO_TCP);
    let mptcp = Connected::new(libc::IPPROTO_MPTCP);
    assert_eq!(
        protocol(&mptcp.client),
        libc::IPPROTO_MPTCP,
        "not an MPTCP socket"
    );
    let outcomes: Vec<Outcome> = probes()
        .into_iter()
        .map(|p| Outcome {
            call: p.call,
            tcp: p.run(&tcp.client, libc::IPPROTO_TCP),
            mptcp: p.run(&mptcp.client, libc::IPPROTO_MPTCP),
        })
        .collect();
    assert_eq!(outcomes[0].tcp, "ok", "TCP refused TCP_NODELAY");
    outcomes
}

impl Probe {
    fn run(&self, connected: &OwnedFd, protocol: c_int) -> String {
        let fresh;
        let fd = if self.inet6 {
            fresh = new_socket(libc::AF_INET6, protocol);
            fresh.as_raw_fd()
        } else {
            connected.as_raw_fd()
        };
        let set_bytes = |value: &[u8]| {
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
        };
        let rc = match self.op {
            Op::Set(value) => set_bytes(value),
            Op::SetInt(value) => set_bytes(&value.to_ne_bytes()),
            Op::Get(len) => {
                let mut buf = vec![0u8; len];
                let mut len = len as socklen_t;
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
