//! What `check` reads about the host besides netlink: whether the kernel
//! makes MPTCP sockets, sysctls (`net.mptcp.*`, `rp_filter`), the kernel's
//! counters, systemd, and whether NetworkManager manages an interface.

use mptcpize_rules::errno::Unavailable;
use serde::Serialize;
use std::collections::HashMap;
use std::process::Command;

/// What creating an MPTCP socket says about the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelMptcp {
    /// An MPTCP socket was created.
    Works,
    /// Built in but `net.mptcp.enabled=0` (ENOPROTOOPT).
    Disabled,
    /// Built without MPTCP (EPROTONOSUPPORT) or older than 5.6 (EINVAL).
    Missing,
}

/// Tries `socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)`, and says the errno
/// when it fails.
pub fn probe() -> (KernelMptcp, Option<i32>) {
    // SAFETY: socket() takes integers; the fd is closed right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM,
            mptcpize_rules::IPPROTO_MPTCP,
        )
    };
    if fd >= 0 {
        // SAFETY: closing the fd just created.
        unsafe { libc::close(fd) };
        return (KernelMptcp::Works, None);
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let mptcp = match Unavailable::from_errno(errno) {
        Some(Unavailable::Disabled) => KernelMptcp::Disabled,
        Some(Unavailable::NotBuiltIn | Unavailable::TooOld) => KernelMptcp::Missing,
        // EMFILE and the like say nothing about MPTCP: treat the kernel as
        // able and let the sysctl speak.
        None => KernelMptcp::Works,
    };
    (mptcp, Some(errno))
}

/// `/proc/sys/net/mptcp/NAME`, trimmed; `None` when absent.
pub fn sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/net/mptcp/{name}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// `uname -r`.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Any sysctl by its path under /proc/sys (`net/ipv4/conf/all/rp_filter`:
/// slashes, since interface names may hold dots), trimmed.
pub fn sysctl_path(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The effective `rp_filter` of interface IF: the kernel uses the larger of
/// `conf.all` and `conf.IF` (0 off, 1 strict, 2 loose).
pub fn rp_filter(interface: &str) -> (u8, u8) {
    let read = |scope: &str| {
        sysctl_path(&format!("net/ipv4/conf/{scope}/rp_filter"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (read("all"), read(interface))
}

/// The kernel's SNMP and extended counters, named as nstat names them
/// (`MPTcpExtMPJoinSynRx`, `TcpExtIPReversePathFilter`).
pub fn counters() -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for file in ["/proc/net/netstat", "/proc/net/snmp"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let [names, values] = pair else { continue };
            let mut names = names.split_whitespace();
            let mut values = values.split_whitespace();
            let (Some(prefix), Some(_)) = (names.next(), values.next()) else {
                continue;
            };
            let prefix = prefix.trim_end_matches(':');
            for (n, v) in names.zip(values) {
                if let Ok(v) = v.parse() {
                    out.insert(format!("{prefix}{n}"), v);
                }
            }
        }
    }
    out
}

/// systemd on this host: installed (its version), and whether it runs as
/// the init system (`/run/systemd/system` exists, as sd_booted(3) tests).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Systemd {
    pub version: u32,
    pub running: bool,
}

/// systemd's version (`systemctl --version`), when installed.
pub fn systemd() -> Option<Systemd> {
    let out = Command::new("systemctl").arg("--version").output().ok()?;
    let version = parse_systemd_version(&String::from_utf8_lossy(&out.stdout))?;
    Some(Systemd {
        version,
        running: std::path::Path::new("/run/systemd/system").is_dir(),
    })
}

/// Whether NetworkManager runs and manages interface IF, and the name of
/// its active connection there (`nmcli -g GENERAL.STATE,GENERAL.CONNECTION
/// device show IF`).
pub fn networkmanager_connection(interface: &str) -> Option<String> {
    if !std::path::Path::new("/run/NetworkManager").is_dir() {
        return None;
    }
    let out = Command::new("nmcli")
        .args(["-g", "GENERAL.STATE,GENERAL.CONNECTION", "device", "show"])
        .arg(interface)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let state = lines.next()?;
    let conn = lines.next()?.trim();
    (out.status.success() && !state.contains("unmanaged") && !conn.is_empty())
        .then(|| conn.to_string())
}

/// `systemd 252 (252.39-1~deb12u1)` → 252.
pub fn parse_systemd_version(text: &str) -> Option<u32> {
    let first = text.lines().next()?;
    let mut words = first.split_whitespace();
    (words.next()? == "systemd").then_some(())?;
    words.next()?.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_systemd_version_line() {
        assert_eq!(
            parse_systemd_version("systemd 252 (252.39-1~deb12u1)\n+PAM +AUDIT"),
            Some(252)
        );
        assert_eq!(parse_systemd_version("systemd 257.1\n"), Some(257));
        assert_eq!(parse_systemd_version("other 1"), None);
        assert_eq!(parse_systemd_version(""), None);
    }
}
