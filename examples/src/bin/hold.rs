//! An unmodified std::net program that holds many TCP connections open:
//! `hold N` listens on 127.0.0.1, connects N clients to itself, accepts
//! them, prints `holding N connections` and waits until its stdin closes.
//! The benchmark runs it under `mptcpize-rs run` to give `top` N MPTCP
//! connections (2N sockets, one per end) to look at.

use std::io::Read;
use std::net::{TcpListener, TcpStream};

fn main() {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: hold N");
            std::process::exit(2);
        }
    };
    // Two descriptors per connection, and some to spare.
    let want = (2 * n + 64) as libc::rlim_t;
    let limit = libc::rlimit {
        rlim_cur: want,
        rlim_max: want,
    };
    // SAFETY: setrlimit reads the struct we pass; no other effect on memory.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        eprintln!(
            "hold: cannot allow {want} open files: {}",
            std::io::Error::last_os_error()
        );
        std::process::exit(1);
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let mut held = Vec::with_capacity(2 * n);
    for _ in 0..n {
        held.push(TcpStream::connect(addr).expect("connect"));
        held.push(listener.accept().expect("accept").0);
    }
    println!("holding {n} connections");
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}
