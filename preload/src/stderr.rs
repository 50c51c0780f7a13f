//! The stderr the process had when the library loaded, and the only way
//! the libraries write to stderr.
//!
//! [`capture`] notes what fd 2 is at load (device, inode, rdev); [`write`]
//! writes a line to fd 2 only while fd 2 is still that same file. A program
//! that closed its stderr gets its next file, or a connection, as fd 2; our
//! lines must never go there (into its data, or into the peer's stream), so
//! they are dropped instead. An IPv4 or IPv6 socket as fd 2 at load (an
//! inetd-style service talking to its peer on it) is not a stderr either.
//!
//! No copy of fd 2 is kept: holding the write end of a pipe the program
//! closed would keep its reader waiting for an end of file.

use crate::sys::{self, FileId};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const USABLE: u8 = 1;
const UNUSABLE: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
static DEV: AtomicU64 = AtomicU64::new(0);
static INO: AtomicU64 = AtomicU64::new(0);
static RDEV: AtomicU64 = AtomicU64::new(0);

/// Notes what fd 2 is now, the first time it is called in a process (the
/// library's load; a forked child keeps its parent's, an executed program
/// loads the library anew).
#[cold]
pub fn capture() {
    if STATE.load(Ordering::Acquire) != UNKNOWN {
        return;
    }
    let _errno = crate::errno::Guard::save();
    let state = match sys::fstat(2) {
        Ok(id) if !is_network_socket(id) => {
            DEV.store(id.dev, Ordering::Relaxed);
            INO.store(id.ino, Ordering::Relaxed);
            RDEV.store(id.rdev, Ordering::Relaxed);
            USABLE
        }
        _ => UNUSABLE,
    };
    // Racing threads compute the same; the first one publishes.
    let _ = STATE.compare_exchange(UNKNOWN, state, Ordering::Release, Ordering::Relaxed);
}

fn is_network_socket(id: FileId) -> bool {
    id.kind == libc::S_IFSOCK
        && matches!(
            sys::getsockopt_int(2, libc::SOL_SOCKET, libc::SO_DOMAIN),
            Some(libc::AF_INET | libc::AF_INET6)
        )
}

/// True while fd 2 is the stderr [`capture`] saw.
pub fn is_original() -> bool {
    if STATE.load(Ordering::Acquire) != USABLE {
        return false;
    }
    sys::fstat(2).is_ok_and(|now| {
        now.dev == DEV.load(Ordering::Relaxed)
            && now.ino == INO.load(Ordering::Relaxed)
            && now.rdev == RDEV.load(Ordering::Relaxed)
    })
}

/// Writes `line` (whole lines, one write(2)) to the original stderr; false
/// when it is gone and the line was dropped. errno is preserved.
pub fn write(line: &[u8]) -> bool {
    let _errno = crate::errno::Guard::save();
    is_original() && sys::write(2, line).is_ok()
}
