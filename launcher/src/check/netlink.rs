//! The kernel's view of this host's network, read over netlink: links,
//! addresses, routes of every table, policy rules and neighbours with
//! `rtnetlink`, the MPTCP path manager's limits and endpoints with the
//! `mptcp-pm` handle, and route lookups the way a subflow's own lookup goes
//! (`ip route get DST from SRC oif IF`).
//!
//! Both crates are asynchronous: `check` alone starts a current-thread
//! tokio runtime for them, so `run` (which never reaches this module) pays
//! nothing for it.

use super::pm::{self, PathManager};
use futures::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourState,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{IpVersion, RouteMessageBuilder};
use serde::Serialize;
use std::net::IpAddr;
use tokio::runtime::Runtime;

/// An open rtnetlink and generic netlink (mptcp_pm) connection.
pub struct Netlink {
    rt: Runtime,
    route: rtnetlink::Handle,
    pm: mptcp_pm::MptcpPathManagerHandle,
}

/// A network interface.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up and with a carrier (IFF_UP and IFF_RUNNING).
    pub up: bool,
    pub loopback: bool,
}

/// An address of an interface.
#[derive(Clone, Debug, Serialize)]
pub struct Address {
    pub index: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
}

/// A route of any table.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Route {
    pub table: u32,
    /// `None`: the default route.
    pub destination: Option<IpAddr>,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    /// `src ADDR`: the source it gives.
    pub source: Option<IpAddr>,
    pub metric: u32,
    /// `unicast`, `local`, `blackhole`, `unreachable`, …
    pub kind: String,
    pub ipv6: bool,
}

/// A policy routing rule (`ip rule`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Rule {
    pub priority: u32,
    /// `from ADDR/LEN`.
    pub from: Option<(IpAddr, u8)>,
    /// `to ADDR/LEN`.
    pub to: Option<(IpAddr, u8)>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub fwmark: Option<u32>,
    /// The table it looks up (for `lookup` rules).
    pub table: u32,
    /// `lookup`, `blackhole`, `unreachable`, `prohibit`, `goto`, …
    pub action: String,
    pub ipv6: bool,
}

/// A neighbour cache entry that resolved (or was set by hand).
#[derive(Clone, Debug, Serialize)]
pub struct Neighbour {
    pub index: u32,
    pub address: IpAddr,
    /// IPv6 routers say so (NTF_ROUTER).
    pub router: bool,
}

/// What `ip route get DST from SRC oif IF` answers.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Lookup {
    /// The interface the packet leaves by.
    pub oif: Option<u32>,
    pub gateway: Option<IpAddr>,
    /// The source address the kernel picks (for lookups without one).
    pub source: Option<IpAddr>,
    /// The table the route came from; `None` when no route matched and the
    /// kernel, told an output interface, assumed the destination is on that
    /// link (it then sends ARP or neighbour solicitations for it there).
    pub table: Option<u32>,
    /// The kernel's refusal (`Network is unreachable`), when there is one.
    pub error: Option<String>,
}

/// Everything read in one go.
pub struct State {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    pub neighbours: Vec<Neighbour>,
}

