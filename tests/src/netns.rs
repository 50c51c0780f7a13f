//! Network namespaces for the tests and the benchmark: [`Netns`], one
//! namespace, and [`Testbed`], a client and a server namespace joined by N
//! veth paths with MPTCP set up as the RHEL and Oracle guides describe
//! (limits, the client's extra addresses as `subflow` endpoints, optionally
//! the server's as `signal` endpoints, routing that keeps each path's
//! packets on its own link, a tbf rate limit and an optional delay per path).
//!
//! Names are unique per process and per testbed, so parallel tests and runs
//! never collide. Everything is removed on drop; a program that can be
//! interrupted (the xtask CLI) calls [`teardown_all`] from its SIGINT/SIGTERM
//! handler, and [`remove_stale`] removes what a killed run left behind.

use crate::common::{CounterWatch, Counters};
use crate::delay::DelayLine;
use crate::proc::{run, Child, Output};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The prefix of every namespace name made here.
pub const NAME_PREFIX: &str = "mz";

/// The namespaces alive in this process, for [`teardown_all`].
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this process: `mz<pid>x<n>` (veth names must fit
/// in 15 bytes).
pub fn unique_name() -> String {
    format!(
        "{NAME_PREFIX}{}x{}",
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
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ns.name.clone());
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

    /// Reads counter `name` now, to assert later how much it grew.
    pub fn watch(&self, name: &'static str) -> CounterWatch<'_> {
        CounterWatch::new(self, name)
    }

    /// `mptcpize-rs ARGS…` inside the namespace (see [`crate::mptcpize`]).
    pub fn mptcpize(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd(crate::launcher());
        crate::common::clean_env(&mut cmd);
        cmd.args(args);
        cmd
    }

    /// `ss args…` in this namespace.
    pub fn ss(&self, args: &[&str]) -> String {
        self.exec("ss", args)
    }

    /// Starts the `echo-server` example on `addr` in this namespace, under
    /// `mptcpize-rs run` when `shimmed`, with `extra` arguments (`--once`),
    /// and waits until it listens.
    pub fn echo_server(&self, addr: &str, shimmed: bool, extra: &[&str]) -> Child {
        let mut cmd = if shimmed {
            let mut c = self.mptcpize(&["run", "--"]);
            c.arg(crate::bin("echo-server"));
            c
        } else {
            self.cmd(crate::bin("echo-server"))
        };
        cmd.arg(addr).args(extra);
        let mut server = Child::spawn(cmd);
        server.wait_for_line("listening on", Duration::from_secs(30));
        server
    }

    /// Runs the `echo-client` example in this namespace under
    /// `mptcpize-rs run RUN_FLAGS…`, sending `bytes` to `addr`, and returns
    /// what it printed, whatever its exit.
    pub fn echo_client(&self, run_flags: &[&str], addr: &str, bytes: u64) -> Output {
        let mut cmd = self.mptcpize(&["run"]);
        cmd.args(run_flags)
            .arg("--")
            .arg(crate::bin("echo-client"))
            .arg(addr)
            .arg(bytes.to_string());
        run(cmd, Duration::from_secs(30))
    }
}

impl Counters for Netns {
    fn counter(&self, name: &str) -> u64 {
        Netns::counter(self, name)
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete_netns(&self.name);
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|n| n != &self.name);
    }
}

/// Kills what still runs inside namespace `name`, then deletes it (its veth
/// ends go with it).
fn delete_netns(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill() with a pid listed as inside our namespace.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(std::process::Stdio::null())
        .status();
}

/// Deletes every namespace this process made and still has: for a signal
/// handler, where no destructor will run. Returns the names removed.
pub fn teardown_all() -> Vec<String> {
    let names = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for name in &names {
        delete_netns(name);
    }
    names
}

/// The namespaces made here (`mz<pid>x<n>`) by processes that no longer
/// run: what a run killed with SIGKILL left behind.
pub fn stale_names() -> Vec<String> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| {
            let pid = name
                .strip_prefix(NAME_PREFIX)
                .and_then(|rest| rest.split_once('x'))
                .and_then(|(pid, n)| n.parse::<u32>().ok().and(pid.parse::<u32>().ok()));
            pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        })
        .map(str::to_string)
        .collect()
}

