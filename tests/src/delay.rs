//! A delayed path without netem: two TUN devices, one in each namespace,
//! joined by userspace threads that hold every packet for a fixed time
//! before passing it on.
//!
//! Why userspace: this kernel has tbf and htb but no netem, and no fq either
//! (fq is what honours the departure times a BPF program or TCP_TX_DELAY can
//! set); tbf's `latency` only bounds how long a packet may wait in its
//! queue, it adds no delay to an idle link. A TUN pair carries IP packets
//! like a veth pair (tbf works on it the same way); the cost is two reads
//! and two writes per packet, which at the testbed's rates (tens of Mbit/s)
//! is small. The delay is exact to the scheduler's wake-up latency
//! (typically well under a millisecond on an idle machine, more on a busy one).

use crate::enter::in_netns;
use crate::netns::Netns;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
/// `TUNSETIFF`, `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// A pair of TUN devices and the threads that move packets between them,
/// each packet `delay` late. Stops on drop.
pub struct DelayLine {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Opens a TUN device named `name` inside namespace `ns`.
fn open_tun(ns: &Netns, name: &str) -> std::io::Result<File> {
    let name = name.to_string();
    in_netns(&ns.name, move || -> std::io::Result<File> {
        let tun = File::options()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        // struct ifreq: 16 bytes of name, then the flags (a union of 24 bytes).
        let mut ifr = [0u8; 40];
        ifr[..name.len()].copy_from_slice(name.as_bytes());
        ifr[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
        // SAFETY: TUNSETIFF reads and writes a struct ifreq (40 bytes) at the pointer.
        if unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF, ifr.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(tun)
    })?
}

/// Waits up to 100 ms for `fd` to be readable; false on timeout or error.
fn readable(fd: &File) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, 100) > 0 && p.revents & libc::POLLIN != 0 }
}

/// One direction: a reader stamps packets, a writer releases them on time.
fn direction(
    from: File,
    mut to: File,
    delay: Duration,
    stop: &Arc<AtomicBool>,
) -> [JoinHandle<()>; 2] {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let stop_r = Arc::clone(stop);
    let reader = std::thread::spawn(move || {
        let mut from = from;
        let mut buf = vec![0u8; 65536];
        while !stop_r.load(Ordering::Relaxed) {
            if !readable(&from) {
                continue;
            }
            match from.read(&mut buf) {
                Ok(n) if n > 0 => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The device is gone (its namespace was deleted).
                Err(_) => return,
            }
        }
    });
    let stop_w = Arc::clone(stop);
    let writer = std::thread::spawn(move || {
        let mut due: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        while !stop_w.load(Ordering::Relaxed) {
            let wait = due.front().map_or(Duration::from_millis(100), |(at, _)| {
                at.saturating_duration_since(Instant::now())
            });
            match rx.recv_timeout(wait) {
                Ok(p) => due.push_back(p),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) if due.is_empty() => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(wait);
                }
            }
            let now = Instant::now();
            while due.front().is_some_and(|(at, _)| *at <= now) {
                let (_, packet) = due.pop_front().expect("front exists");
                // A link that is down refuses packets: they are lost, as on a wire.
                let _ = to.write(&packet);
            }
        }
    });
    [reader, writer]
}

impl DelayLine {
    /// Creates TUN device `a.1` in namespace `a.0` and `b.1` in `b.0`, and
    /// starts moving packets between them, `delay` late each way.
    pub fn new(a: (&Netns, &str), b: (&Netns, &str), delay: Duration) -> DelayLine {
        let open = |(ns, name): (&Netns, &str)| {
            open_tun(ns, name)
                .unwrap_or_else(|e| panic!("cannot create TUN device {name} in {}: {e}", ns.name))
        };
        let (ta, tb) = (open(a), open(b));
        let dup = |f: &File| {
            // SAFETY: dup() of an open fd; the new fd is owned by the File.
            let fd = unsafe { libc::dup(f.as_raw_fd()) };
            assert!(fd >= 0, "dup: {}", std::io::Error::last_os_error());
            // SAFETY: `fd` is a fresh fd that nothing else owns.
            unsafe { File::from_raw_fd(fd) }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (ta2, tb2) = (dup(&ta), dup(&tb));
        let mut threads = Vec::new();
        threads.extend(direction(ta, tb2, delay, &stop));
        threads.extend(direction(tb, ta2, delay, &stop));
        DelayLine { stop, threads }
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