impl Netlink {
    pub fn open() -> std::io::Result<Netlink> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let _guard = rt.enter();
        let (conn, route, _) = rtnetlink::new_connection()?;
        rt.spawn(conn);
        let (conn, pm, _) = mptcp_pm::new_connection()?;
        rt.spawn(conn);
        Ok(Netlink { rt, route, pm })
    }

    /// Links, addresses, routes, rules and neighbours.
    pub fn state(&self) -> Result<State, String> {
        self.rt.block_on(async {
            let h = &self.route;
            let links = h
                .link()
                .get()
                .execute()
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| format!("reading links: {e}"))?
                .into_iter()
                .map(|m| Link {
                    index: m.header.index,
                    name: m
                        .attributes
                        .iter()
                        .find_map(|a| match a {
                            LinkAttribute::IfName(n) => Some(n.clone()),
                            _ => None,
                        })
                        .unwrap_or_else(|| m.header.index.to_string()),
                    up: m.header.flags.contains(LinkFlags::Up)
                        && m.header.flags.contains(LinkFlags::Running),
                    loopback: m.header.flags.contains(LinkFlags::Loopback),
                })
                .collect();
            let addresses = h
                .address()
                .get()
                .execute()
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| format!("reading addresses: {e}"))?
                .into_iter()
                .filter_map(|m| {
                    // IFA_LOCAL is the address itself (IFA_ADDRESS is the
                    // peer's on point-to-point links); IPv6 has IFA_ADDRESS only.
                    let local = m.attributes.iter().find_map(|a| match a {
                        AddressAttribute::Local(a) => Some(*a),
                        _ => None,
                    });
                    let address = local.or_else(|| {
                        m.attributes.iter().find_map(|a| match a {
                            AddressAttribute::Address(a) => Some(*a),
                            _ => None,
                        })
                    })?;
                    Some(Address {
                        index: m.header.index,
                        address,
                        prefix_len: m.header.prefix_len,
                    })
                })
                .collect();
            let mut routes = Vec::new();
            for builder in [
                RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
                RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
            ] {
                let msgs = h
                    .route()
                    .get(builder)
                    .execute()
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| format!("reading routes: {e}"))?;
                routes.extend(msgs.iter().map(route_of));
            }
            let mut rules = Vec::new();
            for version in [IpVersion::V4, IpVersion::V6] {
                let msgs = h
                    .rule()
                    .get(version)
                    .execute()
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| format!("reading rules: {e}"))?;
                for m in msgs {
                    let mut rule = Rule {
                        priority: 0,
                        from: None,
                        to: None,
                        iif: None,
                        oif: None,
                        fwmark: None,
                        table: u32::from(m.header.table),
                        action: action_name(m.header.action),
                        ipv6: m.header.family == AddressFamily::Inet6,
                    };
                    for a in &m.attributes {
                        match a {
                            RuleAttribute::Priority(p) => rule.priority = *p,
                            RuleAttribute::Source(s) => rule.from = Some((*s, m.header.src_len)),
                            RuleAttribute::Destination(d) => rule.to = Some((*d, m.header.dst_len)),
                            RuleAttribute::Iifname(n) => rule.iif = Some(n.clone()),
                            RuleAttribute::Oifname(n) => rule.oif = Some(n.clone()),
                            RuleAttribute::FwMark(f) => rule.fwmark = Some(*f),
                            RuleAttribute::Table(t) => rule.table = *t,
                            _ => {}
                        }
                    }
                    rules.push(rule);
                }
            }
            rules.sort_by_key(|r| r.priority);
            let neighbours = h
                .neighbours()
                .get()
                .execute()
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| format!("reading neighbours: {e}"))?
                .into_iter()
                .filter(|m| {
                    matches!(
                        m.header.state,
                        NeighbourState::Reachable
                            | NeighbourState::Stale
                            | NeighbourState::Delay
                            | NeighbourState::Probe
                            | NeighbourState::Permanent
                    )
                })
                .filter_map(|m| {
                    let address = m.attributes.iter().find_map(|a| match a {
                        NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                            Some(IpAddr::from(*a))
                        }
                        NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                            Some(IpAddr::from(*a))
                        }
                        _ => None,
                    })?;
                    Some(Neighbour {
                        index: m.header.ifindex,
                        address,
                        router: m.header.flags.contains(NeighbourFlags::Router),
                    })
                })
                .collect();
            Ok(State {
                links,
                addresses,
                routes,
                rules,
                neighbours,
            })
        })
    }

    /// The path manager's limits and endpoints.
    pub fn path_manager(&self) -> Result<PathManager, String> {
        self.rt.block_on(async {
            let limits = self
                .pm
                .limits()
                .get()
                .execute()
                .await
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| format!("reading limits: {}", pm_error(&e)))?;
            let endpoints = self
                .pm
                .address()
                .get()
                .execute()
                .await
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| format!("reading endpoints: {}", pm_error(&e)))?;
            Ok(pm::from_messages(
                limits.into_iter().map(|m| m.payload),
                endpoints.into_iter().map(|m| m.payload),
            ))
        })
    }

    /// The state of the neighbour entry for `address` on interface `index`
    /// (`incomplete`, `failed`, `reachable`, …), when there is one.
    pub fn neighbour_state(&self, index: u32, address: IpAddr) -> Option<String> {
        let msgs = self
            .rt
            .block_on(
                self.route
                    .neighbours()
                    .get()
                    .execute()
                    .try_collect::<Vec<_>>(),
            )
            .ok()?;
        msgs.into_iter()
            .find(|m| {
                m.header.ifindex == index
                    && m.attributes.iter().any(|a| match a {
                        NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                            IpAddr::from(*a) == address
                        }
                        NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                            IpAddr::from(*a) == address
                        }
                        _ => false,
                    })
            })
            .map(|m| format!("{:?}", m.header.state).to_lowercase())
    }

    /// `ip route get DST [from SRC] [oif IF]`.
    pub fn lookup(&self, dst: IpAddr, src: Option<IpAddr>, oif: Option<u32>) -> Lookup {
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(dst, if dst.is_ipv4() { 32 } else { 128 })
            .expect("a host prefix of its own family");
        if let Some(src) = src.filter(|s| s.is_ipv4() == dst.is_ipv4()) {
            b = b
                .source_prefix(src, if src.is_ipv4() { 32 } else { 128 })
                .expect("a host prefix of its own family");
        }
        if let Some(oif) = oif {
            b = b.output_interface(oif);
        }
        let mut msg = b.build();
        // Without it the kernel says "main" even when no table matched.
        msg.header.flags = RouteFlags::LookupTable;
        let result = self.rt.block_on(async {
            self.route
                .route()
                .get(msg)
                .execute()
                .try_collect::<Vec<_>>()
                .await
        });
        match result {
            Ok(msgs) => match msgs.first() {
                Some(m) => {
                    let r = route_of(m);
                    Lookup {
                        oif: r.oif,
                        gateway: r.gateway,
                        source: m.attributes.iter().find_map(|a| match a {
                            RouteAttribute::PrefSource(a) => ip_of(a),
                            _ => None,
                        }),
                        table: (r.table != 0).then_some(r.table),
                        error: None,
                    }
                }
                None => Lookup::failed("no answer".into()),
            },
            Err(e) => Lookup::failed(rtnl_error(&e)),
        }
    }
}

