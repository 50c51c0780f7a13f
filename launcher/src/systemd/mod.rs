//! `mptcpize-rs enable|disable|status UNIT`: systemd services that use
//! MPTCP from their next start, through a drop-in of ours rather than by
//! editing the unit file, so that package upgrades keep it and `disable`
//! can take exactly it away again.
//!
//! The steps, each in its own module: name the unit ([`unit`]); find its
//! files, the sockets that start it and its main process ([`resolve`]),
//! from the running manager ([`systemctl`]) or offline below `--root`
//! ([`lookup`]); read its own environment ([`unitfile`]); check the shim
//! ([`trust`]); render the drop-ins ([`dropin`]) and put them in place
//! ([`place`]) without following symlinks ([`safefs`]). [`enable`],
//! [`disable`] and [`status`] are the subcommands. This file holds what
//! they share: the manager the flags select and the shim's path.

mod disable;
mod dropin;
mod enable;
mod lookup;
mod place;
mod resolve;
mod safefs;
mod status;
mod systemctl;
mod trust;
mod unit;
mod unitfile;

pub use disable::disable;
pub use enable::enable;
pub use status::status;

use crate::cli::UnitArgs;
use crate::failure::{Failure, FAILED};
use crate::locate;
use lookup::Manager;
use std::path::{Path, PathBuf};

pub(crate) fn fail(message: impl Into<String>) -> Failure {
    Failure::new(FAILED, message)
}

pub(crate) fn warn(message: impl std::fmt::Display) {
    eprintln!("mptcpize-rs: warning: {message}");
}

/// The manager the flags select, after checking they go together.
pub(crate) fn manager(args: &UnitArgs) -> Result<Manager, Failure> {
    if let Some(root) = &args.root {
        if args.user {
            return Err(fail(
                "--user and --root do not go together: --root works on an image's system units",
            ));
        }
        if !root.is_dir() {
            return Err(fail(format!(
                "--root {}: no such directory",
                root.display()
            )));
        }
    }
    let root = match &args.root {
        Some(r) => Some(
            r.canonicalize()
                .map_err(|e| fail(format!("--root {}: {e}", r.display())))?,
        ),
        None => None,
    };
    Ok(Manager {
        user: args.user,
        runtime: args.runtime,
        root,
    })
}

/// The shim's absolute path as the services will see it, checked to exist.
pub(crate) fn shim_path(m: &Manager, given: Option<&Path>) -> Result<PathBuf, Failure> {
    let path = match (given, &m.root) {
        (Some(p), _) if !p.is_absolute() => {
            return Err(fail(format!(
                "--shim {}: give an absolute path, the services do not run in this directory",
                p.display()
            )))
        }
        (Some(p), Some(_)) => p.to_path_buf(),
        (Some(p), None) => match p.canonicalize() {
            Ok(canonical) => canonical,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => p.to_path_buf(),
            Err(e) => {
                return Err(fail(format!(
                    "the shim {} cannot be used: {e}",
                    p.display()
                )))
            }
        },
        (None, Some(_)) => Path::new(locate::COMPILED_IN).join(locate::SHIM_NAME),
        (None, None) => locate::shim().map_err(|f| fail(f.message))?,
    };
    let host = m.host_path(&path);
    if !host.is_file() {
        let inside = match &m.root {
            Some(r) => format!(" in {}; install mptcpize-rs into the image, or pass --shim with the path the image has it at", r.display()),
            None => "; pass --shim with the path of libmptcpize.so".into(),
        };
        return Err(fail(format!(
            "the shim {} does not exist{inside}",
            path.display()
        )));
    }
    let s = path.to_string_lossy();
    if s.contains([':', ' ', '\t', '\n', '%', '"', '\\']) {
        return Err(fail(format!(
            "the shim path {s:?} has a character LD_PRELOAD or systemd cannot carry (':', '%', quotes, blanks); install it under a plain path"
        )));
    }
    Ok(path)
}

/// The control group of a running unit of the system manager, as
/// /proc/PID/cgroup names it (for `top --unit`).
pub fn control_group(arg: &str) -> Result<String, Failure> {
    let unit = unit::Unit::parse(arg)?;
    let systemctl = systemctl::Systemctl { user: false };
    systemctl.require_running()?;
    let cg = systemctl
        .show(&unit.name, &["ControlGroup"])?
        .remove("ControlGroup")
        .unwrap_or_default();
    if cg.is_empty() {
        return Err(fail(format!(
            "{} is not running (it has no control group); start it, or pick its processes with -p PID",
            unit.name
        )));
    }
    Ok(cg)
}
