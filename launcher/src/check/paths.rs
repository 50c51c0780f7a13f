//! Per path, not per count: for every usable interface address, is it the
//! address connections start from, or one that could carry an extra
//! subflow; does it have the endpoint its role needs; would a packet from
//! it, leaving by its interface, be routed (the kernel's own lookup, with
//! that source and output interface); and does strict `rp_filter` drop
//! what comes back. Each problem carries the commands that fix it.

use super::fix::{Command, Fix};
use super::netlink::{Lookup, Netlink, Route, Rule, State};
use super::pm::{self, Endpoint, PathManager};
use super::{host, item, Item, Role, Status};
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where "the default destination" is, for lookups when no `--peer` is given:
/// public addresses that only a default route covers.
const DEFAULT_V4: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 1);
const DEFAULT_V6: Ipv6Addr = Ipv6Addr::new(0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111);

/// The routing tables the kernel reserves (`local`, `main`, `default`, `unspec`).
const RESERVED_TABLES: [u32; 4] = [0, 253, 254, 255];
/// Free tables for the policy-routing fix are chosen from here up.
const FIRST_FREE_TABLE: u32 = 100;

/// One address of a usable interface, as a path.
#[derive(Clone, Debug, Serialize)]
pub struct Path {
    pub interface: String,
    pub address: IpAddr,
    /// `initial` (connections start from it), `extra` (could carry a
    /// subflow), or `any` (no default route and no `--peer`: it depends on
    /// where a connection goes).
    pub kind: &'static str,
    /// The destination the route lookups asked about.
    pub destination: Option<IpAddr>,
    pub endpoint: Option<Endpoint>,
    /// The kernel's answer for a packet from `address` leaving by `interface`.
    pub route: Option<Lookup>,
    /// The kernel's answer for a packet from `address` with no interface
    /// forced: where replies and unbound sockets go.
    pub route_by_source: Option<Lookup>,
    /// The policy rules that select on this source address.
    pub rules: Vec<Rule>,
    /// Effective `rp_filter` of the interface (IPv4): 0 off, 1 strict, 2 loose.
    pub rp_filter: Option<u8>,
    /// `ok`, `info`, `warn`.
    pub status: Status,
    /// The names of the report items about this path.
    pub problems: Vec<String>,
}

/// What the path analysis found.
pub struct Analysis {
    pub paths: Vec<Path>,
    pub items: Vec<Item>,
    /// How many subflow endpoints there will be once the fixes are in.
    pub planned_subflow_endpoints: u32,
    /// A path besides the initial one exists (or the peer announces some).
    pub multihomed: bool,
    pub has_signal_endpoint: bool,
}

/// An interface that is up, not loopback, with addresses a path could use.
#[derive(Clone, Debug, Serialize)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub addresses: Vec<IpAddr>,
}

/// The interfaces that are up and running, not loopback, with an IPv4
/// address or a global IPv6 address.
pub fn interfaces(state: &State) -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    for link in state.links.iter().filter(|l| l.up && !l.loopback) {
        let addresses: Vec<IpAddr> = state
            .addresses
            .iter()
            .filter(|a| a.index == link.index && usable(a.address))
            .map(|a| a.address)
            .collect();
        if !addresses.is_empty() {
            out.push(Interface {
                name: link.name.clone(),
                index: link.index,
                addresses,
            });
        }
    }
    out
}

/// Addresses that route beyond their link.
fn usable(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && v6.segments()[0] & 0xffc0 != 0xfe80
        }
    }
}

struct Ctx<'a> {
    nl: &'a Netlink,
    state: &'a State,
    endpoints: &'a [Endpoint],
    role: Role,
    /// Tables already promised to a fix in this run.
    taken_tables: BTreeSet<u32>,
}

