//! `mptcpize-rs check [--role R] [--peer HOST:PORT] [--fix [--dry-run]]
//! [--json] [PROG]`: is this host ready for MPTCP, path by path, and how
//! would `run` reach PROG's sockets?
//!
//! Each item is one line, `ok`, `info`, `WARN` (MPTCP works, but less than
//! it could) or `FAIL` (MPTCP cannot be used at all), and each problem
//! carries the commands that fix it. The exit status is 1 when an item
//! failed. `--json` prints the same findings, and the raw values, as one
//! object (its keys are documented in the README).
//!
//! The order: the kernel and its sysctls ([`host`]), the path manager and
//! the network over netlink ([`netlink`], [`pm`]), the paths one by one
//! ([`paths`]), systemd, PROG ([`prog`]); then `--peer`'s live connection
//! ([`peer`]) and `--fix` ([`fix`]).

mod fix;
mod host;
mod netlink;
mod paths;
mod peer;
mod persist;
mod pm;
mod prog;

use crate::cli::{CheckArgs, CheckRole as Role};
use crate::error::{FAILED, SUCCESS};
use crate::policy;
use fix::{Command, Fix};
use host::KernelMptcp;
use serde::Serialize;
use std::net::{SocketAddr, ToSocketAddrs};

/// How an item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Worth knowing, not a problem.
    Info,
    /// MPTCP works, but not as well as it could.
    Warn,
    /// MPTCP cannot be used.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report: one finding, or one problem with its fix.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// The commands that fix the problem, as one shell line (`a && b`).
    pub fix: Option<String>,
    /// The same commands, one argument vector each.
    pub commands: Vec<Command>,
}

fn item(name: &str, status: Status, detail: impl Into<String>, fix: Option<Fix>) -> Item {
    Item {
        name: name.into(),
        status,
        detail: detail.into(),
        fix: fix.as_ref().map(Fix::to_string),
        commands: fix.map(|f| f.commands).unwrap_or_default(),
    }
}

fn sysctl_fix(setting: &str) -> Option<Fix> {
    Some(Fix::one(Command::new(["sysctl", "-w", setting])))
}

/// Everything `check` found, as `--json` prints it.
#[derive(Serialize)]
struct Findings {
    /// False when MPTCP cannot be used at all (an item failed).
    usable: bool,
    /// True when nothing stands in the way of extra subflows (no WARN).
    ready: bool,
    role: &'static str,
    peer: Option<String>,
    items: Vec<Item>,
    paths: Vec<paths::Path>,
    kernel: Kernel,
    sysctl: Sysctls,
    limits: Option<pm::Limits>,
    endpoints: Option<Vec<pm::Endpoint>>,
    /// Why the path manager or the routing state could not be read.
    netlink_error: Option<String>,
    interfaces: Vec<paths::Interface>,
    rules: Vec<netlink::Rule>,
    systemd: Option<Systemd>,
    program: Option<prog::Program>,
    /// What `--peer`'s connection saw.
    connection: Option<peer::Report>,
    /// What `--fix` ran (or would run, with `--dry-run`).
    fixes: Option<Vec<Applied>>,
    /// How the configuration survives a reboot (with `--fix`, `--persist`).
    persist: Option<persist::Plan>,
    #[serde(skip)]
    state: Option<netlink::State>,
    #[serde(skip)]
    pm: Option<pm::PathManager>,
}

#[derive(Serialize)]
struct Kernel {
    release: String,
    mptcp: KernelMptcp,
    errno: Option<i32>,
}

#[derive(Serialize)]
struct Sysctls {
    enabled: Option<String>,
    /// `kernel` or `userspace` (Linux 6.15+).
    path_manager: Option<String>,
    /// 0 (in-kernel) or 1 (userspace): the older name.
    pm_type: Option<String>,
    scheduler: Option<String>,
    available_schedulers: Option<String>,
    blackhole_timeout: Option<String>,
    allow_join_initial_addr_port: Option<String>,
    checksum_enabled: Option<String>,
}

#[derive(Serialize)]
struct Systemd {
    version: u32,
    running: bool,
    socket_protocol_mptcp: bool,
}

/// One command `--fix` ran.
#[derive(Serialize)]
struct Applied {
    command: Command,
    /// `ran`, `failed`, `dry_run`.
    result: &'static str,
    error: Option<String>,
}

