//! The launcher hands the filter's listener to the supervisor process: one
//! message over a `SOCK_SEQPACKET` socketpair with the fd as `SCM_RIGHTS`
//! ancillary data (this works under any Yama ptrace policy, unlike
//! `pidfd_getfd`).

use rustix::net::{
    recvmsg, sendmsg, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

/// The one byte of data that goes with the fd.
const TAG: u8 = b'L';

/// A connected pair: the launcher's end and the supervisor's end. Both are
/// close-on-exec, so PROG inherits neither.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends `fd` over `sock`.
pub fn send(sock: impl AsFd, fd: impl AsFd) -> io::Result<()> {
    let fds = [fd.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(
        sock,
        &[IoSlice::new(&[TAG])],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// Waits for the fd sent over `sock`; `None` when the other end closed
/// without sending one.
pub fn receive(sock: impl AsFd) -> io::Result<Option<OwnedFd>> {
    let mut data = [0u8; 1];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    loop {
        match recvmsg(
            &sock,
            &mut [IoSliceMut::new(&mut data)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let mut received = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = message {
            received = received.or(fds.next());
        }
    }
    Ok(received.filter(|_| data[0] == TAG))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn an_fd_crosses_the_pair_and_a_close_is_none() {
        let (launcher, supervisor) = socketpair().unwrap();
        let (a, _b) = socketpair().unwrap();
        send(&launcher, &a).unwrap();
        let got = receive(&supervisor).unwrap().expect("an fd");
        assert_ne!(got.as_raw_fd(), a.as_raw_fd());
        drop(launcher);
        assert!(receive(&supervisor).unwrap().is_none());
    }
}
