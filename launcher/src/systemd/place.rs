//! One place a drop-in of ours goes, `<base>/<unit>.d/90-mptcpize.conf`:
//! what is there now (nothing, ours, or something we must not touch, such as
//! a planted symlink or another's file of that name), whether we may write
//! there, and writing it through [`safefs`](super::safefs).

use super::safefs::{self, Dir};
use super::{dropin, fail};
use std::path::Path;

/// The state of `<base>/<dir>/90-mptcpize.conf`.
pub struct Existing {
    pub dir_exists: bool,
    /// Our drop-in's text and what it records, if there is one.
    pub ours: Option<(String, dropin::Ours)>,
}

/// Looks at one drop-in place without following symlinks, refusing files
/// that are not ours.
pub fn existing(base: &Path, dir: &str) -> Result<Existing, super::Error> {
    let none = Existing {
        dir_exists: false,
        ours: None,
    };
    let b = match Dir::open(base) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(none),
        Err(e) => return Err(fail(format!("{}: {e}", base.display()))),
    };
    let shown = base.join(dir);
    let d = match b.subdir(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(none),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
            return Err(fail(format!(
                "refusing: {} is a symlink or not a directory; drop-ins go in a real directory (remove it, and check who made it)",
                shown.display()
            )))
        }
        Err(e) => return Err(fail(format!("{}: {e}", shown.display()))),
    };
    let file = shown.join(dropin::FILE_NAME);
    match d.read(dropin::FILE_NAME) {
        Ok(None) => Ok(Existing {
            dir_exists: true,
            ours: None,
        }),
        Ok(Some(text)) => match dropin::parse(&text) {
            Some(ours) => Ok(Existing {
                dir_exists: true,
                ours: Some((text, ours)),
            }),
            None => Err(fail(format!(
                "refusing: {} exists and was not written by mptcpize-rs; leaving it alone (move it away if it is stale)",
                file.display()
            ))),
        },
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) || e.kind() == std::io::ErrorKind::InvalidData => Err(fail(format!(
            "refusing: {} is a symlink or not a regular file; never following it (remove it, and check who made it)",
            file.display()
        ))),
        Err(e) => Err(fail(format!("{}: {e}", file.display()))),
    }
}

pub fn permission_check(base: &Path) -> Result<(), super::Error> {
    if safefs::can_write(base) {
        return Ok(());
    }
    Err(fail(format!(
        "no permission to write in {}; run as root (or, for your own services, use --user)",
        base.display()
    )))
}

/// Writes `text` as our drop-in in `<base>/<dir>`, creating `dir` first
/// when `create_dir`.
pub fn write(base: &Path, dir: &str, text: &str, create_dir: bool) -> Result<(), super::Error> {
    let path = base.join(dir);
    let io = |e: std::io::Error| fail(format!("cannot write in {}: {e}", path.display()));
    let b = Dir::open(base).map_err(io)?;
    if create_dir {
        b.mkdir(dir).map_err(io)?;
    }
    let d = b.subdir(dir).map_err(io)?;
    d.write_atomic(dropin::FILE_NAME, text).map_err(io)
}

/// Removes our drop-in from `<base>/<dir>`, and `dir` if we created it and
/// it is left empty.
pub fn remove(base: &Path, dir: &str, created_dir: bool) -> Result<(), super::Error> {
    let path = base.join(dir);
    let io = |e: std::io::Error| fail(format!("cannot remove from {}: {e}", path.display()));
    let b = Dir::open(base).map_err(io)?;
    let d = b.subdir(dir).map_err(io)?;
    d.remove(dropin::FILE_NAME).map_err(io)?;
    if created_dir && d.is_empty().map_err(io)? {
        b.rmdir(dir).map_err(io)?;
    }
    Ok(())
}
