//! Opens TCP sockets from many threads at once and counts what the kernel
//! made of them: `threads=16 sockets=4000 mptcp=4000 tcp=0 errors=0`.
//!
//! `socket-threads [THREADS] [PER_THREAD]` (default 16 × 250). The sockets of
//! a thread stay open until all threads are done, so fds are not reused.

use std::sync::{Arc, Barrier};

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let threads = args.next().unwrap_or(16);
    let per = args.next().unwrap_or(250);
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let family = if t % 2 == 0 {
                    libc::AF_INET
                } else {
                    libc::AF_INET6
                };
                let (mut mptcp, mut tcp, mut errors) = (0, 0, 0);
                let mut fds = Vec::with_capacity(per);
                for _ in 0..per {
                    // SAFETY: socket() takes integers; the fd is closed below.
                    let fd =
                        unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
                    if fd < 0 {
                        errors += 1;
                        continue;
                    }
                    if mptcpize_examples::protocol_of(fd) == libc::IPPROTO_MPTCP {
                        mptcp += 1;
                    } else {
                        tcp += 1;
                    }
                    fds.push(fd);
                }
                for fd in fds {
                    // SAFETY: closing fds this thread created.
                    unsafe { libc::close(fd) };
                }
                (mptcp, tcp, errors)
            })
        })
        .collect();
    let (mut mptcp, mut tcp, mut errors) = (0, 0, 0);
    for h in handles {
        let (m, t, e) = h.join().expect("thread");
        mptcp += m;
        tcp += t;
        errors += e;
    }
    println!(
        "threads={threads} sockets={} mptcp={mptcp} tcp={tcp} errors={errors}",
        threads * per
    );
}
