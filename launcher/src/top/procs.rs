//! Which process holds which socket, and how that process came to use
//! MPTCP. Sockets are found as ss -p finds them: the `socket:[INODE]`
//! links under /proc/PID/fd. How a process got MPTCP is read from /proc
//! too: our shim in /proc/PID/maps, a seccomp filter and the variable our
//! seccomp mode sets in the tree it supervises, `multipathtcp=` in a Go
//! program's GODEBUG, or none of these (the program asked for MPTCP itself).

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fs;

/// How a process came to use MPTCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Our preload library is mapped (`run`, `enable`, LD_PRELOAD).
    Shim,
    /// Under the seccomp supervisor of `mptcpize-rs run` (which sets
    /// `MPTCPIZE_SUPERVISOR` in the tree it supervises).
    Seccomp,
    /// A Go 1.21+ program with `GODEBUG=multipathtcp=…`.
    Godebug,
    /// The program opens MPTCP sockets itself.
    Native,
}

impl Via {
    pub fn word(self) -> &'static str {
        match self {
            Via::Shim => "shim",
            Via::Seccomp => "seccomp",
            Via::Godebug => "godebug",
            Via::Native => "native",
        }
    }
}

/// A process that holds MPTCP sockets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    pub via: Via,
}

/// The pids holding each of `inodes` (several when a socket is shared,
/// e.g. after fork), in increasing pid order.
pub fn owners(inodes: &HashSet<u32>) -> HashMap<u32, Vec<u32>> {
    let mut owners: HashMap<u32, Vec<u32>> = HashMap::new();
    if inodes.is_empty() {
        return owners;
    }
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        // A process may exit, or deny us, while we look: skip it.
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok());
            if let Some(inode) = inode.filter(|i| inodes.contains(i)) {
                let list = owners.entry(inode).or_default();
                if list.last() != Some(&pid) {
                    list.push(pid);
                }
            }
        }
    }
    owners
}

/// What /proc says about `pid` (None once it has exited).
pub fn process(pid: u32) -> Option<Process> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(Process {
        pid,
        comm: comm.trim_end().to_string(),
        via: via(pid),
    })
}

fn via(pid: u32) -> Via {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let shim = format!("/{}", crate::locate::SHIM_NAME);
    if maps.lines().any(|l| l.ends_with(&shim)) {
        return Via::Shim;
    }
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let mut vars = environ.split(|&b| b == 0);
    let supervised = format!("{}=", crate::seccomp::SUPERVISOR_ENV);
    if seccomp_filtered(pid) && vars.any(|kv| kv.starts_with(supervised.as_bytes())) {
        return Via::Seccomp;
    }
    let godebug = environ
        .split(|&b| b == 0)
        .filter_map(|kv| kv.strip_prefix(b"GODEBUG="))
        .flat_map(|v| v.split(|&b| b == b','))
        .any(|kv| kv.starts_with(b"multipathtcp=") && kv != b"multipathtcp=0");
    if godebug {
        return Via::Godebug;
    }
    Via::Native
}

/// `Seccomp: 2` in /proc/PID/status: the process runs under a filter.
fn seccomp_filtered(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Seccomp:", "2"])
}

/// The control group of `pid` (the unified hierarchy's path).
pub fn cgroup(pid: u32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn finds_the_owner_of_a_socket_of_ours() {
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd()))
            .unwrap()
            .ino() as u32;
        let found = owners(&HashSet::from([inode]));
        assert_eq!(found[&inode], [std::process::id()]);
        let me = process(std::process::id()).unwrap();
        assert_eq!(me.via, Via::Native);
    }
}
