//! One look at the namespace's MPTCP connections: the MPTCP sockets and
//! their subflows from sock_diag, joined by token, each connection with the
//! process holding it, narrowed to what the user asked for. This is what
//! `top --once --json` prints (the schema is in README.md, "mptcpize-rs
//! top"); the live views add rates and events to it (see [`super::history`]).

use super::diag::{Diag, MptcpSocket, Subflow, TCP_LISTEN};
use super::ifaces::{Interfaces, Route};
use super::kinfo::TCP_CA_LOSS;
use super::procs::{self, Via};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};

/// `TCP_SYN_SENT`, `TCP_CLOSE` (include/net/tcp_states.h).
const TCP_SYN_SENT: u8 = 2;
const TCP_CLOSE: u8 = 7;

/// A TCP state as ss names it.
pub fn state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "UNCONN",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// One MPTCP connection (an MPTCP socket that is not a listener).
#[derive(Clone, Debug, Serialize)]
pub struct Connection {
    /// The process holding the socket (the lowest pid when several do);
    /// null when no process holds it any more (closed, still draining).
    pub pid: Option<u32>,
    /// Every process holding the socket.
    pub pids: Vec<u32>,
    pub comm: Option<String>,
    /// How the process got MPTCP: shim, seccomp, godebug or native.
    pub via: Option<Via>,
    /// The local token, as `ss -Mi` prints it (hexadecimal).
    pub token: String,
    /// Addresses as ss prints them (IPv4-mapped IPv6 as IPv4).
    pub local: String,
    pub remote: String,
    pub state: &'static str,
    /// The connection fell back to TCP (the peer did not speak MPTCP).
    pub fallback: bool,
    /// Extra subflows the kernel counts now (`ss -Mi`'s `subflows:`).
    pub extra_subflows: u8,
    /// Data-level bytes (Linux 6.5+; null before).
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
    pub bytes_acked: Option<u64>,
    pub bytes_retrans: Option<u64>,
    /// Bytes per second over the last interval (null in the first look).
    pub rate_sent: Option<f64>,
    pub rate_received: Option<f64>,
    pub subflows: Vec<SubflowView>,
    #[serde(skip)]
    pub inode: u32,
    #[serde(skip)]
    pub peer: IpAddr,
}

/// One subflow of a connection.
#[derive(Clone, Debug, Serialize)]
pub struct SubflowView {
    pub local: String,
    pub remote: String,
    /// The interface holding the local address (or the bound device).
    pub interface: Option<String>,
    pub state: &'static str,
    /// MPTCP subflow flags: backup, backup_remote, join, join_remote,
    /// mp_capable, fully_established, …
    pub flags: Vec<&'static str>,
    pub backup: bool,
    /// MPTCP address ids of the two ends.
    pub local_id: u8,
    pub remote_id: u8,
    /// TCP-level bytes: sent (retransmissions included), acknowledged by
    /// the peer, received.
    pub bytes_sent: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    /// Smoothed round-trip time, in milliseconds.
    pub rtt_ms: f64,
    pub retransmits: u32,
    /// Why the subflow is failing, when it is (its interface is down, or
    /// its retransmissions go unanswered); null when it is healthy.
    pub failed: Option<String>,
    /// Bytes per second over the last interval (acknowledged, received).
    pub rate_sent: Option<f64>,
    pub rate_received: Option<f64>,
}

/// What the user narrowed the view to.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub pids: Vec<u32>,
    /// Control group path (as in /proc/PID/cgroup) of a unit.
    pub cgroup: Option<String>,
    pub peer: Option<IpAddr>,
}

impl Filter {
    fn wants_process(&self, pids: &[u32]) -> bool {
        (self.pids.is_empty() || pids.iter().any(|p| self.pids.contains(p)))
            && self.cgroup.as_ref().is_none_or(|cg| {
                pids.iter().any(|&p| {
                    procs::cgroup(p).is_some_and(|c| c == *cg || c.starts_with(&format!("{cg}/")))
                })
            })
    }

    fn wants_peer(&self, c: &Connection) -> bool {
        self.peer.is_none_or(|peer| {
            c.peer == peer
                || c.subflows
                    .iter()
                    .any(|s| remote_ip(&s.remote) == Some(peer))
        })
    }

    fn by_process(&self) -> bool {
        !self.pids.is_empty() || self.cgroup.is_some()
    }
}