/// Why `check` could not check.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PROG cannot be found (127) or executed (126).
    #[error(transparent)]
    Prog(#[from] crate::target::Error),
    /// `--peer` or `--wait` make no sense (exit 2, as clap's usage errors).
    #[error("{0}")]
    Usage(String),
}

pub fn check(args: CheckArgs) -> Result<u8, crate::error::Error> {
    // PROG and --peer first: bad input is a usage problem, reported alone.
    let program = args
        .prog
        .as_deref()
        .map(prog::inspect)
        .transpose()
        .map_err(Error::from)?;
    let peer = args.peer.as_deref().map(resolve).transpose()?;
    if !(args.wait.is_finite() && (0.0..=60.0).contains(&args.wait)) {
        return Err(
            Error::Usage(format!("--wait {}: give seconds from 0 to 60", args.wait)).into(),
        );
    }
    let mut findings = gather(args.role, peer, program.clone());
    let mut code = if findings.usable { SUCCESS } else { FAILED };

    if args.fix {
        let commands: Vec<Command> = findings
            .items
            .iter()
            .filter(|i| matches!(i.status, Status::Warn | Status::Fail))
            .flat_map(|i| i.commands.iter().cloned())
            .collect();
        let mut applied = Vec::new();
        for c in &commands {
            if args.dry_run {
                if !args.json {
                    say(format!("would run: {c}\n"))?;
                }
                applied.push(Applied {
                    command: c.clone(),
                    result: "dry_run",
                    error: None,
                });
                continue;
            }
            if !args.json {
                say(format!("run: {c}\n"))?;
            }
            let result = c.run();
            if let Err(e) = &result {
                if !args.json {
                    say(format!("FAIL {c}: {e}\n"))?;
                }
                code = FAILED;
            }
            applied.push(Applied {
                command: c.clone(),
                result: if result.is_ok() { "ran" } else { "failed" },
                error: result.err(),
            });
        }
        if !args.json && commands.is_empty() {
            say("nothing to fix\n".into())?;
        }
        if !args.dry_run && !commands.is_empty() {
            // What the host looks like now.
            findings = gather(args.role, peer, program);
            if !findings.usable {
                code = FAILED;
            }
        }
        findings.fixes = Some(applied);
    }

    if (args.fix && !args.dry_run) || args.persist {
        if let Some(state) = &findings.state {
            let plan = persist::plan(
                state,
                findings.pm.as_ref(),
                &findings.paths,
                &host::networkmanager_connection,
            );
            if args.persist {
                let (lines, ok) = plan.apply();
                if !args.json {
                    for (status, line) in lines {
                        say(format!("{:<4} persist: {line}\n", status.label()))?;
                    }
                }
                if !ok {
                    code = FAILED;
                }
            } else if !args.json {
                say(plan.describe())?;
            }
            findings.persist = Some(plan);
        }
    }

    if let Some(peer) = peer {
        let wait = std::time::Duration::from_secs_f64(args.wait);
        let report = match netlink::Netlink::open() {
            Ok(nl) => peer::test(&nl, peer, &findings.paths, wait),
            Err(e) => peer::Report::failed(peer, format!("netlink: {e}")),
        };
        findings.items.extend(report.items());
        if !report.connected {
            code = FAILED;
        }
        findings.connection = Some(report);
        findings.ready &= !findings.items.iter().any(|i| i.status == Status::Warn);
    }

    if args.json {
        let text = serde_json::to_string_pretty(&findings).expect("findings serialize");
        say(format!("{text}\n"))?;
    } else {
        for it in &findings.items {
            say(line_of(it))?;
        }
        let problems = findings
            .items
            .iter()
            .filter(|i| matches!(i.status, Status::Warn | Status::Fail))
            .count();
        say(format!("{}\n", summary(&findings, problems)))?;
    }
    Ok(code)
}