/// Judges every path; `peer` is the `--peer` address when given.
pub fn analyse(
    nl: &Netlink,
    state: &State,
    pm: Option<&PathManager>,
    role: Role,
    peer: Option<IpAddr>,
) -> Analysis {
    let interfaces = interfaces(state);
    let endpoints: &[Endpoint] = pm.map_or(&[], |p| &p.endpoints);
    let mut ctx = Ctx {
        nl,
        state,
        endpoints,
        role,
        taken_tables: BTreeSet::new(),
    };
    let mut paths = Vec::new();
    let mut items = Vec::new();
    let mut multihomed = false;
    for v6 in [false, true] {
        let addrs: Vec<(&Interface, IpAddr)> = interfaces
            .iter()
            .flat_map(|i| i.addresses.iter().map(move |a| (i, *a)))
            .filter(|(_, a)| a.is_ipv6() == v6)
            .collect();
        if addrs.is_empty() {
            continue;
        }
        let family = if v6 { "IPv6" } else { "IPv4" };
        let peer_here = peer.filter(|p| p.is_ipv6() == v6);
        if peer.is_some() && peer_here.is_none() {
            continue;
        }
        let dest = peer_here.unwrap_or(if v6 {
            IpAddr::V6(DEFAULT_V6)
        } else {
            IpAddr::V4(DEFAULT_V4)
        });
        let first = nl.lookup(dest, None, None);
        let initial = match (&first.table, first.oif) {
            (Some(_), Some(oif)) => addrs
                .iter()
                .find(|(i, a)| i.index == oif && Some(*a) == first.source)
                .or_else(|| addrs.iter().find(|(i, _)| i.index == oif))
                .copied(),
            _ => None,
        };
        let interfaces_here: BTreeSet<u32> = addrs.iter().map(|(i, _)| i.index).collect();
        match initial {
            Some((i0, a0)) => {
                let others: Vec<(&Interface, IpAddr)> = addrs
                    .iter()
                    .filter(|(i, _)| i.index != i0.index)
                    .copied()
                    .collect();
                multihomed |= !others.is_empty();
                let via = match first.gateway {
                    Some(g) => format!("via {g}"),
                    None => "on the link".into(),
                };
                let what = match peer_here {
                    Some(p) => format!("the route to {p}"),
                    None => "the default route".into(),
                };
                let mut path = ctx.path(i0, a0, "initial", Some(dest));
                path.route = Some(first.clone());
                let name = path_name(i0, a0);
                let mut detail = format!("connections start from here ({what}, {via})");
                if path
                    .endpoint
                    .as_ref()
                    .is_some_and(|e| e.has_flag("subflow"))
                {
                    detail.push_str(
                        "; its subflow endpoint is unused while connections start from it",
                    );
                }
                if others.is_empty() {
                    let (status, words) = single_homed(role, family);
                    items.push(item(&name, status, format!("{detail}; {words}"), None));
                } else {
                    items.push(item(&name, Status::Ok, detail, None));
                }
                paths.push(path);
                for (i, a) in others {
                    let (path, mut its) = ctx.extra(i, a, Some(dest), false);
                    paths.push(path);
                    items.append(&mut its);
                }
            }
            None if peer_here.is_some() => {
                items.push(item(
                    "peer",
                    Status::Fail,
                    format!(
                        "no route to {dest}: {}",
                        first.error.as_deref().unwrap_or("the lookup found none")
                    ),
                    None,
                ));
            }
            None if interfaces_here.len() < 2 => {
                let (i0, a0) = addrs[0];
                items.push(item(
                    &path_name(i0, a0),
                    Status::Info,
                    format!(
                        "no {family} default route: connections reach only what the routes cover"
                    ),
                    None,
                ));
                paths.push(ctx.path(i0, a0, "any", None));
            }
            None => {
                // No default route: the address a connection starts from
                // depends on where it goes, and each of the others could
                // carry a subflow. Every address needs its endpoint (the
                // kernel skips the one the connection started from).
                multihomed = true;
                items.push(item(
                    &format!("{family} routing"),
                    Status::Info,
                    "no default route: which address starts a connection depends on its destination, so every address gets an endpoint; give --peer HOST:PORT to judge the routes to one peer",
                    None,
                ));
                for (i, a) in addrs {
                    let (path, mut its) = ctx.extra(i, a, None, true);
                    paths.push(path);
                    items.append(&mut its);
                }
            }
        }
    }
    // Endpoints for addresses no usable interface has.
    for ep in endpoints {
        let Some(a) = ep.address else { continue };
        if !interfaces.iter().any(|i| i.addresses.contains(&a)) {
            items.push(item(
                &format!("endpoint {a}"),
                Status::Info,
                format!(
                    "id {}: no interface that is up has this address: it does nothing now",
                    ep.id
                ),
                None,
            ));
        }
    }
    let planned_subflow_endpoints = paths
        .iter()
        .filter(|p| p.kind != "initial")
        .filter(|p| {
            p.endpoint.as_ref().is_some_and(|e| e.has_flag("subflow"))
                || (role != Role::Server && p.problems.iter().any(|n| n.ends_with("endpoint")))
        })
        .count() as u32;
    let has_signal_endpoint = endpoints.iter().any(|e| e.has_flag("signal"));
    Analysis {
        paths,
        items,
        planned_subflow_endpoints,
        multihomed,
        has_signal_endpoint,
    }
}

