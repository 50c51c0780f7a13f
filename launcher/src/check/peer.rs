//! `check --peer HOST:PORT`: one MPTCP connection to a listener there, held
//! for a few seconds at most, to see which paths really carry a subflow.
//! The kernel tells what happened through `MPTCP_INFO`, the subflows'
//! addresses and TCP states (`MPTCP_SUBFLOW_ADDRS`, `MPTCP_TCPINFO`) and
//! the MPJoin counters. The connection sends one newline (the kernel opens
//! extra subflows only once the peer has acknowledged data) and closes with
//! a FIN.

use super::fix::{Command, Fix};
use super::netlink::Netlink;
use super::paths::Path;
use super::{host, item, Item, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

const SOL_MPTCP: libc::c_int = 284;
const MPTCP_INFO: libc::c_int = 1;
const MPTCP_TCPINFO: libc::c_int = 2;
const MPTCP_SUBFLOW_ADDRS: libc::c_int = 3;
/// `struct mptcp_subflow_data`: four u32.
const SUBFLOW_DATA_LEN: usize = 16;
/// `struct mptcp_subflow_addrs`: two sockaddr_storage.
const SUBFLOW_ADDRS_LEN: usize = 256;
/// As much of `struct tcp_info` as we read (its first byte is the state).
const TCP_INFO_LEN: usize = 8;
const MAX_SUBFLOWS: usize = 16;
/// Long enough for the kernel's fallback to plain TCP when MPTCP SYNs are
/// dropped (after `syn_retrans_before_tcp_fallback` retransmissions: 7 s
/// by default), so that a blackhole shows as one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The counters that tell what happened to joins (namespace-wide).
const COUNTERS: [&str; 10] = [
    "MPTcpExtMPJoinSynTx",
    "MPTcpExtMPJoinSynAckRx",
    "MPTcpExtMPJoinSynAckHMacFailure",
    "MPTcpExtMPJoinSynTxConnectErr",
    "MPTcpExtMPJoinSynTxBindErr",
    "MPTcpExtMPJoinSynTxCreatSkErr",
    "MPTcpExtMPCapableSYNTXDisabled",
    "MPTcpExtAddAddr",
    "TcpExtIPReversePathFilter",
    "TcpExtTCPAbortOnData",
];

/// One subflow as last seen.
#[derive(Clone, Debug, Serialize)]
pub struct Subflow {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// `established`, `syn_sent`, … ; `closed` once it left the connection.
    pub state: String,
}

/// What happened on one of this host's paths.
#[derive(Clone, Debug, Serialize)]
pub struct PathResult {
    pub interface: String,
    pub address: IpAddr,
    /// `established`, `syn_sent`, `closed`, `not_tried`, `initial`.
    pub result: &'static str,
    pub detail: String,
}

/// What `--peer` saw.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub peer: SocketAddr,
    pub connected: bool,
    pub error: Option<String>,
    /// False when the connection fell back to plain TCP.
    pub mptcp: bool,
    /// MPTCP_INFO: extra subflows, addresses announced and accepted.
    pub info: Option<Info>,
    pub subflows: Vec<Subflow>,
    pub paths: Vec<PathResult>,
    /// How the join counters moved while the connection was up.
    pub counters: BTreeMap<String, u64>,
    pub waited_ms: u64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Info {
    pub subflows: u8,
    pub add_addr_signal: u8,
    pub add_addr_accepted: u8,
    pub subflows_max: u8,
    pub fallback: bool,
}

/// Connects, waits up to `wait` for a subflow on every path, closes.
pub fn test(nl: &Netlink, peer: SocketAddr, paths: &[Path], wait: Duration) -> Report {
    let before = host::counters();
    let start = Instant::now();
    let stream = match connect(peer, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => return Report::failed(peer, e),
    };
    let mut report = Report::failed(peer, String::new());
    report.error = None;
    report.connected = true;
    // One byte, so that the peer acknowledges data: only then is the
    // connection "fully established" and the kernel opens extra subflows.
    let _ = (&stream).write_all(b"\n");
    let extra: Vec<&Path> = paths
        .iter()
        .filter(|p| p.kind != "initial" && p.address.is_ipv4() == peer.is_ipv4())
        .collect();
    let mut seen: Vec<Subflow> = Vec::new();
    loop {
        report.info = info(&stream);
        report.mptcp = report.info.is_some_and(|i| !i.fallback);
        let now = subflows(&stream);
        for s in &mut seen {
            if !now
                .iter()
                .any(|n| n.local == s.local && n.remote == s.remote)
            {
                s.state = "closed".into();
            }
        }
        for n in now {
            match seen
                .iter_mut()
                .find(|s| s.local == n.local && s.remote == n.remote)
            {
                Some(s) => s.state = n.state,
                None => seen.push(n),
            }
        }
        let settled = !report.mptcp
            || (extra.iter().all(|p| {
                seen.iter()
                    .any(|s| s.local.ip() == p.address && s.state == "established")
            }) && !seen.iter().any(|s| s.state.starts_with("syn")));
        if settled || start.elapsed() >= wait {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    report.waited_ms = start.elapsed().as_millis() as u64;
    close(stream);
    let after = host::counters();
    for name in COUNTERS {
        let get = |c: &std::collections::HashMap<String, u64>| c.get(name).copied().unwrap_or(0);
        let d = get(&after).saturating_sub(get(&before));
        if d > 0 {
            report.counters.insert(name.to_string(), d);
        }
    }
    let initial_local = seen.first().map(|s| s.local.ip());
    for p in paths
        .iter()
        .filter(|p| p.address.is_ipv4() == peer.is_ipv4())
    {
        let mine: Vec<&Subflow> = seen.iter().filter(|s| s.local.ip() == p.address).collect();
        let (result, detail) = if Some(p.address) == initial_local {
            ("initial", "the connection started here".to_string())
        } else if let Some(s) = mine.iter().find(|s| s.state == "established") {
            (
                "established",
                format!("subflow {} -> {} established", s.local, s.remote),
            )
        } else if let Some(s) = mine.iter().find(|s| s.state.starts_with("syn")) {
            (
                "syn_sent",
                format!(
                    "join {} -> {} sent its SYN and got no SYN-ACK within {:.1} s: dropped on the way or on return{}",
                    s.local,
                    s.remote,
                    report.waited_ms as f64 / 1000.0,
                    counter_hint(&report.counters)
                ),
            )
        } else if let Some(s) = mine.first() {
            (
                "closed",
                format!(
                    "join {} -> {} was tried and closed: reset or refused by the peer (its MPJoinRejected, allow_join_initial_addr_port, limits){}",
                    s.local,
                    s.remote,
                    counter_hint(&report.counters)
                ),
            )
        } else {
            (
                "not_tried",
                format!(
                    "no subflow was tried from {}: it has no subflow endpoint, or the limits forbid it{}",
                    p.address,
                    counter_hint(&report.counters)
                ),
            )
        };
        let detail = match result {
            "syn_sent" | "closed" => format!("{detail}{}", next_hop(nl, p, peer.ip())),
            _ => detail,
        };
        report.paths.push(PathResult {
            interface: p.interface.clone(),
            address: p.address,
            result,
            detail,
        });
    }
    report.subflows = seen;
    report
}

/// What the neighbour table says of the next hop a join from path `p`
/// takes: an entry `incomplete` or `failed` means nothing answered ARP (or
/// neighbour solicitation) for it on that link.
fn next_hop(nl: &Netlink, p: &Path, peer: IpAddr) -> String {
    let oif = p.endpoint.as_ref().and_then(|e| e.ifindex);
    let route = nl.lookup(peer, Some(p.address), oif);
    let (Some(index), None) = (route.oif, &route.error) else {
        return String::new();
    };
    let hop = route.gateway.unwrap_or(peer);
    match nl.neighbour_state(index, hop).as_deref() {
        Some(state @ ("incomplete" | "failed")) => format!(
            "; neighbour {hop} on {}: {state}: nothing answers for it on that link{}",
            p.interface,
            if route.table.is_none() {
                " (no route by that interface, so the kernel took the peer for a neighbour)"
            } else {
                ""
            }
        ),
        _ => String::new(),
    }
}

fn counter_hint(c: &BTreeMap<String, u64>) -> String {
    if c.is_empty() {
        return String::new();
    }
    let list: Vec<String> = c.iter().map(|(k, v)| format!("{k} +{v}")).collect();
    format!(" (counters: {})", list.join(", "))
}

impl Report {
    /// A test that could not even start.
    pub fn failed(peer: SocketAddr, error: String) -> Report {
        Report {
            peer,
            connected: false,
            error: Some(error),
            mptcp: false,
            info: None,
            subflows: Vec::new(),
            paths: Vec::new(),
            counters: BTreeMap::new(),
            waited_ms: 0,
        }
    }

    /// The lines `--peer` adds.
    pub fn items(&self) -> Vec<Item> {
        let name = format!("peer {}", self.peer);
        let Some(_) = self.connected.then_some(()) else {
            return vec![item(
                &name,
                Status::Fail,
                format!(
                    "no MPTCP connection: {}",
                    self.error.as_deref().unwrap_or("failed")
                ),
                None,
            )];
        };
        let mut items = Vec::new();
        if !self.mptcp && self.counters.contains_key("MPTcpExtMPCapableSYNTXDisabled") {
            // The kernel itself sent the SYN without MPTCP.
            let timeout = host::sysctl("blackhole_timeout").unwrap_or_else(|| "3600".into());
            items.push(item(
                "blackhole",
                Status::Warn,
                format!(
                    "active: this connection's SYN went out without MPTCP (MPCapableSYNTXDisabled +1), since the kernel found a path dropping MPTCP options; it keeps new connections plain TCP for blackhole_timeout ({timeout} s, doubling with each detection). Once that path is fixed, setting blackhole_timeout again (to the same value) ends the pause now"
                ),
                Some(Fix::one(Command::new([
                    "sysctl".to_string(),
                    "-w".into(),
                    format!("net.mptcp.blackhole_timeout={timeout}"),
                ]))),
            ));
            return items;
        }
        if !self.mptcp {
            items.push(item(
                &name,
                Status::Warn,
                "connected, but as plain TCP: the listener is not MPTCP (run it under `mptcpize-rs run`), or something on the way strips MPTCP options (the kernel then counts a blackhole)",
                None,
            ));
            return items;
        }
        let info = self.info.expect("mptcp means info");
        items.push(item(
            &name,
            Status::Ok,
            format!(
                "MPTCP connection: {} extra subflow{} (limit {}), {} address{} announced by the peer",
                info.subflows,
                if info.subflows == 1 { "" } else { "s" },
                info.subflows_max,
                info.add_addr_accepted,
                if info.add_addr_accepted == 1 { "" } else { "es" }
            ),
            None,
        ));
        for p in &self.paths {
            let status = match p.result {
                "initial" | "established" => Status::Ok,
                _ => Status::Warn,
            };
            items.push(item(
                &format!("peer path {} {}", p.interface, p.address),
                status,
                p.detail.clone(),
                None,
            ));
        }
        items
    }
}

/// An MPTCP socket connected to `peer` within `timeout`.
fn connect(peer: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    let family = if peer.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket() takes integers and returns a new fd or -1.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            mptcpize_rules::IPPROTO_MPTCP,
        )
    };
    if fd < 0 {
        return Err(format!(
            "cannot create an MPTCP socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` is ours, just created; the stream owns and closes it.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let (storage, len) = sockaddr(peer);
    // SAFETY: `storage` holds a sockaddr of `len` bytes for this family.
    let rc = unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(format!("connect: {err}"));
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd, owned here.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
        if n == 0 {
            return Err(format!(
                "connect: no answer within {:.1} s",
                timeout.as_secs_f64()
            ));
        }
        if let Some(e) = stream.take_error().map_err(|e| format!("connect: {e}"))? {
            return Err(format!("connect: {e}"));
        }
    }
    stream
        .set_nonblocking(false)
        .map_err(|e| format!("connect: {e}"))?;
    Ok(stream)
}

fn sockaddr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all zeroes is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and aligned for it.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6 and aligned for it.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// getsockopt(SOL_MPTCP, name) into `buf`; the length the kernel wrote.
fn sol_mptcp(stream: &TcpStream, name: libc::c_int, buf: &mut [u8]) -> Option<usize> {
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes, and `len` is ours.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            SOL_MPTCP,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(len as usize)
}

/// MPTCP_INFO; `None` when the connection fell back to TCP (the kernel
/// then refuses SOL_MPTCP options).
fn info(stream: &TcpStream) -> Option<Info> {
    let mut buf = [0u8; 256];
    let n = sol_mptcp(stream, MPTCP_INFO, &mut buf)?;
    if n < 8 {
        return None;
    }
    let flags = u32::from_ne_bytes(buf[4..8].try_into().expect("4 bytes"));
    Some(Info {
        subflows: buf[0],
        add_addr_signal: buf[1],
        add_addr_accepted: buf[2],
        subflows_max: buf[3],
        fallback: flags & 1 != 0,
    })
}

/// The subflows with their addresses and TCP states, in the kernel's order.
fn subflows(stream: &TcpStream) -> Vec<Subflow> {
    let header = |size_user: usize| {
        let mut h = [0u8; SUBFLOW_DATA_LEN];
        h[0..4].copy_from_slice(&(SUBFLOW_DATA_LEN as u32).to_ne_bytes());
        h[12..16].copy_from_slice(&(size_user as u32).to_ne_bytes());
        h
    };
    let mut addrs = vec![0u8; SUBFLOW_DATA_LEN + MAX_SUBFLOWS * SUBFLOW_ADDRS_LEN];
    addrs[..SUBFLOW_DATA_LEN].copy_from_slice(&header(SUBFLOW_ADDRS_LEN));
    let mut infos = vec![0u8; SUBFLOW_DATA_LEN + MAX_SUBFLOWS * TCP_INFO_LEN];
    infos[..SUBFLOW_DATA_LEN].copy_from_slice(&header(TCP_INFO_LEN));
    if sol_mptcp(stream, MPTCP_SUBFLOW_ADDRS, &mut addrs).is_none()
        || sol_mptcp(stream, MPTCP_TCPINFO, &mut infos).is_none()
    {
        return Vec::new();
    }
    let count = |b: &[u8]| u32::from_ne_bytes(b[4..8].try_into().expect("4 bytes")) as usize;
    let n = count(&addrs).min(count(&infos)).min(MAX_SUBFLOWS);
    (0..n)
        .filter_map(|k| {
            let a = &addrs[SUBFLOW_DATA_LEN + k * SUBFLOW_ADDRS_LEN..][..SUBFLOW_ADDRS_LEN];
            let state = infos[SUBFLOW_DATA_LEN + k * TCP_INFO_LEN];
            Some(Subflow {
                local: parse_sockaddr(&a[..128])?,
                remote: parse_sockaddr(&a[128..])?,
                state: tcp_state(state).into(),
            })
        })
        .collect()
}

fn parse_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes([b[0], b[1]]));
    let port = u16::from_be_bytes([b[2], b[3]]);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = b[4..8].try_into().ok()?;
            Some(SocketAddr::from((ip, port)))
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = b[8..24].try_into().ok()?;
            let ip = std::net::Ipv6Addr::from(ip);
            // A v4-mapped local address on an IPv6 socket is the IPv4 path.
            match ip.to_ipv4_mapped() {
                Some(v4) => Some(SocketAddr::from((v4, port))),
                None => Some(SocketAddr::from((ip, port))),
            }
        }
        _ => None,
    }
}

fn tcp_state(s: u8) -> &'static str {
    match s {
        1 => "established",
        2 => "syn_sent",
        3 => "syn_recv",
        4 => "fin_wait1",
        5 => "fin_wait2",
        6 => "time_wait",
        7 => "close",
        8 => "close_wait",
        9 => "last_ack",
        10 => "listen",
        11 => "closing",
        _ => "unknown",
    }
}

/// FIN, then what the peer still sends until it closes too (half a second
/// at most), then close: no RST for unread data.
fn close(mut stream: TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
}