fn summary(f: &Findings, problems: usize) -> String {
    let s = if problems == 1 { "" } else { "s" };
    if !f.usable {
        "MPTCP cannot be used on this host: fix the FAIL lines above".into()
    } else if problems > 0 {
        format!("MPTCP works, but not every path will carry a subflow: {problems} problem{s} above")
    } else {
        let extra = f.paths.iter().filter(|p| p.kind == "extra").count();
        let any = f.paths.iter().filter(|p| p.kind == "any").count();
        let s = |n: usize| if n == 1 { "" } else { "s" };
        match (extra, any) {
            (0, 0) | (0, 1) => "MPTCP is ready (one path here)".into(),
            (0, n) => {
                format!("MPTCP is ready for multipath: {n} addresses, each with its endpoint")
            }
            (n, _) => format!(
                "MPTCP is ready for multipath: {n} path{} besides the initial one",
                s(n)
            ),
        }
    }
}

/// `HOST:PORT` (or `[V6]:PORT`) to one address.
fn resolve(peer: &str) -> Result<SocketAddr, Error> {
    let usage = |why: String| Error::Usage(format!("--peer {peer}: {why}"));
    let mut addrs = peer
        .to_socket_addrs()
        .map_err(|e| usage(format!("{e} (give HOST:PORT, [IPv6]:PORT)")))?;
    addrs
        .next()
        .ok_or_else(|| usage("the name has no address".into()))
}

/// One item as its line: `STATUS name: detail[; fix: COMMANDS]`.
fn line_of(it: &Item) -> String {
    match &it.fix {
        Some(fix) => format!(
            "{:<4} {}: {}; fix: {fix}\n",
            it.status.label(),
            it.name,
            it.detail
        ),
        None => format!("{:<4} {}: {}\n", it.status.label(), it.name, it.detail),
    }
}

/// Writes on stdout, where the findings are the product (a write error
/// ends `check` with exit 1, see [`crate::say::out`]).
fn say(text: String) -> Result<(), crate::error::Error> {
    crate::say::out(&text)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
        Role::Both => "both",
    }
}