fn path_name(i: &Interface, a: IpAddr) -> String {
    format!("path {} {a}", i.name)
}

/// What one address in a family means for the role (the single path line).
fn single_homed(role: Role, family: &str) -> (Status, String) {
    let server = "a single-homed server needs no endpoint: clients with several paths open their subflows to it";
    let client = "as a client, a second subflow needs a peer that announces addresses (or a second interface here)";
    match role {
        Role::Server => (Status::Ok, format!("the only {family} address; {server}")),
        Role::Client => (Status::Info, format!("the only {family} address; {client}")),
        Role::Both => (
            Status::Ok,
            format!("the only {family} address; {server}; {client}"),
        ),
    }
}

impl Ctx<'_> {
    fn path(&self, i: &Interface, a: IpAddr, kind: &'static str, dest: Option<IpAddr>) -> Path {
        Path {
            interface: i.name.clone(),
            address: a,
            kind,
            destination: dest,
            endpoint: self
                .endpoints
                .iter()
                .find(|e| e.address == Some(a))
                .cloned(),
            route: None,
            route_by_source: None,
            rules: self
                .state
                .rules
                .iter()
                .filter(|r| r.from.is_some_and(|(net, len)| contains(net, len, a)))
                .cloned()
                .collect(),
            rp_filter: a.is_ipv4().then(|| {
                let (all, dev) = host::rp_filter(&i.name);
                all.max(dev)
            }),
            status: Status::Ok,
            problems: Vec::new(),
        }
    }

    /// An address that could carry an extra subflow.
    fn extra(
        &mut self,
        i: &Interface,
        a: IpAddr,
        dest: Option<IpAddr>,
        any: bool,
    ) -> (Path, Vec<Item>) {
        let mut path = self.path(i, a, if any { "any" } else { "extra" }, dest);
        let name = path_name(i, a);
        let mut items = Vec::new();

        // The endpoint and its flags.
        let needs: &[&str] = match self.role {
            Role::Client => &["subflow"],
            Role::Server => &["signal"],
            Role::Both => &["subflow"],
        };
        let role_words = match self.role {
            Role::Client => "a client opens a subflow from it only with the `subflow` flag",
            Role::Server => "a server with several addresses announces this one only with the `signal` flag",
            Role::Both => "a client opens a subflow from it only with the `subflow` flag (a server announces it with `signal`: see --role server)",
        };
        let ep_ok = |e: &Endpoint| match self.role {
            Role::Both => e.has_flag("subflow") || e.has_flag("signal"),
            _ => needs.iter().all(|f| e.has_flag(f)),
        };
        let add = |flags: &[String]| {
            let mut c = Command::new(["ip", "mptcp", "endpoint", "add"]);
            c.arg(a.to_string()).args(["dev", &i.name]);
            c.args(flags.iter().map(String::as_str));
            c
        };
        match &path.endpoint {
            None => {
                let flags: Vec<String> = needs.iter().map(|f| f.to_string()).collect();
                items.push(item(
                    &name,
                    Status::Warn,
                    format!("no endpoint: no subflow uses this address ({role_words})"),
                    Some(Fix::one(add(&flags))),
                ));
                path.problems.push(format!("{name} endpoint"));
            }
            Some(e) => {
                let wrong_dev = e.ifindex.is_some_and(|d| d != i.index);
                let meanings: Vec<String> = e
                    .flags
                    .iter()
                    .filter_map(|f| pm::flag_meaning(f).map(|m| format!("{f}: {m}")))
                    .collect();
                let flags_text = if e.flags.is_empty() {
                    "no flags".to_string()
                } else {
                    e.flags.join(" ")
                };
                if ep_ok(e) && !wrong_dev {
                    items.push(item(
                        &name,
                        Status::Ok,
                        format!(
                            "endpoint id {} {flags_text} ({})",
                            e.id,
                            meanings.join("; ")
                        ),
                        None,
                    ));
                } else {
                    let mut flags: Vec<String> = e
                        .flags
                        .iter()
                        .filter(|f| *f != "implicit" && !f.starts_with("0x"))
                        .cloned()
                        .collect();
                    for f in needs {
                        if !flags.iter().any(|x| x == f) {
                            flags.insert(0, f.to_string());
                        }
                    }
                    let why = if wrong_dev {
                        format!("endpoint id {} names another interface ({}): its subflows would leave by that one", e.id, e.dev.as_deref().unwrap_or("?"))
                    } else {
                        format!(
                            "endpoint id {} has {flags_text}{}: {role_words}",
                            e.id,
                            if meanings.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", meanings.join("; "))
                            }
                        )
                    };
                    let mut fix = Fix::one(Command::new([
                        "ip",
                        "mptcp",
                        "endpoint",
                        "delete",
                        "id",
                        &e.id.to_string(),
                    ]));
                    fix.push(add(&flags));
                    items.push(item(&name, Status::Warn, why, Some(fix)));
                    path.problems.push(format!("{name} endpoint"));
                }
            }
        }

        // Routing: a subflow bound to this interface (an endpoint with
        // `dev`) looks its route up with that output interface; replies and
        // unbound sockets look it up by source alone.
        let Some(dest) = dest else {
            path.status = status_of(&items);
            return (path, items);
        };
        let oif = match &path.endpoint {
            Some(e) => e.ifindex,
            None => Some(i.index),
        };
        let forced = self.nl.lookup(dest, Some(a), oif);
        let by_source = self.nl.lookup(dest, Some(a), None);
        let leaves_right = |l: &Lookup| l.table.is_some() && l.oif == Some(i.index);
        let server_side = self.role != Role::Client;
        let forward_ok = leaves_right(&forced);
        let reverse_ok = leaves_right(&by_source);
        let route_text = |l: &Lookup| {
            match (&l.error, l.table, l.gateway) {
            (Some(e), _, _) => format!("no route ({e})"),
            (None, None, _) => format!(
                "no route: the kernel would take {dest} for a neighbour on {}'s link and get no answer",
                self.link_name(l.oif)
            ),
            (None, Some(t), g) => format!(
                "{}dev {} (table {})",
                g.map_or(String::new(), |g| format!("via {g} ")),
                self.link_name(l.oif),
                table_name(t)
            ),
        }
        };
        if forward_ok && (reverse_ok || !server_side) {
            items.push(item(
                &name,
                Status::Ok,
                format!(
                    "a packet from {a} by {} to {dest} is routed {}",
                    i.name,
                    route_text(&forced)
                ),
                None,
            ));
        } else {
            let why = if !forward_ok && forced.table.is_some() && forced.error.is_none() {
                // IPv6 prefers, rather than forces, the interface asked for.
                format!(
                    "a packet from {a} to {dest} is routed {} instead: no route leaves by {}",
                    route_text(&forced),
                    i.name
                )
            } else if !forward_ok {
                format!(
                    "a packet from {a} leaving by {} to {dest}: {}",
                    i.name,
                    route_text(&forced)
                )
            } else {
                format!(
                    "a reply from {a} to {dest} leaves by {} ({}), not by {}",
                    self.link_name(by_source.oif),
                    route_text(&by_source),
                    i.name
                )
            };
            let rules = if path.rules.is_empty() {
                format!("no policy rule selects on {a}")
            } else {
                path.rules
                    .iter()
                    .map(|r| {
                        format!(
                            "rule {} from {a} {} {}",
                            r.priority,
                            r.action,
                            table_name(r.table)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (fix, todo) = self.policy_routing(i, a, &path.rules);
            let detail = format!(
                "{why}; {rules}: route by source, so that what {a} sends leaves by {} (a table of its own and a rule selecting it){todo}",
                i.name
            );
            items.push(item(&name, Status::Warn, detail, fix));
            path.problems.push(format!("{name} routing"));
        }

        // Strict rp_filter drops what comes back by an interface the
        // reverse lookup (by source) does not leave by.
        if path.rp_filter == Some(1) && !reverse_ok {
            items.push(item(
                &name,
                Status::Warn,
                format!(
                    "rp_filter is strict (1) on {} and the route back to {dest} from {a} leaves by {}: the kernel drops the subflow's incoming packets (TcpExtIPReversePathFilter)",
                    i.name,
                    self.link_name(by_source.oif)
                ),
                Some(
                    Fix::one(Command::new([
                        "sysctl".to_string(),
                        "-w".to_string(),
                        format!("net.ipv4.conf.{}.rp_filter=2", i.name),
                    ])),
                ),
            ));
            path.problems.push(format!("{name} rp_filter"));
        }
        path.route = Some(forced);
        path.route_by_source = Some(by_source);
        path.status = status_of(&items);
        (path, items)
    }

    fn link_name(&self, index: Option<u32>) -> String {
        match index {
            Some(i) => self
                .state
                .links
                .iter()
                .find(|l| l.index == i)
                .map_or(i.to_string(), |l| l.name.clone()),
            None => "no interface".into(),
        }
    }

    /// The policy-routing commands for address `a` on interface `i`: a
    /// table (the one a rule `from a` already selects, else a free one)
    /// with `i`'s subnet and a default route via `i`'s gateway, and the
    /// rule. Only the missing pieces; with no gateway known, no command but
    /// the words of what to do.
    fn policy_routing(
        &mut self,
        i: &Interface,
        a: IpAddr,
        rules: &[Rule],
    ) -> (Option<Fix>, String) {
        let v6 = a.is_ipv6();
        let existing = rules
            .iter()
            .find(|r| r.action == "lookup" && !RESERVED_TABLES.contains(&r.table))
            .map(|r| r.table);
        // A table left from an earlier fix (its default route leaves by
        // this interface, and no rule uses it yet) is taken again.
        let orphan = || {
            self.state
                .routes
                .iter()
                .find(|r| {
                    r.destination.is_none()
                        && r.ipv6 == v6
                        && r.oif == Some(i.index)
                        && !RESERVED_TABLES.contains(&r.table)
                        && !self.state.rules.iter().any(|x| x.table == r.table)
                        && !self.taken_tables.contains(&r.table)
                })
                .map(|r| r.table)
        };
        let table = match existing.or_else(orphan) {
            Some(t) => {
                self.taken_tables.insert(t);
                t
            }
            None => self.free_table(),
        };
        let ip = |rest: &[&str]| {
            let mut c = Command::new(["ip"]);
            if v6 {
                c.arg("-6");
            }
            c.args(rest.iter().copied());
            c
        };
        let t = table.to_string();
        let mut fix = Fix::default();
        let in_table: Vec<&Route> = self
            .state
            .routes
            .iter()
            .filter(|r| r.table == table && r.ipv6 == v6)
            .collect();
        // The interface's own subnet, so that neighbours on its link stay direct.
        if let Some(net) = self
            .state
            .routes
            .iter()
            .find(|r| {
                r.table == 254
                    && r.oif == Some(i.index)
                    && r.gateway.is_none()
                    && r.kind == "unicast"
                    && r.destination.is_some_and(|d| contains(d, r.prefix_len, a))
            })
            .filter(|net| {
                !in_table
                    .iter()
                    .any(|r| r.destination == net.destination && r.prefix_len == net.prefix_len)
            })
        {
            let prefix = format!("{}/{}", net.destination.expect("filtered"), net.prefix_len);
            fix.push(ip(&[
                "route",
                "add",
                &prefix,
                "dev",
                &i.name,
                "src",
                &a.to_string(),
                "table",
                &t,
            ]));
        }
        let mut todo = String::new();
        if !in_table.iter().any(|r| r.destination.is_none()) {
            match self.gateway(i, v6) {
                Some((gw, whence)) => {
                    fix.push(ip(&[
                        "route",
                        "add",
                        "default",
                        "via",
                        &gw.to_string(),
                        "dev",
                        &i.name,
                        "table",
                        &t,
                    ]));
                    todo = format!("; gateway {gw} {whence}");
                }
                None => {
                    todo = format!(
                        "; no gateway is known on {}: `ip{} route add default via GATEWAY dev {} table {t}` with its gateway, then `ip{} rule add from {a} table {t}`",
                        i.name,
                        if v6 { " -6" } else { "" },
                        i.name,
                        if v6 { " -6" } else { "" },
                    );
                    return (None, todo);
                }
            }
        }
        if existing.is_none() {
            fix.push(ip(&["rule", "add", "from", &a.to_string(), "table", &t]));
        }
        ((!fix.is_empty()).then_some(fix), todo)
    }

    /// The lowest table number from 100 up that no route or rule uses.
    fn free_table(&mut self) -> u32 {
        let used: BTreeSet<u32> = self
            .state
            .routes
            .iter()
            .map(|r| r.table)
            .chain(self.state.rules.iter().map(|r| r.table))
            .chain(self.taken_tables.iter().copied())
            .collect();
        let t = (FIRST_FREE_TABLE..)
            .find(|t| !used.contains(t))
            .expect("a free table");
        self.taken_tables.insert(t);
        t
    }

    /// The gateway on interface `i`: from a route through it (any table,
    /// default routes first), else from its neighbours (an IPv6 router, or
    /// the only IPv4 neighbour); with where it was found.
    fn gateway(&self, i: &Interface, v6: bool) -> Option<(IpAddr, &'static str)> {
        let mut via: Vec<&Route> = self
            .state
            .routes
            .iter()
            .filter(|r| r.oif == Some(i.index) && r.ipv6 == v6 && r.gateway.is_some())
            .collect();
        via.sort_by_key(|r| (r.destination.is_some(), r.table != 254, r.metric));
        if let Some(r) = via.first() {
            return Some((r.gateway.expect("filtered"), "from its routes"));
        }
        let neighbours: Vec<_> = self
            .state
            .neighbours
            .iter()
            .filter(|n| n.index == i.index && n.address.is_ipv6() == v6 && usable_or_ll(n.address))
            .collect();
        if let Some(n) = neighbours.iter().find(|n| n.router) {
            return Some((n.address, "(a router among its neighbours)"));
        }
        match neighbours.as_slice() {
            [only] if !v6 => Some((only.address, "(its only neighbour)")),
            _ => None,
        }
    }
}

fn usable_or_ll(a: IpAddr) -> bool {
    !a.is_loopback() && !a.is_unspecified() && !a.is_multicast()
}

fn status_of(items: &[Item]) -> Status {
    if items.iter().any(|i| i.status == Status::Warn) {
        Status::Warn
    } else {
        Status::Ok
    }
}

fn table_name(t: u32) -> String {
    match t {
        254 => "main".into(),
        255 => "local".into(),
        253 => "default".into(),
        t => t.to_string(),
    }
}

/// Whether `net/len` contains `a`.
pub fn contains(net: IpAddr, len: u8, a: IpAddr) -> bool {
    match (net, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_contain_their_addresses() {
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(contains("10.1.2.0".parse().unwrap(), 24, a));
        assert!(contains("10.1.2.3".parse().unwrap(), 32, a));
        assert!(!contains("10.1.3.0".parse().unwrap(), 24, a));
        assert!(contains("0.0.0.0".parse().unwrap(), 0, a));
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(contains("2001:db8::".parse().unwrap(), 64, b));
        assert!(!contains("2001:db9::".parse().unwrap(), 64, b));
        assert!(!contains("10.0.0.0".parse().unwrap(), 8, b));
    }
}
