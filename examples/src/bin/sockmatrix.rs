//! Creates one socket for every family × type × flags × protocol combination
//! that matters to mptcpize-rs and prints what the kernel made of it:
//!
//! `AF_INET SOCK_STREAM|SOCK_CLOEXEC 0 -> protocol 262 nonblock=0 cloexec=1`
//! `AF_UNIX SOCK_STREAM 6 -> error 93`
//!
//! The tests run it under the shim and check every line.

const FAMILIES: [(&str, libc::c_int); 5] = [
    ("AF_INET", libc::AF_INET),
    ("AF_INET6", libc::AF_INET6),
    ("AF_UNIX", libc::AF_UNIX),
    ("AF_NETLINK", libc::AF_NETLINK),
    ("AF_PACKET", libc::AF_PACKET),
];
const TYPES: [(&str, libc::c_int); 4] = [
    ("SOCK_STREAM", libc::SOCK_STREAM),
    ("SOCK_DGRAM", libc::SOCK_DGRAM),
    ("SOCK_SEQPACKET", libc::SOCK_SEQPACKET),
    ("SOCK_RAW", libc::SOCK_RAW),
];
const FLAGS: [(&str, libc::c_int); 4] = [
    ("", 0),
    ("|SOCK_NONBLOCK", libc::SOCK_NONBLOCK),
    ("|SOCK_CLOEXEC", libc::SOCK_CLOEXEC),
    (
        "|SOCK_NONBLOCK|SOCK_CLOEXEC",
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
    ),
];
const PROTOCOLS: [libc::c_int; 5] = [
    0,
    libc::IPPROTO_TCP,
    libc::IPPROTO_UDP,
    libc::IPPROTO_SCTP,
    libc::IPPROTO_MPTCP,
];

fn main() {
    for (fname, family) in FAMILIES {
        for (tname, ty) in TYPES {
            for (flname, flags) in FLAGS {
                for proto in PROTOCOLS {
                    print!("{fname} {tname}{flname} {proto} -> ");
                    // SAFETY: socket() takes integers; a returned fd is ours to close.
                    let fd = unsafe { libc::socket(family, ty | flags, proto) };
                    if fd < 0 {
                        println!(
                            "error {}",
                            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
                        );
                        continue;
                    }
                    let protocol = mptcpize_examples::protocol_of(fd);
                    // SAFETY: fcntl on an fd we own.
                    let (fl, fdfl) = unsafe {
                        (
                            libc::fcntl(fd, libc::F_GETFL),
                            libc::fcntl(fd, libc::F_GETFD),
                        )
                    };
                    println!(
                        "protocol {protocol} nonblock={} cloexec={}",
                        u8::from(fl & libc::O_NONBLOCK != 0),
                        u8::from(fdfl & libc::FD_CLOEXEC != 0)
                    );
                    // SAFETY: closing the fd we created.
                    unsafe { libc::close(fd) };
                }
            }
        }
    }
}
