//! The in-kernel path manager's limits and endpoints, read from the kernel's
//! generic netlink family `mptcp_pm` (what `ip mptcp limits show` and
//! `ip mptcp endpoint show` print), with the `mptcp-pm` message types sent
//! over a plain blocking netlink socket.

use mptcp_pm::{
    MptcpPathManagerAddressAttr as AddrAttr, MptcpPathManagerAddressAttrFlag as Flag,
    MptcpPathManagerAttr as Attr, MptcpPathManagerLimitsAttr as LimitsAttr,
    MptcpPathManagerMessage,
};
use netlink_packet_core::{
    NetlinkDeserializable, NetlinkMessage, NetlinkPayload, NetlinkSerializable, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
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
    /// The interface's name (or index when it has no name any more).
    pub dev: Option<String>,
    /// `subflow`, `signal`, `backup`, `fullmesh`, `implicit`.
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

/// Reads the limits and the endpoints; the error says why in a few words.
pub fn read() -> Result<PathManager, String> {
    let mut socket = Socket::new(NETLINK_GENERIC).map_err(|e| format!("netlink socket: {e}"))?;
    socket
        .bind_auto()
        .map_err(|e| format!("netlink bind: {e}"))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(|e| format!("netlink connect: {e}"))?;
    let family = family_id(&socket, "mptcp_pm")?;

    let mut limits = Limits::default();
    for msg in request(
        &socket,
        family,
        MptcpPathManagerMessage::new_limits_get(),
        false,
    )? {
        for nla in msg.nlas {
            match nla {
                Attr::Limits(LimitsAttr::Subflows(n)) => limits.subflows = n,
                Attr::Limits(LimitsAttr::RcvAddAddrs(n)) => limits.add_addr_accepted = n,
                _ => {}
            }
        }
    }
    let mut endpoints = Vec::new();
    for msg in request(
        &socket,
        family,
        MptcpPathManagerMessage::new_address_get(),
        true,
    )? {
        let mut ep = Endpoint {
            id: 0,
            address: None,
            port: None,
            dev: None,
            flags: Vec::new(),
        };
        for nla in msg.nlas {
            match nla {
                Attr::Address(AddrAttr::Id(id)) => ep.id = id,
                Attr::Address(AddrAttr::Addr4(a)) => ep.address = Some(a.into()),
                Attr::Address(AddrAttr::Addr6(a)) => ep.address = Some(a.into()),
                Attr::Address(AddrAttr::Port(p)) if p != 0 => ep.port = Some(p),
                Attr::Address(AddrAttr::IfIndex(i)) if i > 0 => ep.dev = Some(if_name(i)),
                Attr::Address(AddrAttr::Flags(flags)) => {
                    ep.flags = flags.iter().map(flag_name).collect()
                }
                _ => {}
            }
        }
        endpoints.push(ep);
    }
    endpoints.sort_by_key(|e| e.id);
    Ok(PathManager { limits, endpoints })
}

fn flag_name(flag: &Flag) -> String {
    match flag {
        Flag::Signal => "signal".into(),
        Flag::Subflow => "subflow".into(),
        Flag::Backup => "backup".into(),
        Flag::Fullmesh => "fullmesh".into(),
        Flag::Implicit => "implicit".into(),
        Flag::Other(bits) => format!("0x{bits:x}"),
    }
}

/// The interface name of index `i`, or the index as text.
fn if_name(i: i32) -> String {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(i as u32, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return i.to_string();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// The id of generic netlink family `name`.
fn family_id(socket: &Socket, name: &str) -> Result<u16, String> {
    let msg = GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_string())],
    };
    let replies = exchange(socket, GenlMessage::from_payload(msg), false).map_err(|e| {
        if e.contains("No such file") || e.contains("os error 2") {
            format!("the kernel has no generic netlink family {name} (no MPTCP path manager)")
        } else {
            e
        }
    })?;
    replies
        .into_iter()
        .flat_map(|m| m.payload.nlas)
        .find_map(|nla| match nla {
            GenlCtrlAttrs::FamilyId(id) => Some(id),
            _ => None,
        })
        .ok_or_else(|| format!("the kernel did not say which id {name} has"))
}

fn request(
    socket: &Socket,
    family: u16,
    msg: MptcpPathManagerMessage,
    dump: bool,
) -> Result<Vec<MptcpPathManagerMessage>, String> {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family);
    Ok(exchange(socket, genl, dump)?
        .into_iter()
        .map(|m| m.payload)
        .collect())
}

/// Sends one request and collects its replies (until `NLMSG_DONE` for a dump).
fn exchange<T>(socket: &Socket, msg: T, dump: bool) -> Result<Vec<T>, String>
where
    T: NetlinkSerializable + NetlinkDeserializable + std::fmt::Debug,
    NetlinkMessage<T>: From<T>,
{
    let mut nl = NetlinkMessage::from(msg);
    nl.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
    nl.header.sequence_number = 1;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    socket
        .send(&buf, 0)
        .map_err(|e| format!("netlink send: {e}"))?;
    let mut out = Vec::new();
    loop {
        let (data, _) = socket
            .recv_from_full()
            .map_err(|e| format!("netlink receive: {e}"))?;
        let mut offset = 0;
        while offset < data.len() {
            let reply = NetlinkMessage::<T>::deserialize(&data[offset..])
                .map_err(|e| format!("netlink reply: {e}"))?;
            let len = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(err) => {
                    return Err(match err.to_io().raw_os_error() {
                        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
                        None => format!("{err:?}"),
                    })
                }
                NetlinkPayload::InnerMessage(m) => {
                    out.push(m);
                    if !dump {
                        return Ok(out);
                    }
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}
