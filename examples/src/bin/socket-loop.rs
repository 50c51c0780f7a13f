//! Creates and closes N sockets in a loop and prints the time per call:
//! `socket-loop [N] [tcp|udp]` → `100000 socket() calls: 1234 ns each`.
//! The benchmark runs it with and without the shim (and under callgrind to
//! count instructions); `udp` measures a call the shim passes through.

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
    let start = Instant::now();
    for _ in 0..n {
        // SAFETY: socket() takes integers; the fd is closed right away.
        let fd = unsafe { libc::socket(libc::AF_INET, ty, 0) };
        if fd < 0 {
            eprintln!("socket-loop: socket: {}", std::io::Error::last_os_error());
            std::process::exit(1);
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
