//! Network namespaces for the tests and the benchmark: [`Netns`], one
//! namespace, and [`Testbed`], a client and a server namespace joined by N
//! veth paths with MPTCP set up as the RHEL and Oracle guides describe
//! (limits, the client's extra addresses as `subflow` endpoints, source
//! routing per path). Names are unique per process and per testbed, so
//! parallel tests and runs never collide; everything is removed on drop.

use crate::proc::{run, Output};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this process: `mz<pid>x<n>` (veth names must fit
/// in 15 bytes).
pub fn unique_name() -> String {
    format!(
        "mz{}x{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command that sets the network up, panicking with its output if it fails.
#[track_caller]
pub fn sh(program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = run(cmd, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{program} {} failed:\n{out}",
        args.join(" ")
    );
    out
}

/// One network namespace; its processes are killed and it is deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates a namespace with loopback up and MPTCP enabled.
    pub fn new() -> Netns {
        let ns = Netns {
            name: unique_name(),
        };
        sh("ip", &["netns", "add", &ns.name]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns.set_mptcp(true);
        ns
    }

    /// A command to run inside the namespace (`ip netns exec NAME program`).
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// `ip -n NAME args…`.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> Output {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        sh("ip", &all)
    }

    /// Runs `program args…` inside the namespace and returns its stdout.
    #[track_caller]
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.name, program];
        all.extend_from_slice(args);
        sh("ip", &all).stdout
    }

    /// Sets `net.mptcp.enabled` in this namespace.
    pub fn set_mptcp(&self, on: bool) {
        self.sysctl("net.mptcp.enabled", if on { "1" } else { "0" });
    }

    /// `sysctl -w key=value` in this namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec("sysctl", &["-qw", &format!("{key}={value}")]);
    }

    /// The namespace's SNMP and extended counters (`/proc/net/netstat` and
    /// `/proc/net/snmp`, named as nstat names them: `MPTcpExtMPCapableSYNRX`).
    pub fn counters(&self) -> HashMap<String, u64> {
        let text = self.exec("cat", &["/proc/net/netstat", "/proc/net/snmp"]);
        parse_counters(&text)
    }

    /// One counter, 0 when the kernel does not have it.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters().get(name).copied().unwrap_or(0)
    }

    /// `ss args…` in this namespace.
    pub fn ss(&self, args: &[&str]) -> String {
        self.exec("ss", args)
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill what still runs inside, then delete the namespace (its veth
        // ends go with it).
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: kill() with a pid listed as inside our namespace.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Parses the header/value line pairs of /proc/net/netstat and /proc/net/snmp.
pub fn parse_counters(text: &str) -> HashMap<String, u64> {
    let mut out = HashMap::new();
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
    out
}

/// One path of a [`Testbed`]: a veth pair and its two addresses.
#[derive(Clone, Debug)]
pub struct PathLink {
    pub client_if: String,
    pub server_if: String,
    pub client_ip: Ipv4Addr,
    pub server_ip: Ipv4Addr,
}

/// How to build a [`Testbed`].
#[derive(Clone, Debug)]
pub struct TestbedConfig {
    /// How many veth paths join the namespaces.
    pub paths: usize,
    /// Rate limit of each path in both directions (tbf), in Mbit/s.
    pub rate_mbit: Option<u32>,
    /// Also announce the server's extra addresses (`signal` endpoints).
    pub server_signal: bool,
}

impl Default for TestbedConfig {
    fn default() -> Self {
        TestbedConfig {
            paths: 2,
            rate_mbit: None,
            server_signal: false,
        }
    }
}

/// A client and a server namespace joined by N veth paths; path K uses
/// 10.231.K.1 (client) and 10.231.K.2 (server). Path 0 is the one a client
/// connects over; the client's other addresses are MPTCP `subflow`
/// endpoints, each routed out of its own link by source.
pub struct Testbed {
    pub client: Netns,
    pub server: Netns,
    pub paths: Vec<PathLink>,
}

impl Testbed {
    /// A testbed with `paths` unlimited paths.
    pub fn new(paths: usize) -> Testbed {
        Testbed::with(TestbedConfig {
            paths,
            ..TestbedConfig::default()
        })
    }

    pub fn with(config: TestbedConfig) -> Testbed {
        assert!((1..=8).contains(&config.paths), "1 to 8 paths");
        let client = Netns::new();
        let server = Netns::new();
        let mut paths = Vec::new();
        for k in 0..config.paths {
            let link = PathLink {
                client_if: format!("{}c{k}", client.name),
                server_if: format!("{}s{k}", client.name),
                client_ip: Ipv4Addr::new(10, 231, k as u8, 1),
                server_ip: Ipv4Addr::new(10, 231, k as u8, 2),
            };
            sh(
                "ip",
                &[
                    "link",
                    "add",
                    &link.client_if,
                    "netns",
                    &client.name,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &link.server_if,
                    "netns",
                    &server.name,
                ],
            );
            for (ns, dev, ip, source_routed) in [
                (&client, &link.client_if, link.client_ip, true),
                (&server, &link.server_if, link.server_ip, false),
            ] {
                ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", dev]);
                ns.ip(&["link", "set", dev, "up"]);
                // The client's subflows from this address leave through this
                // link, whichever server address they go to. The server
                // answers by destination (its connected routes), so a subflow
                // from the client's path-K address comes back over path K,
                // where its socket (bound to that link) waits: a per-source
                // rule on the server would send it back over path 0 and the
                // client would reset the join.
                if source_routed {
                    let table = (100 + k).to_string();
                    ns.ip(&["rule", "add", "from", &ip.to_string(), "table", &table]);
                    ns.ip(&["route", "add", "10.231.0.0/16", "dev", dev, "table", &table]);
                }
                if let Some(rate) = config.rate_mbit {
                    let rate = format!("{rate}mbit");
                    ns.exec(
                        "tc",
                        &[
                            "qdisc", "add", "dev", dev, "root", "tbf", "rate", &rate, "burst",
                            "32kb", "latency", "50ms",
                        ],
                    );
                }
            }
            if k > 0 {
                let (cip, sip) = (link.client_ip.to_string(), link.server_ip.to_string());
                client.ip(&[
                    "mptcp",
                    "endpoint",
                    "add",
                    &cip,
                    "dev",
                    &link.client_if,
                    "subflow",
                ]);
                if config.server_signal {
                    server.ip(&[
                        "mptcp",
                        "endpoint",
                        "add",
                        &sip,
                        "dev",
                        &link.server_if,
                        "signal",
                    ]);
                }
            }
            paths.push(link);
        }
        let n = config.paths.to_string();
        for ns in [&client, &server] {
            ns.ip(&[
                "mptcp",
                "limits",
                "set",
                "subflow",
                &n,
                "add_addr_accepted",
                &n,
            ]);
        }
        Testbed {
            client,
            server,
            paths,
        }
    }

    /// The server's address on path 0, where clients connect.
    pub fn server_ip(&self) -> Ipv4Addr {
        self.paths[0].server_ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_netstat_pairs() {
        let text =
            "TcpExt: A B\nTcpExt: 1 2\nMPTcpExt: MPCapableSYNRX MPJoinSynRx\nMPTcpExt: 7 3\n";
        let c = parse_counters(text);
        assert_eq!(c["TcpExtB"], 2);
        assert_eq!(c["MPTcpExtMPCapableSYNRX"], 7);
        assert_eq!(c["MPTcpExtMPJoinSynRx"], 3);
    }
}