impl Lookup {
    fn failed(error: String) -> Lookup {
        Lookup {
            oif: None,
            gateway: None,
            source: None,
            table: None,
            error: Some(error),
        }
    }
}

fn route_of(m: &RouteMessage) -> Route {
    let mut r = Route {
        table: u32::from(m.header.table),
        destination: None,
        prefix_len: m.header.destination_prefix_length,
        gateway: None,
        oif: None,
        source: None,
        metric: 0,
        kind: format!("{:?}", m.header.kind).to_lowercase(),
        ipv6: m.header.address_family == AddressFamily::Inet6,
    };
    if m.header.kind == RouteType::Unicast {
        r.kind = "unicast".into();
    }
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => r.table = *t,
            RouteAttribute::Destination(d) => r.destination = ip_of(d),
            RouteAttribute::Gateway(g) => r.gateway = ip_of(g),
            RouteAttribute::Oif(i) => r.oif = Some(*i),
            RouteAttribute::PrefSource(a) => r.source = ip_of(a),
            RouteAttribute::Priority(p) => r.metric = *p,
            RouteAttribute::MultiPath(hops) => {
                // The first next hop stands for all of them here.
                if let Some(hop) = hops.first() {
                    r.oif.get_or_insert(hop.interface_index);
                    r.gateway = r.gateway.or_else(|| {
                        hop.attributes.iter().find_map(|a| match a {
                            RouteAttribute::Gateway(g) => ip_of(g),
                            _ => None,
                        })
                    });
                }
            }
            _ => {}
        }
    }
    r
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some((*a).into()),
        RouteAddress::Inet6(a) => Some((*a).into()),
        _ => None,
    }
}

fn action_name(a: RuleAction) -> String {
    match a {
        RuleAction::ToTable => "lookup".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The kernel's errno as words (`Network is unreachable`), or the crate's error.
fn rtnl_error(e: &rtnetlink::Error) -> String {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().to_string(),
        other => other.to_string(),
    }
}

fn pm_error(e: &mptcp_pm::MptcpPathManagerError) -> String {
    match e {
        mptcp_pm::MptcpPathManagerError::NetlinkError(m) => m.to_io().to_string(),
        mptcp_pm::MptcpPathManagerError::RequestFailed(why)
        | mptcp_pm::MptcpPathManagerError::Bug(why) => why.clone(),
        other => other.to_string(),
    }
}
