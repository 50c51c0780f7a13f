//! Running code inside a network namespace from this process: a thread that
//! joins the namespace (setns affects only the calling thread), for what
//! must not pay for a process per call, like sampling interface counters
//! every 100 ms or opening a TUN device there.

use std::os::fd::AsRawFd;
use std::thread::JoinHandle;

/// A thread running inside a network namespace.
pub struct NetnsThread<T>(JoinHandle<Option<T>>);

impl<T> NetnsThread<T> {
    /// Waits for the thread and returns what it returned (Err if it panicked).
    pub fn join(self) -> std::thread::Result<T> {
        // None only when setns failed, and then spawn_in_netns returned Err.
        self.0
            .join()
            .map(|v| v.expect("thread joined its namespace"))
    }
}

/// Runs `f` on a new thread that first joins the network namespace `name`
/// (made by `ip netns add`).
pub fn spawn_in_netns<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<NetnsThread<T>> {
    let file = std::fs::File::open(format!("/run/netns/{name}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        // SAFETY: setns() with an open namespace fd; it changes only this
        // thread's network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            let _ = tx.send(Err(std::io::Error::last_os_error()));
            return None;
        }
        let _ = tx.send(Ok(()));
        Some(f())
    });
    match rx.recv() {
        Ok(Ok(())) => Ok(NetnsThread(handle)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("namespace thread died")),
    }
}

/// Runs `f` inside the network namespace `name` and returns its result.
pub fn in_netns<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    spawn_in_netns(name, f)?
        .join()
        .map_err(|_| std::io::Error::other("panic inside the namespace thread"))
}
