//! `mptcpize-rs check [--json] [PROG]`: is this host ready for MPTCP, and
//! how would `run` reach PROG's sockets?
//!
//! Each item is one line, `ok`, `WARN` (MPTCP works, but less than it
//! could) or `FAIL` (MPTCP cannot be used at all), and each problem carries
//! the command that fixes it. The exit status is 1 when an item failed.
//! `--json` prints the same findings, and the raw values, as one object.

mod host;
mod pm;
mod prog;

use crate::cli::CheckArgs;
use crate::error::{FAILED, SUCCESS};
use crate::policy;
use host::KernelMptcp;
use serde::Serialize;
use std::net::IpAddr;

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

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// The command that fixes the problem.
    pub fix: Option<String>,
}

fn item(name: &str, status: Status, detail: impl Into<String>, fix: Option<String>) -> Item {
    Item {
        name: name.into(),
        status,
        detail: detail.into(),
        fix,
    }
}

/// Everything `check` found, as `--json` prints it.
#[derive(Serialize)]
struct Findings {
    /// False when MPTCP cannot be used at all (an item failed).
    usable: bool,
    items: Vec<Item>,
    kernel: Kernel,
    sysctl: Sysctls,
    limits: Option<pm::Limits>,
    endpoints: Option<Vec<pm::Endpoint>>,
    /// Why the path manager could not be read over netlink.
    netlink_error: Option<String>,
    interfaces: Vec<host::Interface>,
    systemd: Option<Systemd>,
    program: Option<prog::Program>,
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
}

#[derive(Serialize)]
struct Systemd {
    version: u32,
    socket_protocol_mptcp: bool,
}

/// Why `check` could not check.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PROG cannot be found (127) or executed (126).
    #[error(transparent)]
    Prog(#[from] crate::target::Error),
}

pub fn check(args: CheckArgs) -> Result<u8, crate::error::Error> {
    // PROG first: a bad PROG is a usage problem, reported alone.
    let program = args
        .prog
        .as_deref()
        .map(prog::inspect)
        .transpose()
        .map_err(Error::from)?;
    let findings = gather(program);
    // The findings are the product: failing to write them is exit 1.
    crate::say::out(&render(&findings, args.json))?;
    Ok(if findings.usable { SUCCESS } else { FAILED })
}

/// The findings as text, one line per item and a verdict, or as JSON.
fn render(findings: &Findings, json: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(findings).expect("findings serialize");
        out.push('\n');
    } else {
        for it in &findings.items {
            print_item(&mut out, it);
        }
        let problems = findings
            .items
            .iter()
            .filter(|i| matches!(i.status, Status::Warn | Status::Fail))
            .count();
        let _ = writeln!(
            out,
            "{}",
            match (findings.usable, problems) {
                (false, _) =>
                    "MPTCP cannot be used on this host: fix the FAIL lines above".to_string(),
                (true, 0) => "MPTCP is ready".to_string(),
                (true, n) => format!(
                    "MPTCP can be used; {n} warning{} above",
                    if n == 1 { "" } else { "s" }
                ),
            }
        );
    }
    out
}

fn print_item(out: &mut String, it: &Item) {
    use std::fmt::Write;
    let _ = match &it.fix {
        Some(fix) => writeln!(
            out,
            "{:<4} {}: {}; fix: {fix}",
            it.status.label(),
            it.name,
            it.detail
        ),
        None => writeln!(out, "{:<4} {}: {}", it.status.label(), it.name, it.detail),
    };
}

