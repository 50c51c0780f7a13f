//! Our own lines on stderr: `mptcpize-rs: …`, written best-effort. A full
//! disk, a closed pipe or a closed stderr never stops the launcher (nor,
//! therefore, the program it starts): the write error is dropped, and
//! SIGPIPE is ignored by the launcher itself (see [`ignore_sigpipe`]).

use std::fmt;
use std::io::Write;

/// `mptcpize-rs: {what}` and a newline, in one write.
pub fn line(what: fmt::Arguments<'_>) {
    let text = format!("mptcpize-rs: {what}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `mptcpize-rs: warning: {what}`.
pub fn warn(what: fmt::Arguments<'_>) {
    line(format_args!("warning: {what}"));
}

/// Writes `text` on stdout, where it is the subcommand's product: an error
/// is returned (one line and exit 1 in `main`), never a panic.
pub fn out(text: &str) -> Result<(), crate::error::Error> {
    out_bytes(text.as_bytes())
}

/// [`out`] for bytes (a path need not be UTF-8).
pub fn out_bytes(bytes: &[u8]) -> Result<(), crate::error::Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(crate::error::Error::Output)
}

/// The disposition SIGPIPE had when the launcher started.
static SIGPIPE_WAS_IGNORED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Makes a closed pipe an EPIPE error for the launcher (and the supervisor
/// it forks) instead of a fatal signal. PROG gets the disposition back
/// (see [`restore_sigpipe`]).
pub fn ignore_sigpipe() {
    // SAFETY: SIG_IGN is no handler: no code of ours runs on the signal.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    SIGPIPE_WAS_IGNORED.store(old == libc::SIG_IGN, std::sync::atomic::Ordering::Relaxed);
}

/// In a child about to exec (a `pre_exec` hook, after std reset SIGPIPE to
/// its default): PROG gets the disposition the launcher was started with.
/// Async-signal-safe.
pub fn restore_sigpipe() {
    if SIGPIPE_WAS_IGNORED.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: as in ignore_sigpipe.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    }
}

/// An I/O error in the system's words, without std's " (os error N)".
pub fn short(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
