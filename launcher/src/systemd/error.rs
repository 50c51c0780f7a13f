//! What can go wrong in `enable`, `disable` and `status`, by kind. Each
//! error's text is the one line the user reads; which exit code a kind gets
//! is decided near `main`, not here.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The unit named cannot be worked on: not a valid name, not a service
    /// or socket, not found, masked, not loadable.
    #[error("{0}")]
    Unit(String),
    /// An option's value cannot be used (`--shim`, `--root`, `HOME`).
    #[error("{0}")]
    Usage(String),
    /// We will not touch something: a file that is not ours, a symlink
    /// where a directory or drop-in belongs, a drop-in an admin edited, a
    /// shim others could replace, a program no mode reaches.
    #[error("refusing: {0}")]
    Refused(String),
    /// A file operation failed.
    #[error("{}: {}", path.display(), crate::say::short(source))]
    Io { path: PathBuf, source: io::Error },
    /// No permission to change the manager's directories.
    #[error("no permission to write in {}; run as root (or, for your own services, use --user)", .0.display())]
    Permission(PathBuf),
    /// The manager's directory is on a read-only file system.
    #[error("{} is on a read-only file system; remount it read-write (mount -o remount,rw), or use --runtime for /run", .0.display())]
    ReadOnly(PathBuf),
    /// What we set up no longer works (the shim a drop-in names is gone).
    #[error("{0}")]
    Broken(String),
    /// The service manager failed, or there is none.
    #[error("{0}")]
    Manager(String),
    /// A change of several files failed part way; what was done is put
    /// back (`left` names what could not be).
    #[error("{cause}; {}", if left.is_empty() { "nothing was changed (what was written is rolled back)".to_string() } else { format!("could not put back: {}", left.join(", ")) })]
    Undone {
        cause: Box<Error>,
        left: Vec<String>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

impl Error {
    /// `cause`, after a rollback that left `left` behind.
    pub fn undone(cause: Error, left: Vec<String>) -> Error {
        Error::Undone {
            cause: Box::new(cause),
            left,
        }
    }
}