/// Deletes the namespaces of [`stale_names`]; returns their names.
pub fn remove_stale() -> Vec<String> {
    let names = stale_names();
    for name in &names {
        delete_netns(name);
    }
    names
}

/// The names of all network namespaces (`ip netns list`).
pub fn netns_names() -> Vec<String> {
    let out = sh("ip", &["netns", "list"]);
    out.stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
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

/// One path of a [`Testbed`]: a link (a veth pair, or two TUN devices
/// joined by a [`DelayLine`]) and its two addresses.
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
    /// How many paths join the namespaces.
    pub paths: usize,
    /// Rate limit of each path in both directions (tbf), in Mbit/s.
    pub rate_mbit: Option<u32>,
    /// One-way delay of each path in both directions, in milliseconds.
    /// This kernel has no netem, and tbf's `latency` only bounds its queue,
    /// so a delayed path is two TUN devices joined by a userspace
    /// [`DelayLine`] instead of a veth pair.
    pub delay_ms: Option<u32>,
    /// Also announce the server's extra addresses (`signal` endpoints).
    pub server_signal: bool,
    /// Leave TCP segmentation offload on for the veth links. Off by default:
    /// with TSO, veth hands whole TSO super-packets to its peer, and on this
    /// kernel (6.18) that corrupts MPTCP streams with two subflows now and
    /// then (the receiver gets bytes from the stream's first KB again at
    /// byte 31,328): 5 of 180 native-MPTCP transfers with TSO, 0 of 300
    /// without. `xtask bench --only integrity` measures both settings.
    pub tso: bool,
}

impl Default for TestbedConfig {
    fn default() -> Self {
        TestbedConfig {
            paths: 2,
            rate_mbit: None,
            delay_ms: None,
            server_signal: false,
            tso: false,
        }
    }
}