fn gather(role: Role, peer: Option<SocketAddr>, program: Option<prog::Program>) -> Findings {
    let mut items = Vec::new();
    let release = host::kernel_release();
    let (mptcp, errno) = host::probe();
    let read = |name: &str| host::sysctl(name);
    let sysctl = Sysctls {
        enabled: read("enabled"),
        path_manager: read("path_manager"),
        pm_type: read("pm_type"),
        scheduler: read("scheduler"),
        available_schedulers: read("available_schedulers"),
        blackhole_timeout: read("blackhole_timeout"),
        allow_join_initial_addr_port: read("allow_join_initial_addr_port"),
        checksum_enabled: read("checksum_enabled"),
    };
    let mut findings = Findings {
        usable: true,
        ready: true,
        role: role_name(role),
        peer: peer.map(|p| p.to_string()),
        items: Vec::new(),
        paths: Vec::new(),
        kernel: Kernel {
            release: release.clone(),
            mptcp,
            errno,
        },
        sysctl,
        limits: None,
        endpoints: None,
        netlink_error: None,
        interfaces: Vec::new(),
        rules: Vec::new(),
        systemd: None,
        program,
        connection: None,
        fixes: None,
        persist: None,
        state: None,
        pm: None,
    };
    let sysctl = &findings.sysctl;

    // The kernel.
    items.push(match mptcp {
        KernelMptcp::Works | KernelMptcp::Disabled => item(
            "kernel",
            Status::Ok,
            format!("Linux {release} has MPTCP"),
            None,
        ),
        KernelMptcp::Missing => item(
            "kernel",
            Status::Fail,
            format!(
                "Linux {release} makes no MPTCP socket ({}: {}); boot a kernel built with CONFIG_MPTCP=y (Linux 5.6 or later)",
                mptcpize_rules::names::Errno(errno.unwrap_or(0)),
                mptcpize_rules::errno::Unavailable::from_errno(errno.unwrap_or(0))
                    .map_or("built without CONFIG_MPTCP, or older than 5.6", |u| u.reason())
            ),
            None,
        ),
    });

    // net.mptcp.enabled.
    match sysctl.enabled.as_deref() {
        Some("1") => items.push(item("net.mptcp.enabled", Status::Ok, "1", None)),
        Some(v) => items.push(item(
            "net.mptcp.enabled",
            Status::Fail,
            format!("{v}: MPTCP is disabled in this network namespace, sockets fall back to TCP"),
            sysctl_fix("net.mptcp.enabled=1"),
        )),
        None if mptcp == KernelMptcp::Missing => {}
        None => items.push(item(
            "net.mptcp.enabled",
            Status::Warn,
            "/proc/sys/net/mptcp/enabled cannot be read",
            None,
        )),
    }
    if mptcp == KernelMptcp::Missing {
        findings.items = items;
        return findings.finish();
    }

    // Path manager and scheduler.
    let userspace_pm = sysctl.path_manager.as_deref() == Some("userspace")
        || (sysctl.path_manager.is_none() && sysctl.pm_type.as_deref() == Some("1"));
    if userspace_pm {
        items.push(item(
            "path manager",
            Status::Warn,
            "userspace: extra subflows need a daemon (mptcpd) to create them; run one, or switch to the in-kernel path manager",
            if sysctl.path_manager.is_some() {
                sysctl_fix("net.mptcp.path_manager=kernel")
            } else {
                sysctl_fix("net.mptcp.pm_type=0")
            },
        ));
    } else {
        items.push(item(
            "path manager",
            Status::Ok,
            "in-kernel (limits and endpoints below apply)",
            None,
        ));
    }
    if let Some(sched) = &sysctl.scheduler {
        let available = sysctl.available_schedulers.as_deref().unwrap_or("?");
        items.push(item(
            "scheduler",
            Status::Ok,
            format!("{sched} (available: {available})"),
            None,
        ));
    }
    items.extend(other_sysctls(sysctl));

    // The network and the path manager, over netlink.
    let nl = match netlink::Netlink::open() {
        Ok(nl) => nl,
        Err(e) => {
            findings.netlink_error = Some(format!("netlink: {e}"));
            items.push(item(
                "netlink",
                Status::Warn,
                format!("cannot open netlink sockets: {e}; paths not judged"),
                None,
            ));
            findings.items = items;
            return findings.finish();
        }
    };
    let state = match nl.state() {
        Ok(s) => s,
        Err(e) => {
            items.push(item(
                "netlink",
                Status::Warn,
                format!("{e}; paths not judged"),
                None,
            ));
            findings.netlink_error = Some(e);
            findings.items = items;
            return findings.finish();
        }
    };
    let pm = match nl.path_manager() {
        Ok(mut pm) => {
            for ep in &mut pm.endpoints {
                if let Some(link) = state.links.iter().find(|l| Some(l.index) == ep.ifindex) {
                    ep.dev = Some(link.name.clone());
                }
            }
            Some(pm)
        }
        Err(e) => {
            items.push(item(
                "path manager state",
                Status::Warn,
                format!("cannot read limits and endpoints from netlink family mptcp_pm: {e}"),
                None,
            ));
            findings.netlink_error = Some(e);
            None
        }
    };
    let analysis = paths::analyse(&nl, &state, pm.as_ref(), role, peer.map(|p| p.ip()));
    if let Some(pm) = &pm {
        if !userspace_pm {
            items.push(limits_item(pm.limits, &analysis, role));
        }
    }
    if let Some(item) = join_initial_item(&findings.sysctl, role, analysis.has_signal_endpoint) {
        items.push(item);
    }
    items.extend(analysis.items);
    findings.paths = analysis.paths;
    findings.interfaces = paths::interfaces(&state);
    findings.rules = state.rules.clone();
    findings.limits = pm.as_ref().map(|p| p.limits);
    findings.endpoints = pm.as_ref().map(|p| p.endpoints.clone());
    findings.state = Some(state);
    findings.pm = pm;

    // systemd.
    findings.systemd = host::systemd().map(|s| Systemd {
        version: s.version,
        running: s.running,
        socket_protocol_mptcp: policy::systemd_has_socket_protocol_mptcp(s.version),
    });
    items.push(match &findings.systemd {
        None => item("systemd", Status::Info, "not installed (no systemctl)", None),
        Some(s) if !s.running => item(
            "systemd",
            Status::Info,
            format!("{} installed, not running (not the init system here): `mptcpize-rs enable` needs a running systemd, or --root for an image", s.version),
            None,
        ),
        Some(s) if s.socket_protocol_mptcp => item(
            "systemd",
            Status::Ok,
            format!("running {}: socket units can say SocketProtocol=mptcp", s.version),
            None,
        ),
        Some(s) => item(
            "systemd",
            Status::Info,
            format!(
                "running {}: socket units cannot say SocketProtocol=mptcp (needs {}); services get MPTCP with `mptcpize-rs enable UNIT`",
                s.version,
                policy::SYSTEMD_SOCKET_PROTOCOL_MPTCP
            ),
            None,
        ),
    });

    if let Some(p) = &findings.program {
        items.extend(p.items());
    }
    findings.items = items;
    findings.finish()
}

