//! Creates and closes N sockets in a loop and prints the time per call:
//! `socket-loop [N] [tcp|udp] [SETS]` → `100000 socket() calls: 1234 ns each`.
//! The benchmark runs it with and without the shim (and under callgrind to
//! count instructions); `udp` measures a call the shim passes through.
//! With SETS, each socket also gets SETS `setsockopt()` calls that succeed
//! (SO_KEEPALIVE on TCP, SO_BROADCAST on UDP): the shim's cost per
//! setsockopt is the difference with SETS = 0, divided by SETS.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map_or(100_000, |a| a.parse().expect("N must be a number"));
    let ty = match args.next().as_deref() {
        None | Some("tcp") => libc::SOCK_STREAM,
        Some("udp") => libc::SOCK_DGRAM,
        Some(other) => {
            eprintln!("socket-loop: unknown kind {other:?}: use tcp or udp");
            std::process::exit(2);
        }
    };
    let sets: u32 = args
        .next()
        .map_or(0, |a| a.parse().expect("SETS must be a number"));
    let option = if ty == libc::SOCK_STREAM {
        libc::SO_KEEPALIVE
    } else {
        libc::SO_BROADCAST
    };
    let one: libc::c_int = 1;
    let start = Instant::now();
    for _ in 0..n {
        // SAFETY: socket() takes integers; the fd is closed right away.
        let fd = unsafe { libc::socket(libc::AF_INET, ty, 0) };
        if fd < 0 {
            eprintln!("socket-loop: socket: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
        for _ in 0..sets {
            // SAFETY: an int option of our own socket, its size given.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    option,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                eprintln!(
                    "socket-loop: setsockopt: {}",
                    std::io::Error::last_os_error()
                );
                std::process::exit(1);
            }
        }
        // SAFETY: closing the fd just created.
        unsafe { libc::close(fd) };
    }
    let elapsed = start.elapsed();
    println!(
        "{n} socket() calls: {} ns each",
        elapsed.as_nanos() / u128::from(n.max(1))
    );
}