fn gather(program: Option<prog::Program>) -> Findings {
    let mut items = Vec::new();
    let release = host::kernel_release();
    let (mptcp, errno) = host::probe();
    let sysctl = Sysctls {
        enabled: host::sysctl("enabled"),
        path_manager: host::sysctl("path_manager"),
        pm_type: host::sysctl("pm_type"),
        scheduler: host::sysctl("scheduler"),
        available_schedulers: host::sysctl("available_schedulers"),
    };

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
                "Linux {release} makes no MPTCP socket ({}: {})",
                mptcpize_rules::names::Errno(errno.unwrap_or(0)),
                mptcpize_rules::errno::Unavailable::from_errno(errno.unwrap_or(0))
                    .map_or("built without CONFIG_MPTCP, or older than 5.6", |u| u
                        .reason())
            ),
            Some("boot a kernel built with CONFIG_MPTCP=y (Linux 5.6 or later)".into()),
        ),
    });

    // net.mptcp.enabled.
    match sysctl.enabled.as_deref() {
        Some("1") => items.push(item("net.mptcp.enabled", Status::Ok, "1", None)),
        Some(v) => items.push(item(
            "net.mptcp.enabled",
            Status::Fail,
            format!("{v}: MPTCP is disabled in this network namespace, sockets fall back to TCP"),
            Some("sysctl -w net.mptcp.enabled=1".into()),
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
        return Findings {
            usable: false,
            items,
            kernel: Kernel {
                release,
                mptcp,
                errno,
            },
            sysctl,
            limits: None,
            endpoints: None,
            netlink_error: None,
            interfaces: host::interfaces(),
            systemd: None,
            program,
        }
        .finish();
    }

    // Path manager and scheduler.
    let userspace_pm = sysctl.path_manager.as_deref() == Some("userspace")
        || (sysctl.path_manager.is_none() && sysctl.pm_type.as_deref() == Some("1"));
    if userspace_pm {
        let fix = if sysctl.path_manager.is_some() {
            "sysctl -w net.mptcp.path_manager=kernel"
        } else {
            "sysctl -w net.mptcp.pm_type=0"
        };
        items.push(item(
            "path manager",
            Status::Warn,
            "userspace: extra subflows need a daemon (mptcpd) to create them",
            Some(format!("{fix} (or run mptcpd)")),
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

    // Limits and endpoints, over netlink.
    let interfaces = host::interfaces();
    let (limits, endpoints, netlink_error) = match pm::read() {
        Ok(pm) => (Some(pm.limits), Some(pm.endpoints), None),
        Err(e) => (None, None, Some(e)),
    };
    if let Some(e) = &netlink_error {
        items.push(item(
            "path manager state",
            Status::Warn,
            format!("cannot read limits and endpoints from netlink family mptcp_pm: {e}"),
            None,
        ));
    }
    if let (Some(limits), Some(endpoints)) = (limits, &endpoints) {
        if !userspace_pm {
            items.push(limits_item(limits, endpoints));
            items.extend(endpoint_items(endpoints, &interfaces));
        }
    }

    // Paths.
    items.push(paths_item(&interfaces));

    // systemd.
    let systemd = host::systemd_version().map(|version| Systemd {
        version,
        socket_protocol_mptcp: policy::systemd_has_socket_protocol_mptcp(version),
    });
    items.push(match &systemd {
        Some(s) if s.socket_protocol_mptcp => item(
            "systemd",
            Status::Ok,
            format!("{}: socket units can say SocketProtocol=mptcp", s.version),
            None,
        ),
        Some(s) => item(
            "systemd",
            Status::Info,
            format!(
                "{}: socket units cannot say SocketProtocol=mptcp (needs {}); services get MPTCP with `mptcpize-rs enable UNIT`",
                s.version,
                policy::SYSTEMD_SOCKET_PROTOCOL_MPTCP
            ),
            None,
        ),
        None => item("systemd", Status::Info, "not found (systemctl)", None),
    });

    if let Some(p) = &program {
        items.extend(p.items());
    }

    Findings {
        usable: true,
        items,
        kernel: Kernel {
            release,
            mptcp,
            errno,
        },
        sysctl,
        limits,
        endpoints,
        netlink_error,
        interfaces,
        systemd,
        program,
    }
    .finish()
}

impl Findings {
    fn finish(mut self) -> Findings {
        self.usable = !self.items.iter().any(|i| i.status == Status::Fail);
        self
    }
}

fn limits_item(limits: pm::Limits, endpoints: &[pm::Endpoint]) -> Item {
    let detail = format!(
        "subflows {}, add_addr_accepted {}",
        limits.subflows, limits.add_addr_accepted
    );
    let subflow_eps = endpoints.iter().filter(|e| e.has_flag("subflow")).count() as u32;
    let want_subflows = limits.subflows.max(subflow_eps).max(2);
    let want_accepted = limits.add_addr_accepted.max(2);
    let fix = Some(format!(
        "ip mptcp limits set subflow {want_subflows} add_addr_accepted {want_accepted}"
    ));
    if limits.subflows == 0 {
        item(
            "limits",
            Status::Warn,
            format!("{detail}: no connection may open a second subflow"),
            fix,
        )
    } else if limits.subflows < subflow_eps {
        item(
            "limits",
            Status::Warn,
            format!("{detail}: fewer than the {subflow_eps} subflow endpoints"),
            fix,
        )
    } else if limits.add_addr_accepted == 0 {
        item(
            "limits",
            Status::Warn,
            format!("{detail}: addresses the peer announces (ADD_ADDR) are ignored"),
            fix,
        )
    } else {
        item("limits", Status::Ok, detail, None)
    }
}

fn endpoint_items(endpoints: &[pm::Endpoint], interfaces: &[host::Interface]) -> Vec<Item> {
    let mut items: Vec<Item> = endpoints
        .iter()
        .map(|e| {
            let mut detail = format!("id {}", e.id);
            if let Some(a) = e.address {
                detail.push_str(&format!(" {a}"));
            }
            if let Some(p) = e.port {
                detail.push_str(&format!(" port {p}"));
            }
            if let Some(d) = &e.dev {
                detail.push_str(&format!(" dev {d}"));
            }
            let flags = if e.flags.is_empty() {
                "no flags".to_string()
            } else {
                e.flags.join(" ")
            };
            item("endpoint", Status::Ok, format!("{detail}: {flags}"), None)
        })
        .collect();
    let useful = endpoints
        .iter()
        .any(|e| e.has_flag("subflow") || e.has_flag("signal") || e.has_flag("fullmesh"));
    if !useful {
        items.push(item(
            "endpoints",
            Status::Warn,
            if endpoints.is_empty() {
                "none: connections keep to the path they start on".to_string()
            } else {
                "none with subflow, signal or fullmesh: connections keep to one path".to_string()
            },
            Some(endpoint_fix(endpoints, interfaces)),
        ));
    }
    items
}

/// `ip mptcp endpoint add ADDR dev IF subflow` for an address that is not
/// yet an endpoint, on an interface other than the default route's (the
/// initial subflow already leaves through that one); with no such address,
/// the command with ADDR and IF to fill in.
fn endpoint_fix(endpoints: &[pm::Endpoint], interfaces: &[host::Interface]) -> String {
    let default_if = host::default_route_interface();
    let taken: Vec<IpAddr> = endpoints.iter().filter_map(|e| e.address).collect();
    let candidates: Vec<(&str, IpAddr)> = interfaces
        .iter()
        .filter(|i| Some(&i.name) != default_if.as_ref())
        .flat_map(|i| i.addresses.iter().map(move |a| (i.name.as_str(), *a)))
        .filter(|(_, a)| !taken.contains(a))
        .collect();
    match candidates.first() {
        Some((name, addr)) => format!("ip mptcp endpoint add {addr} dev {name} subflow"),
        None => "ip mptcp endpoint add ADDR dev IF subflow".to_string(),
    }
}

fn paths_item(interfaces: &[host::Interface]) -> Item {
    let list = interfaces
        .iter()
        .map(|i| {
            let addrs: Vec<String> = i.addresses.iter().map(IpAddr::to_string).collect();
            format!("{} ({})", i.name, addrs.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    match interfaces.len() {
        0 => item(
            "paths",
            Status::Warn,
            "no interface besides loopback is up with an address",
            None,
        ),
        1 => item(
            "paths",
            Status::Warn,
            format!("one interface up with an address, {list}: MPTCP works over a single path (more when the peer announces addresses)"),
            None,
        ),
        n => item(
            "paths",
            Status::Ok,
            format!("{n} interfaces up with addresses: {list}"),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: u8, addr: &str, flags: &[&str]) -> pm::Endpoint {
        pm::Endpoint {
            id,
            address: Some(addr.parse().unwrap()),
            port: None,
            dev: Some("eth1".into()),
            flags: flags.iter().map(|f| f.to_string()).collect(),
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
        let eps = [endpoint(1, "10.0.1.1", &["subflow"])];
        let ok = limits_item(limits(2, 2), &eps);
        assert_eq!((ok.status, ok.fix), (Status::Ok, None));

        let none = limits_item(limits(0, 0), &eps);
        assert_eq!(none.status, Status::Warn);
        assert_eq!(
            none.fix.as_deref(),
            Some("ip mptcp limits set subflow 2 add_addr_accepted 2")
        );

        let three = [
            endpoint(1, "10.0.1.1", &["subflow"]),
            endpoint(2, "10.0.2.1", &["subflow", "backup"]),
            endpoint(3, "10.0.3.1", &["subflow"]),
        ];
        let few = limits_item(limits(1, 8), &three);
        assert_eq!(few.status, Status::Warn);
        assert!(
            few.detail.contains("fewer than the 3 subflow endpoints"),
            "{}",
            few.detail
        );
        assert_eq!(
            few.fix.as_deref(),
            Some("ip mptcp limits set subflow 3 add_addr_accepted 8")
        );

        let deaf = limits_item(limits(4, 0), &eps);
        assert_eq!(deaf.status, Status::Warn);
        assert!(deaf.detail.contains("ADD_ADDR"), "{}", deaf.detail);
    }

    #[test]
    fn endpoints_without_useful_flags_warn() {
        let ifs = [host::Interface {
            name: "mzx1".into(),
            addresses: vec!["10.9.1.1".parse().unwrap()],
        }];
        let items = endpoint_items(&[endpoint(1, "10.0.1.1", &["backup"])], &ifs);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].detail, "id 1 10.0.1.1 dev eth1: backup");
        assert_eq!(items[1].status, Status::Warn);
        assert_eq!(
            items[1].fix.as_deref(),
            Some("ip mptcp endpoint add 10.9.1.1 dev mzx1 subflow")
        );
        let fine = endpoint_items(&[endpoint(1, "10.0.1.1", &["signal"])], &ifs);
        assert_eq!(fine.len(), 1);
        assert_eq!(fine[0].status, Status::Ok);
    }

    #[test]
    fn one_path_is_a_warning_two_are_fine() {
        let one = [host::Interface {
            name: "a".into(),
            addresses: vec!["10.0.0.1".parse().unwrap()],
        }];
        assert_eq!(paths_item(&one).status, Status::Warn);
        assert_eq!(paths_item(&[]).status, Status::Warn);
        let two = [
            one[0].clone(),
            host::Interface {
                name: "b".into(),
                addresses: vec!["10.0.1.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            },
        ];
        let item = paths_item(&two);
        assert_eq!(item.status, Status::Ok);
        assert_eq!(
            item.detail,
            "2 interfaces up with addresses: a (10.0.0.1), b (10.0.1.1, 2001:db8::1)"
        );
    }
}