impl Findings {
    fn finish(mut self) -> Findings {
        self.usable = !self.items.iter().any(|i| i.status == Status::Fail);
        self.ready = self.usable && !self.items.iter().any(|i| i.status == Status::Warn);
        self
    }
}

/// Blackhole detection and checksums.
fn other_sysctls(s: &Sysctls) -> Vec<Item> {
    let mut items = Vec::new();
    let counters = host::counters();
    let blackholes = counters.get("MPTcpExtBlackhole").copied().unwrap_or(0);
    let disabled = counters
        .get("MPTcpExtMPCapableSYNTXDisabled")
        .copied()
        .unwrap_or(0);
    if let Some(timeout) = &s.blackhole_timeout {
        let timeout_words = if timeout == "0" {
            "0 (detection off)".to_string()
        } else {
            format!("{timeout} s, doubling with each new detection")
        };
        items.push(if blackholes > 0 {
            item(
                "blackhole",
                Status::Info,
                format!(
                    "the kernel found {blackholes} MPTCP blackhole{} since boot (a path dropping MPTCP's options): after each it opens new connections as plain TCP for blackhole_timeout ({timeout_words}); {disabled} SYN{} went out without MPTCP so far; `check --peer HOST:PORT` shows whether it still does",
                    if blackholes == 1 { "" } else { "s" },
                    if disabled == 1 { "" } else { "s" }
                ),
                None,
            )
        } else {
            item(
                "blackhole",
                Status::Ok,
                format!("none detected (blackhole_timeout {timeout_words})"),
                None,
            )
        })
    }
    if let Some(v) = &s.checksum_enabled {
        items.push(item(
            "checksum_enabled",
            Status::Info,
            if v == "0" {
                "0: no DSS checksums (the default; turn on only across middleboxes that rewrite payloads)".to_string()
            } else {
                format!("{v}: DSS checksums asked for (costs CPU; the peer's setting counts too)")
            },
            None,
        ));
    }
    items
}

/// `allow_join_initial_addr_port`, for a server.
fn join_initial_item(s: &Sysctls, role: Role, signals: bool) -> Option<Item> {
    let v = s.allow_join_initial_addr_port.as_deref()?;
    Some(match (role, v) {
        (Role::Client, _) => return None,
        (_, "0") if signals => item(
            "allow_join_initial_addr_port",
            Status::Info,
            "0: as a server, this host refuses subflows to the address a client connected to; clients add paths to the addresses its signal endpoints announce",
            None,
        ),
        (_, "0") => item(
            "allow_join_initial_addr_port",
            Status::Warn,
            "0: as a server, this host refuses subflows to the address a client connected to, and announces no other (no signal endpoint): clients cannot add a path",
            sysctl_fix("net.mptcp.allow_join_initial_addr_port=1"),
        ),
        (_, v) => item(
            "allow_join_initial_addr_port",
            Status::Ok,
            format!("{v}: clients may open subflows to the address they connected to"),
            None,
        ),
    })
}

