//! The in-kernel path manager's limits and endpoints (what `ip mptcp limits
//! show` and `ip mptcp endpoint show` print), from the `mptcp-pm` crate's
//! messages (read in [`super::netlink`]), and what each endpoint flag means.

use mptcp_pm::{
    MptcpPathManagerAddressAttr as AddrAttr, MptcpPathManagerAddressAttrFlag as Flag,
    MptcpPathManagerAttr as Attr, MptcpPathManagerLimitsAttr as LimitsAttr,
    MptcpPathManagerMessage,
};
use serde::Serialize;
use std::net::IpAddr;

/// `ip mptcp limits`.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Limits {
    pub subflows: u32,
    pub add_addr_accepted: u32,
}

/// One `ip mptcp endpoint`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Endpoint {
    pub id: u8,
    pub address: Option<IpAddr>,
    pub port: Option<u16>,
    /// The interface's index (`dev IF`), when the endpoint names one.
    #[serde(skip)]
    pub ifindex: Option<u32>,
    /// The interface's name (or index when it has no name any more).
    pub dev: Option<String>,
    /// `subflow`, `signal`, `backup`, `fullmesh`, `laminar`, `implicit`.
    pub flags: Vec<String>,
}

impl Endpoint {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// The limits and endpoints of this network namespace.
#[derive(Clone, Debug, Serialize)]
pub struct PathManager {
    pub limits: Limits,
    pub endpoints: Vec<Endpoint>,
}

/// MPTCP_PM_ADDR_FLAG_LAMINAR (Linux 6.18), which mptcp-pm 0.2 does not name.
const LAMINAR: u32 = 1 << 5;

/// The limits and endpoints the kernel's replies describe.
pub fn from_messages(
    limits: impl Iterator<Item = MptcpPathManagerMessage>,
    endpoints: impl Iterator<Item = MptcpPathManagerMessage>,
) -> PathManager {
    let mut out = Limits::default();
    for nla in limits.flat_map(|m| m.nlas) {
        match nla {
            Attr::Limits(LimitsAttr::Subflows(n)) => out.subflows = n,
            Attr::Limits(LimitsAttr::RcvAddAddrs(n)) => out.add_addr_accepted = n,
            _ => {}
        }
    }
    let mut eps: Vec<Endpoint> = endpoints
        .map(|msg| {
            let mut ep = Endpoint {
                id: 0,
                address: None,
                port: None,
                ifindex: None,
                dev: None,
                flags: Vec::new(),
            };
            for nla in msg.nlas {
                match nla {
                    Attr::Address(AddrAttr::Id(id)) => ep.id = id,
                    Attr::Address(AddrAttr::Addr4(a)) => ep.address = Some(a.into()),
                    Attr::Address(AddrAttr::Addr6(a)) => ep.address = Some(a.into()),
                    Attr::Address(AddrAttr::Port(p)) if p != 0 => ep.port = Some(p),
                    Attr::Address(AddrAttr::IfIndex(i)) if i > 0 => {
                        ep.ifindex = Some(i as u32);
                        ep.dev = Some(i.to_string());
                    }
                    Attr::Address(AddrAttr::Flags(flags)) => {
                        ep.flags = flags.iter().flat_map(flag_names).collect()
                    }
                    _ => {}
                }
            }
            ep
        })
        .collect();
    eps.sort_by_key(|e| e.id);
    PathManager {
        limits: out,
        endpoints: eps,
    }
}

fn flag_names(flag: &Flag) -> Vec<String> {
    match flag {
        Flag::Signal => vec!["signal".into()],
        Flag::Subflow => vec!["subflow".into()],
        Flag::Backup => vec!["backup".into()],
        Flag::Fullmesh => vec!["fullmesh".into()],
        Flag::Implicit => vec!["implicit".into()],
        Flag::Other(bits) => {
            let mut out = Vec::new();
            if bits & LAMINAR != 0 {
                out.push("laminar".into());
            }
            if bits & !LAMINAR != 0 {
                out.push(format!("0x{:x}", bits & !LAMINAR));
            }
            out
        }
    }
}

/// What a flag does, for the endpoint lines.
pub fn flag_meaning(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "subflow" => "a client opens a subflow from this address",
        "signal" => "announced to the peer (ADD_ADDR) so that it can open subflows towards it",
        "backup" => "its subflows carry data only when no other subflow can",
        "fullmesh" => "a subflow from this address to every address the peer announces",
        "laminar" => "subflows from it go to the addresses the peer announces, one each",
        "implicit" => "made by the kernel for an address a connection used, not configured",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_laminar_included() {
        assert_eq!(flag_names(&Flag::Subflow), ["subflow"]);
        assert_eq!(flag_names(&Flag::Other(1 << 5)), ["laminar"]);
        assert_eq!(
            flag_names(&Flag::Other((1 << 5) | (1 << 9))),
            ["laminar", "0x200"]
        );
        for f in [
            "subflow", "signal", "backup", "fullmesh", "laminar", "implicit",
        ] {
            assert!(flag_meaning(f).is_some(), "{f}");
        }
        assert_eq!(flag_meaning("0x200"), None);
    }
}
