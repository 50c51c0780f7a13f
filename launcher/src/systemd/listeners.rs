//! The listening TCP and MPTCP sockets a service's processes hold right
//! now, asked of the kernel for each socket itself: a copy of the
//! descriptor through `pidfd_getfd` (root, or the processes' owner), then
//! `SO_ACCEPTCONN` and `SO_PROTOCOL` (`IPPROTO_MPTCP` for what `ss -Mln`
//! lists, `IPPROTO_TCP` for `ss -tln`) and its local address.

use rustix::net::{ipproto, sockopt, AddressFamily};
use rustix::process::{pidfd_getfd, pidfd_open, Pid, PidfdFlags, PidfdGetfdFlags};
use serde::Serialize;
use std::net::SocketAddr;

/// One listening socket.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub pid: u32,
    pub local: String,
    /// `mptcp` or `tcp`.
    pub protocol: &'static str,
}

/// The listening TCP and MPTCP sockets of `pids`, each socket once.
pub fn of(pids: &[u32]) -> Vec<Listener> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for &pid in pids {
        let Some(raw) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            continue;
        };
        let Ok(pidfd) = pidfd_open(raw, PidfdFlags::empty()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for e in fds.flatten() {
            let Ok(target) = std::fs::read_link(e.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if !target.starts_with("socket:[") || seen.contains(&target) {
                continue;
            }
            let Some(num) = e.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let Ok(fd) = pidfd_getfd(&pidfd, num, PidfdGetfdFlags::empty()) else {
                continue;
            };
            if !sockopt::socket_acceptconn(&fd).unwrap_or(false)
                || !matches!(
                    sockopt::socket_domain(&fd),
                    Ok(AddressFamily::INET | AddressFamily::INET6)
                )
            {
                continue;
            }
            let protocol = match sockopt::socket_protocol(&fd) {
                Ok(Some(p)) if p == ipproto::MPTCP => "mptcp",
                Ok(Some(p)) if p == ipproto::TCP => "tcp",
                _ => continue,
            };
            let local = rustix::net::getsockname(&fd)
                .ok()
                .and_then(|a| SocketAddr::try_from(a).ok())
                .map_or_else(|| "?".to_string(), |a| a.to_string());
            seen.push(target);
            out.push(Listener {
                pid,
                local,
                protocol,
            });
        }
    }
    out
}
