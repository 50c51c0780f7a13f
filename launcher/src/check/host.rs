//! What `check` reads about the host besides the path manager: whether the
//! kernel makes MPTCP sockets, the `net.mptcp.*` sysctls, the interfaces
//! that could carry a path, and the systemd version.

use mptcpize_rules::errno::Unavailable;
use serde::Serialize;
use std::net::IpAddr;
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

/// An interface that is up, not loopback, with addresses a path could use.
#[derive(Clone, Debug, Serialize)]
pub struct Interface {
    pub name: String,
    pub addresses: Vec<IpAddr>,
}

/// The interfaces that are up and running, not loopback, with an IPv4
/// address or a global IPv6 address.
pub fn interfaces() -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return out;
    }
    let mut p = list;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        let flags = ifa.ifa_flags;
        let up = libc::IFF_UP as u32 | libc::IFF_RUNNING as u32;
        if flags & up != up || flags & libc::IFF_LOOPBACK as u32 != 0 || ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points to a sockaddr of the
        // family it names.
        let addr = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                    IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes())
                }
                libc::AF_INET6 => {
                    let sin6 = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                    IpAddr::from(sin6.sin6_addr.s6_addr)
                }
                _ => continue,
            }
        };
        if let IpAddr::V6(v6) = addr {
            // Link-local addresses route nowhere beyond the link.
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                continue;
            }
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        match out.iter_mut().find(|i| i.name == name) {
            Some(i) => i.addresses.push(addr),
            None => out.push(Interface {
                name,
                addresses: vec![addr],
            }),
        }
    }
    // SAFETY: the list from getifaddrs, freed once.
    unsafe { libc::freeifaddrs(list) };
    out
}

/// The interface of the IPv4 default route, from /proc/net/route.
pub fn default_route_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace();
        let iface = cols.next()?;
        (cols.next()? == "00000000").then(|| iface.to_string())
    })
}

/// The systemd version (`systemctl --version`), when systemd is installed.
pub fn systemd_version() -> Option<u32> {
    let out = Command::new("systemctl").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_systemd_version(&text)
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
