//! `run --report=FILE`: the destination is checked once, here, before PROG
//! starts, so that a report can never land where the user did not point.
//! The report library then opens what the launcher names with
//! `O_APPEND|O_NOFOLLOW|O_NONBLOCK`; it never re-opens a path per line. In
//! seccomp mode the supervisor writes through the descriptor opened here.
//!
//! - a regular file is appended to, never truncated; a missing one is
//!   created 0600 (less the umask), as the report library would;
//! - a symlink as the last component is refused (we never write through
//!   one: the target may be anything);
//! - a block device is refused (O_APPEND means nothing there: its first
//!   bytes would be overwritten);
//! - a FIFO needs a reader now, and a character device is opened without
//!   blocking: neither can ever hold PROG up;
//! - a directory, a missing parent, no permission: refused, in the
//!   system's words.

use crate::say;
use mptcpize_rules::report_file;
use rustix::fs::{FileType, Mode, OFlags};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Why the report cannot go to `path` (exit 125 in `run`).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report to {}: {why}; choose another --report=FILE", .path.display())]
pub struct Error {
    path: PathBuf,
    why: String,
}

/// A destination found safe to append to.
#[derive(Debug)]
pub enum Destination {
    /// The stderr PROG starts with.
    Stderr,
    /// FILE made absolute (PROG may change directory), and the descriptor
    /// it was opened with (close-on-exec: PROG never inherits it; the
    /// seccomp supervisor writes through it).
    File { path: PathBuf, fd: OwnedFd },
}

impl Destination {
    /// The value for `MPTCPIZE_REPORT`: `stderr` or the absolute path.
    pub fn env_value(&self) -> PathBuf {
        match self {
            Destination::Stderr => PathBuf::from("stderr"),
            Destination::File { path, .. } => path.clone(),
        }
    }
}

/// Checks `to` (`stderr`, `-` or FILE) and opens FILE as the report library
/// would.
pub fn open(to: &Path) -> Result<Destination, Error> {
    if to.as_os_str() == "stderr" || to.as_os_str() == "-" {
        return Ok(Destination::Stderr);
    }
    let refuse = |why: String| Error {
        path: to.to_path_buf(),
        why,
    };
    let path = std::path::absolute(to).map_err(|e| refuse(say::short(&e)))?;
    let refuse = |why: String| Error {
        path: path.clone(),
        why,
    };
    // Look before opening: opening a device can have effects of its own.
    let file_type = match rustix::fs::lstat(&path) {
        Ok(st) => Some(FileType::from_raw_mode(st.st_mode)),
        Err(rustix::io::Errno::NOENT) => None,
        Err(e) => return Err(refuse(words(e))),
    };
    if let Some(why) = file_type.and_then(refusal) {
        return Err(refuse(why.into()));
    }
    // As the report library opens it (one rule: mptcpize_rules::report_file).
    let flags = OFlags::from_bits_retain(report_file::OPEN_FLAGS as u32);
    let mode = Mode::from_raw_mode(report_file::CREATE_MODE);
    let fd = rustix::fs::open(&path, flags, mode).map_err(|e| {
        refuse(match e {
            rustix::io::Errno::LOOP => "is a symbolic link; name the file itself".into(),
            rustix::io::Errno::NXIO => "is a FIFO with no reader; start the reader first".into(),
            e => words(e),
        })
    })?;
    // What was opened, in case the path changed since we looked.
    let st = rustix::fs::fstat(&fd).map_err(|e| refuse(words(e)))?;
    if let Some(why) = refusal(FileType::from_raw_mode(st.st_mode)) {
        return Err(refuse(why.into()));
    }
    Ok(Destination::File { path, fd })
}

/// Why a file of this type never takes a report.
fn refusal(t: FileType) -> Option<&'static str> {
    match t {
        FileType::Symlink => Some("is a symbolic link; name the file itself"),
        FileType::BlockDevice => {
            Some("is a block device; the report would overwrite its first bytes")
        }
        FileType::Directory => Some("is a directory"),
        FileType::Socket => Some("is a socket"),
        _ => None,
    }
}

fn words(e: rustix::io::Errno) -> String {
    say::short(&e.into())
}