fn remote_ip(addr: &str) -> Option<IpAddr> {
    addr.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// The kernel sockets of a `top` session.
pub struct Sampler {
    diag: Diag,
    route: Route,
}

impl Sampler {
    pub fn open() -> io::Result<Sampler> {
        Ok(Sampler {
            diag: Diag::open()?,
            route: Route::open()?,
        })
    }

    /// The connections now, ordered by pid and token.
    pub fn sample(&mut self, filter: &Filter) -> io::Result<Vec<Connection>> {
        let sockets = self.diag.mptcp_sockets()?;
        let sockets: Vec<MptcpSocket> = sockets
            .into_iter()
            .filter(|s| s.state != TCP_LISTEN && s.state != TCP_CLOSE)
            .collect();
        if sockets.is_empty() {
            return Ok(Vec::new());
        }
        let subflows = self.diag.subflows()?;
        let ifs = self.route.interfaces()?;
        let inodes: HashSet<u32> = sockets
            .iter()
            .map(|s| s.inode)
            .filter(|&i| i != 0)
            .collect();
        let owners = procs::owners(&inodes);
        Ok(join(sockets, subflows, &ifs, &owners, filter))
    }
}

/// Puts subflows under their connections and connections under their
/// processes, keeping what `filter` wants.
pub fn join(
    sockets: Vec<MptcpSocket>,
    subflows: Vec<Subflow>,
    ifs: &Interfaces,
    owners: &HashMap<u32, Vec<u32>>,
    filter: &Filter,
) -> Vec<Connection> {
    let mut by_token: HashMap<u32, Vec<&Subflow>> = HashMap::new();
    for sf in &subflows {
        by_token.entry(sf.ulp.token_local).or_default().push(sf);
    }
    let mut processes: HashMap<u32, Option<procs::Process>> = HashMap::new();
    let mut out = Vec::new();
    for s in sockets {
        let pids = owners.get(&s.inode).cloned().unwrap_or_default();
        if filter.by_process() && !filter.wants_process(&pids) {
            continue;
        }
        let process = pids.first().and_then(|&p| {
            processes
                .entry(p)
                .or_insert_with(|| procs::process(p))
                .clone()
        });
        // A connection that fell back before it had a token is matched by
        // its addresses.
        let mine: Vec<&Subflow> = match by_token.get(&s.info.token) {
            Some(sfs) if s.info.token != 0 => sfs.clone(),
            _ => subflows
                .iter()
                .filter(|sf| sf.local == s.local && sf.remote == s.remote)
                .collect(),
        };
        let mut views: Vec<SubflowView> = mine.iter().map(|sf| view(sf, ifs)).collect();
        views.sort_by(|a, b| (a.local_id, &a.local).cmp(&(b.local_id, &b.local)));
        let c = Connection {
            pid: process.as_ref().map(|p| p.pid),
            pids,
            comm: process.as_ref().map(|p| p.comm.clone()),
            via: process.as_ref().map(|p| p.via),
            token: format!("{:x}", s.info.token),
            local: s.local.to_string(),
            remote: s.remote.to_string(),
            state: state_name(s.state),
            fallback: s.info.fallback,
            extra_subflows: s.info.extra_subflows,
            bytes_sent: s.info.bytes_sent,
            bytes_received: s.info.bytes_received,
            bytes_acked: s.info.bytes_acked,
            bytes_retrans: s.info.bytes_retrans,
            rate_sent: None,
            rate_received: None,
            subflows: views,
            inode: s.inode,
            peer: s.remote.ip(),
        };
        if filter.wants_peer(&c) {
            out.push(c);
        }
    }
    out.sort_by(|a, b| {
        (a.pid.unwrap_or(u32::MAX), &a.token).cmp(&(b.pid.unwrap_or(u32::MAX), &b.token))
    });
    out
}

fn view(sf: &Subflow, ifs: &Interfaces) -> SubflowView {
    let iface = ifs.lookup(sf.bound_if, sf.local.ip());
    let t = &sf.tcp;
    let failed = if iface.is_some_and(|i| !i.up) {
        Some(format!(
            "interface {} is down",
            iface.map_or("", |i| &i.name)
        ))
    } else if t.ca_state == TCP_CA_LOSS && t.backoff > 0 {
        Some(format!("no answer: {} retransmission timeouts", t.backoff))
    } else if sf.state == TCP_SYN_SENT && t.backoff > 0 {
        Some(format!(
            "join not answered: {} SYN retransmissions",
            t.backoff
        ))
    } else {
        None
    };
    let flags = sf.ulp.flag_names();
    SubflowView {
        local: sf.local.to_string(),
        remote: sf.remote.to_string(),
        interface: iface.map(|i| i.name.clone()),
        state: state_name(sf.state),
        backup: flags.contains(&"backup"),
        flags,
        local_id: sf.ulp.id_local,
        remote_id: sf.ulp.id_remote,
        bytes_sent: t.bytes_sent.unwrap_or(t.bytes_acked),
        bytes_acked: t.bytes_acked,
        bytes_received: t.bytes_received,
        rtt_ms: f64::from(t.rtt_us) / 1000.0,
        retransmits: t.total_retrans,
        failed,
        rate_sent: None,
        rate_received: None,
    }
}

/// A connection with two subflows, for the tests of the views.
#[cfg(test)]
pub fn example(sent: u64) -> Connection {
    let sf = |k: u8, sent: u64| SubflowView {
        local: format!("10.231.{k}.1:4000{k}"),
        remote: "10.231.0.2:5201".into(),
        interface: Some(format!("eth{k}")),
        state: "ESTAB",
        flags: vec!["join"],
        backup: k == 1,
        local_id: k,
        remote_id: 0,
        bytes_sent: sent,
        bytes_acked: sent,
        bytes_received: 0,
        rtt_ms: 1.5,
        retransmits: 0,
        failed: None,
        rate_sent: None,
        rate_received: None,
    };
    Connection {
        pid: Some(4242),
        pids: vec![4242],
        comm: Some("iperf3".into()),
        via: Some(Via::Shim),
        token: "1a2b3c4d".into(),
        local: "10.231.0.1:40000".into(),
        remote: "10.231.0.2:5201".into(),
        state: "ESTAB",
        fallback: false,
        extra_subflows: 1,
        bytes_sent: Some(2 * sent),
        bytes_received: Some(0),
        bytes_acked: Some(2 * sent),
        bytes_retrans: Some(0),
        rate_sent: None,
        rate_received: None,
        subflows: vec![sf(0, sent), sf(1, sent)],
        inode: 77,
        peer: "10.231.0.2".parse().unwrap(),
    }
}
