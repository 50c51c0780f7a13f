//! The security rule for system units: their services run as root, so the
//! shim they preload must be as trustworthy as the unit files. It must be
//! owned by root and not writable by anyone else, and so must every
//! directory the services' root passes through to reach it, including the
//! directories that symlinks on the way lead to (each resolved as the
//! services' root resolves it: inside the image with `--root`); otherwise
//! another user could replace it and run code as root in every service we
//! enabled.

use super::error::{Error, Result};
use super::safefs::Root;
use rustix::fs::FileType;
use std::io;
use std::path::Path;

const ADVICE: &str = "install it owned by root in a directory only root can write to (e.g. install -D -o root -g root -m 0644 libmptcpize.so /usr/local/lib/mptcpize-rs/libmptcpize.so) and pass --shim with that path";

/// Fails unless `shim` (as the services see it) is safe for root services.
pub fn check(root: &Root, shim: &Path, kind: &str) -> Result<()> {
    let mut bad = None;
    let walked = root
        .walk(shim, |path, st| {
            if bad.is_some() || FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                // A symlink's own owner and mode do not matter: only whoever
                // may write its directory (checked already) can change it.
                return Ok(());
            }
            let mode = st.st_mode & 0o7777;
            if st.st_uid != 0 {
                bad = Some((
                    path.to_path_buf(),
                    format!("is owned by uid {}, not root", st.st_uid),
                ));
            } else if mode & 0o022 != 0 {
                bad = Some((
                    path.to_path_buf(),
                    format!("is writable by others (mode {mode:o})"),
                ));
            }
            Ok(())
        })
        .map_err(|e: io::Error| {
            Error::Usage(format!(
                "cannot check the shim {}: {}",
                root.shown(shim).display(),
                crate::say::short(&e)
            ))
        })?;
    let Some((path, why)) = bad else {
        return Ok(());
    };
    let what = if path == walked.real {
        format!("{kind} {}", shim.display())
    } else if walked.real.starts_with(&path) && walked.real == shim {
        format!("{} (a directory above the shim)", path.display())
    } else if walked.real.starts_with(&path) {
        format!(
            "{} (a directory above the shim's real path {})",
            path.display(),
            walked.real.display()
        )
    } else {
        format!(
            "{} (on the way to the shim through a symlink)",
            path.display()
        )
    };
    let advice = if kind == "the launcher" {
        "install mptcpize-rs owned by root in a directory only root can write to (e.g. install -D -o root -g root -m 0755 mptcpize-rs /usr/local/bin/mptcpize-rs) and run enable from there"
    } else {
        ADVICE
    };
    Err(Error::Refused(format!(
        "{what} {why}, and system services run {kind} as root; {advice}"
    )))
}