fn limits_item(limits: pm::Limits, a: &paths::Analysis, role: Role) -> Item {
    let detail = format!(
        "subflows {}, add_addr_accepted {}",
        limits.subflows, limits.add_addr_accepted
    );
    let client = role != Role::Server;
    let want_subflows = limits.subflows.max(a.planned_subflow_endpoints).max(2);
    let want_accepted = if client {
        limits.add_addr_accepted.max(2)
    } else {
        limits.add_addr_accepted
    };
    let fix = || {
        Some(Fix::one(Command::new([
            "ip".to_string(),
            "mptcp".into(),
            "limits".into(),
            "set".into(),
            "subflow".into(),
            want_subflows.to_string(),
            "add_addr_accepted".into(),
            want_accepted.to_string(),
        ])))
    };
    if limits.subflows == 0 {
        item(
            "limits",
            Status::Warn,
            format!("{detail}: no connection may open (or, as a server, accept) a second subflow"),
            fix(),
        )
    } else if client && limits.subflows < a.planned_subflow_endpoints {
        item(
            "limits",
            Status::Warn,
            format!(
                "{detail}: fewer than the {} subflow endpoints",
                a.planned_subflow_endpoints
            ),
            fix(),
        )
    } else if client && limits.add_addr_accepted == 0 && !a.multihomed {
        item(
            "limits",
            Status::Warn,
            format!("{detail}: with one path here, the addresses a server announces (ADD_ADDR) are the only way to a second subflow, and they are ignored"),
            fix(),
        )
    } else if client && limits.add_addr_accepted == 0 {
        item(
            "limits",
            Status::Info,
            format!("{detail}: addresses a server announces (ADD_ADDR) are ignored; this host's own paths still work"),
            None,
        )
    } else {
        item("limits", Status::Ok, detail, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(planned: u32, multihomed: bool) -> paths::Analysis {
        paths::Analysis {
            paths: Vec::new(),
            items: Vec::new(),
            planned_subflow_endpoints: planned,
            multihomed,
            has_signal_endpoint: false,
        }
    }

    fn limits(subflows: u32, add_addr_accepted: u32) -> pm::Limits {
        pm::Limits {
            subflows,
            add_addr_accepted,
        }
    }

    #[test]
    fn limits_warn_with_a_fix_that_keeps_what_is_already_higher() {
        let ok = limits_item(limits(2, 2), &analysis(1, true), Role::Client);
        assert_eq!((ok.status, ok.fix), (Status::Ok, None));

        let none = limits_item(limits(0, 0), &analysis(1, true), Role::Both);
        assert_eq!(none.status, Status::Warn);
        assert_eq!(
            none.fix.as_deref(),
            Some("ip mptcp limits set subflow 2 add_addr_accepted 2")
        );
        assert_eq!(
            none.commands,
            vec![Command::new([
                "ip",
                "mptcp",
                "limits",
                "set",
                "subflow",
                "2",
                "add_addr_accepted",
                "2"
            ])]
        );

        let few = limits_item(limits(1, 8), &analysis(3, true), Role::Client);
        assert_eq!(few.status, Status::Warn);
        assert!(few.detail.contains("fewer than the 3 subflow endpoints"));
        assert_eq!(
            few.fix.as_deref(),
            Some("ip mptcp limits set subflow 3 add_addr_accepted 8")
        );

        // ADD_ADDR ignored: the only way to a second path for a
        // single-homed client, a detail for a multi-homed one, nothing a
        // server needs (its fix leaves add_addr_accepted alone).
        let deaf = limits_item(limits(4, 0), &analysis(0, false), Role::Client);
        assert_eq!(deaf.status, Status::Warn);
        assert!(deaf.detail.contains("ADD_ADDR"), "{}", deaf.detail);
        let multi = limits_item(limits(4, 0), &analysis(1, true), Role::Client);
        assert_eq!((multi.status, multi.fix), (Status::Info, None));
        let server = limits_item(limits(4, 0), &analysis(0, false), Role::Server);
        assert_eq!(server.status, Status::Ok);
        let closed = limits_item(limits(0, 0), &analysis(0, false), Role::Server);
        assert_eq!(
            closed.fix.as_deref(),
            Some("ip mptcp limits set subflow 2 add_addr_accepted 0")
        );
    }

    #[test]
    fn joins_to_the_initial_address_matter_to_servers_without_signal_endpoints() {
        let s = |v: &str| Sysctls {
            enabled: None,
            path_manager: None,
            pm_type: None,
            scheduler: None,
            available_schedulers: None,
            blackhole_timeout: None,
            allow_join_initial_addr_port: Some(v.into()),
            checksum_enabled: None,
        };
        assert!(join_initial_item(&s("0"), Role::Client, false).is_none());
        let warn = join_initial_item(&s("0"), Role::Both, false).unwrap();
        assert_eq!(warn.status, Status::Warn);
        assert_eq!(
            warn.fix.as_deref(),
            Some("sysctl -w net.mptcp.allow_join_initial_addr_port=1")
        );
        let info = join_initial_item(&s("0"), Role::Server, true).unwrap();
        assert_eq!((info.status, info.fix), (Status::Info, None));
        let ok = join_initial_item(&s("1"), Role::Server, false).unwrap();
        assert_eq!(ok.status, Status::Ok);
    }
}