/// A client and a server namespace joined by N paths; path K uses
/// 10.231.K.1 (client) and 10.231.K.2 (server). Clients connect over path 0;
/// the client's other addresses are MPTCP `subflow` endpoints.
///
/// A path is "whatever uses client address K": the client routes by source
/// address and the server by destination address, so every subflow from
/// 10.231.K.1, whichever server address it goes to, sends and is answered
/// over link K alone. Taking link K down cuts exactly those subflows.
pub struct Testbed {
    pub client: Netns,
    pub server: Netns,
    pub paths: Vec<PathLink>,
    pub config: TestbedConfig,
    // Dropped after the namespaces: its threads stop when the devices go.
    _delays: Vec<DelayLine>,
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
        let mut delays = Vec::new();
        for k in 0..config.paths {
            let link = PathLink {
                client_if: format!("{}c{k}", client.name),
                server_if: format!("{}s{k}", client.name),
                client_ip: Ipv4Addr::new(10, 231, k as u8, 1),
                server_ip: Ipv4Addr::new(10, 231, k as u8, 2),
            };
            match config.delay_ms {
                Some(ms) => delays.push(DelayLine::new(
                    (&client, &link.client_if),
                    (&server, &link.server_if),
                    Duration::from_millis(ms.into()),
                )),
                None => {
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
                    if !config.tso {
                        for (ns, dev) in [(&client, &link.client_if), (&server, &link.server_if)] {
                            ns.exec("ethtool", &["-K", dev, "tso", "off"]);
                        }
                    }
                }
            }
            for (ns, dev, ip) in [
                (&client, &link.client_if, link.client_ip),
                (&server, &link.server_if, link.server_ip),
            ] {
                ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", dev]);
                ns.ip(&["link", "set", dev, "up"]);
                if let Some(rate) = config.rate_mbit {
                    // tbf: a token bucket of 32 KB (above rate/HZ at these
                    // rates) and at most 50 ms of queue.
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
            // The client picks the link by source address, the server by
            // destination address (see the type's documentation).
            let (cip, sip) = (link.client_ip.to_string(), link.server_ip.to_string());
            let (table, prio) = ((100 + k).to_string(), (1000 + k).to_string());
            client.ip(&["rule", "add", "from", &cip, "table", &table, "prio", &prio]);
            server.ip(&["rule", "add", "to", &cip, "table", &table, "prio", &prio]);
            if k > 0 {
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
        let bed = Testbed {
            client,
            server,
            paths,
            config,
            _delays: delays,
        };
        for k in 0..bed.paths.len() {
            bed.add_path_routes(k);
        }
        bed
    }

    /// The routes of path `k`'s tables (the kernel drops them when the link
    /// goes down, so [`Testbed::set_path_up`] puts them back).
    fn add_path_routes(&self, k: usize) {
        let link = &self.paths[k];
        let table = (100 + k).to_string();
        for (ns, dev) in [
            (&self.client, &link.client_if),
            (&self.server, &link.server_if),
        ] {
            ns.ip(&[
                "route",
                "replace",
                "10.231.0.0/16",
                "dev",
                dev,
                "table",
                &table,
            ]);
        }
    }

    /// The server's address on path 0, where clients connect.
    pub fn server_ip(&self) -> Ipv4Addr {
        self.paths[0].server_ip
    }

    /// `IP:port` of the server's first address, for a client to connect to.
    pub fn server_addr(&self, port: u16) -> String {
        format!("{}:{port}", self.server_ip())
    }

    /// Takes path `k` down (`ip link set … down` on both of its ends, as a
    /// pulled cable or a dead uplink looks) or brings it back up with its
    /// routes.
    pub fn set_path_up(&self, k: usize, up: bool) {
        let link = &self.paths[k];
        let state = if up { "up" } else { "down" };
        self.client.ip(&["link", "set", &link.client_if, state]);
        self.server.ip(&["link", "set", &link.server_if, state]);
        if up {
            self.add_path_routes(k);
        }
    }

    /// Bytes received so far on the server's end of each path, in path
    /// order (from the server namespace's /proc/net/dev).
    pub fn server_rx_bytes(&self) -> Vec<u64> {
        let dev = parse_net_dev(&self.server.exec("cat", &["/proc/net/dev"]));
        self.paths
            .iter()
            .map(|p| dev.get(&p.server_if).map_or(0, |c| c.rx_bytes))
            .collect()
    }

    /// A few lines for a person: the namespaces, the paths and how to use them.
    pub fn describe(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "client namespace: {}\nserver namespace: {}\n",
            self.client.name, self.server.name
        );
        for (k, p) in self.paths.iter().enumerate() {
            s += &format!(
                "path {k}: {} {} <-> {} {}{}{}\n",
                p.client_if,
                p.client_ip,
                p.server_ip,
                p.server_if,
                c.rate_mbit
                    .map_or(String::new(), |r| format!(", {r} Mbit/s")),
                c.delay_ms
                    .map_or(String::new(), |d| format!(", {d} ms one way")),
            );
        }
        s += &format!(
            "MPTCP: client subflow endpoints on every path but 0{}; limits subflow {n} add_addr_accepted {n}\n",
            if c.server_signal {
                ", server signal endpoints"
            } else {
                ""
            },
            n = self.paths.len()
        );
        s
    }
}

/// One interface's counters from /proc/net/dev.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkBytes {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// Parses /proc/net/dev: interface name → byte counters.
pub fn parse_net_dev(text: &str) -> HashMap<String, LinkBytes> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|v| v.parse().ok())
                .collect::<Option<_>>()?;
            // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes …
            (f.len() >= 9).then(|| {
                (
                    name.trim().to_string(),
                    LinkBytes {
                        rx_bytes: f[0],
                        tx_bytes: f[8],
                    },
                )
            })
        })
        .collect()
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

    #[test]
    fn parses_net_dev() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       2    0    0    0     0          0         0      200       2    0    0    0     0       0          0\nmz1x0s0: 5000 10 0 0 0 0 0 0 7000 12 0 0 0 0 0 0\n";
        let d = parse_net_dev(text);
        assert_eq!(
            d["lo"],
            LinkBytes {
                rx_bytes: 100,
                tx_bytes: 200
            }
        );
        assert_eq!(
            d["mz1x0s0"],
            LinkBytes {
                rx_bytes: 5000,
                tx_bytes: 7000
            }
        );
        assert_eq!(d.len(), 2);
    }
}
