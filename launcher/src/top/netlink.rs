//! One synchronous netlink dump: send a request with `NLM_F_DUMP`, read the
//! replies until `NLMSG_DONE`. Used for sock_diag (the sockets) and for
//! rtnetlink (the interfaces); `top` needs no async runtime for either.

use netlink_packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_sys::{Socket, SocketAddr};
use std::io;

/// A netlink socket of one protocol (`NETLINK_SOCK_DIAG`, `NETLINK_ROUTE`),
/// kept for every dump of a `top` session.
pub struct Netlink {
    socket: Socket,
    buf: Vec<u8>,
}

impl Netlink {
    pub fn open(protocol: isize) -> io::Result<Netlink> {
        let mut socket = Socket::new(protocol)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink {
            socket,
            // The kernel fills at most 32 KiB (or a page) per read of a dump.
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends `request` as a dump and hands each reply to `each`.
    /// `extra_attrs` are netlink attributes appended to the request, for
    /// the ones the crate's request type has no field for.
    pub fn dump<T>(
        &mut self,
        request: T,
        extra_attrs: &[u8],
        mut each: impl FnMut(T),
    ) -> io::Result<()>
    where
        T: NetlinkSerializable + NetlinkDeserializable,
    {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(request));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        out.extend_from_slice(extra_attrs);
        let len = u32::try_from(out.len()).expect("a small request");
        out[..4].copy_from_slice(&len.to_ne_bytes());
        self.socket.send(&out, 0)?;
        loop {
            self.buf.clear();
            let n = self.socket.recv(&mut self.buf, 0)?;
            let mut offset = 0;
            while offset < n {
                let message = NetlinkMessage::<T>::deserialize(&self.buf[offset..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = message.header.length as usize;
                match message.payload {
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) => {
                        return Err(e.code.map_or_else(
                            || io::ErrorKind::Other.into(),
                            |c| io::Error::from_raw_os_error(-c.get()),
                        ))
                    }
                    NetlinkPayload::InnerMessage(inner) => each(inner),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                offset += (len + 3) & !3;
            }
        }
    }
}

/// A netlink attribute carrying a `u32` (for [`Netlink::dump`]'s extra
/// attributes).
pub fn u32_attr(kind: u16, value: u32) -> [u8; 8] {
    let mut a = [0; 8];
    a[..2].copy_from_slice(&8u16.to_ne_bytes());
    a[2..4].copy_from_slice(&kind.to_ne_bytes());
    a[4..].copy_from_slice(&value.to_ne_bytes());
    a
}
