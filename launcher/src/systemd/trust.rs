//! The security rule for system units: their services run as root, so the
//! shim they preload must be as trustworthy as the unit files. It must be
//! owned by root and not writable by anyone else, and so must every
//! directory above it; otherwise another user could replace it and run code
//! as root in every service we enabled.

use super::lookup::Manager;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const ADVICE: &str = "install it owned by root in a directory only root can write to (e.g. install -D -o root -g root -m 0644 libmptcpize.so /usr/local/lib/mptcpize-rs/libmptcpize.so) and pass --shim with that path";

/// Fails unless `shim` (as the services see it) is safe for root services.
pub fn check(m: &Manager, shim: &Path) -> Result<(), super::Error> {
    for (i, path) in shim.ancestors().enumerate() {
        let host = m.host_path(path);
        let meta = std::fs::metadata(&host)
            .map_err(|e| super::fail(format!("cannot check {}: {e}", host.display())))?;
        let what = if i == 0 {
            format!("the shim {}", shim.display())
        } else {
            format!("{} (a directory above the shim)", path.display())
        };
        if meta.uid() != 0 {
            return Err(super::fail(format!(
                    "refusing: {what} is owned by uid {}, not root, and system services load the shim as root; {ADVICE}",
                    meta.uid()
                ),
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(super::fail(format!(
                    "refusing: {what} is writable by others (mode {:o}), and system services load the shim as root; {ADVICE}",
                    meta.mode() & 0o7777
                ),
            ));
        }
    }
    Ok(())
}
