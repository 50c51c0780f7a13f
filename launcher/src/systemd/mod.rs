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
pub mod error;
mod exec;
mod listeners;
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
pub use error::Error;
pub use status::status;

use crate::cli::ScopeArgs;
use crate::locate;
use error::Result;
use lookup::Manager;
use safefs::Root;
use std::path::{Path, PathBuf};

/// Prints a line of what a command did, best-effort: when stdout is full or
/// closed the work is done all the same (only `status`, whose output is its
/// product, reports that as an error).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use say;

pub(crate) fn warn(message: impl std::fmt::Display) {
    crate::say::warn(format_args!("{message}"));
}

/// The manager the flags select (clap has checked they go together).
pub(crate) fn manager(args: &ScopeArgs) -> Result<Manager> {
    let fs = match &args.root {
        Some(dir) => Root::image(dir).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such directory".to_string(),
                _ => crate::say::short(&e).to_lowercase(),
            };
            Error::Usage(format!("--root {}: {why}", dir.display()))
        })?,
        None => Root::host().map_err(Error::io("/"))?,
    };
    Ok(Manager {
        user: args.user,
        runtime: args.runtime,
        fs,
    })
}

/// The shim's absolute path as the services will see it, checked to exist.
pub(crate) fn shim_path(m: &Manager, given: Option<&Path>) -> Result<PathBuf> {
    let path = match (given, m.offline()) {
        (Some(p), _) if !p.is_absolute() => {
            return Err(Error::Usage(format!(
                "--shim {}: give an absolute path, the services do not run in this directory",
                p.display()
            )))
        }
        (Some(p), true) => p.to_path_buf(),
        (Some(p), false) => match p.canonicalize() {
            Ok(canonical) => canonical,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => p.to_path_buf(),
            Err(e) => {
                return Err(Error::Usage(format!(
                    "the shim {} cannot be used: {}",
                    p.display(),
                    crate::say::short(&e)
                )))
            }
        },
        (None, true) => Path::new(locate::COMPILED_IN).join(locate::SHIM_NAME),
        (None, false) => locate::shim().map_err(|e| Error::Usage(e.to_string()))?,
    };
    let is_file =
        m.fs.stat(&path)
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file());
    if !is_file {
        let inside = match m.fs.image_dir() {
            Some(r) => format!(" in {}; install mptcpize-rs into the image, or pass --shim with the path the image has it at", r.display()),
            None => "; pass --shim with the path of libmptcpize.so".into(),
        };
        return Err(Error::Usage(format!(
            "the shim {} does not exist{inside}",
            path.display()
        )));
    }
    let s = path.to_string_lossy();
    if s.contains([':', ' ', '\t', '\n', '%', '"', '\\']) {
        return Err(Error::Usage(format!(
            "the shim path {s:?} has a character LD_PRELOAD or systemd cannot carry (':', '%', quotes, blanks); install it under a plain path"
        )));
    }
    Ok(path)
}

/// The control group of a running unit of the system manager, or of the
/// user's with `user` (under `user@UID.service`), as /proc/PID/cgroup names
/// it (for `top --unit`, `top --user --unit`).
pub fn control_group(arg: &str, user: bool) -> Result<String> {
    let unit = unit::Unit::parse(arg)?;
    let systemctl = systemctl::Systemctl { user };
    systemctl.require_running()?;
    let cg = systemctl
        .show(&unit.name, &["ControlGroup"])?
        .remove("ControlGroup")
        .unwrap_or_default();
    if cg.is_empty() {
        return Err(Error::Unit(format!(
            "{} is not running (it has no control group); start it, or pick its processes with -p PID",
            unit.name
        )));
    }
    Ok(cg)
}
