//! Which interface a subflow uses, and whether it is up, from rtnetlink:
//! a subflow goes out through the interface holding its local address (the
//! MPTCP endpoints `ip mptcp endpoint` lists are addresses of interfaces);
//! a subflow bound to a device (`SO_BINDTODEVICE`, an endpoint's `dev`)
//! names it itself.

use super::netlink::Netlink;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

/// One interface.
#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    /// Administratively up and with a carrier (IFF_UP and IFF_LOWER_UP).
    pub up: bool,
}

/// The interfaces of the namespace, by index and by address.
#[derive(Clone, Debug, Default)]
pub struct Interfaces {
    by_index: HashMap<u32, Interface>,
    by_addr: HashMap<IpAddr, u32>,
}

impl Interfaces {
    /// The interface with `index`, or the one holding `local`.
    pub fn lookup(&self, bound: u32, local: IpAddr) -> Option<&Interface> {
        let index = if bound != 0 {
            bound
        } else {
            *self.by_addr.get(&local)?
        };
        self.by_index.get(&index)
    }
}

/// The rtnetlink socket of a `top` session.
pub struct Route(Netlink);

impl Route {
    pub fn open() -> io::Result<Route> {
        Netlink::open(NETLINK_ROUTE).map(Route)
    }

    pub fn interfaces(&mut self) -> io::Result<Interfaces> {
        let mut ifs = Interfaces::default();
        let links = RouteNetlinkMessage::GetLink(LinkMessage::default());
        self.0.dump(links, &[], |m| {
            if let RouteNetlinkMessage::NewLink(link) = m {
                let name = link.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                });
                let up = link
                    .header
                    .flags
                    .contains(LinkFlags::Up | LinkFlags::LowerUp);
                ifs.by_index.insert(
                    link.header.index,
                    Interface {
                        name: name.unwrap_or_else(|| format!("if{}", link.header.index)),
                        up,
                    },
                );
            }
        })?;
        let addrs = RouteNetlinkMessage::GetAddress(AddressMessage::default());
        self.0.dump(addrs, &[], |m| {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                for attr in &a.attributes {
                    if let AddressAttribute::Local(ip) | AddressAttribute::Address(ip) = attr {
                        ifs.by_addr.entry(*ip).or_insert(a.header.index);
                    }
                }
            }
        })?;
        Ok(ifs)
    }
}
