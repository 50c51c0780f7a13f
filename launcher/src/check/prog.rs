//! `check PROG`: which mode `run` would use for PROG and why, from the ELF
//! inspection and policy `run --mode auto` itself uses ([`crate::target`],
//! [`crate::policy`]).

use super::{item, Item, Status};
use crate::policy::{self, Mode};
use crate::target::{self, Kind};
use serde::Serialize;
use std::ffi::OsStr;
use std::path::PathBuf;

/// What `check` says about PROG.
#[derive(Clone, Debug, Serialize)]
pub struct Program {
    /// The file `run` would execute.
    pub path: PathBuf,
    /// The ELF program that really runs (a script's interpreter).
    pub runs: Option<PathBuf>,
    /// `preload` or `seccomp`.
    pub mode: String,
    pub reason: String,
    /// Dynamically linked (has a PT_INTERP).
    pub dynamic: Option<bool>,
    /// The Go version that built it (`go1.22.1`; empty before Go 1.18).
    pub go: Option<String>,
    pub setuid: Option<u32>,
    pub setgid: Option<u32>,
    pub file_caps: bool,
    /// Why the chosen mode cannot work for the current user.
    pub obstacle: Option<String>,
}

/// Inspects PROG; a PROG that cannot be found or read is a usage error.
pub fn inspect(prog: &OsStr) -> Result<Program, target::Error> {
    let target = target::inspect(prog)?;
    if let Some(e) = target.interpreter_error() {
        return Err(e);
    }
    let choice = policy::choose(&target);
    let elf = target.program();
    let privileges = elf.map_or(target.privileges, |(t, _)| t.privileges);
    Ok(Program {
        path: target.path.clone(),
        runs: match target.kind {
            Kind::Script { .. } => elf.map(|(t, _)| t.path.clone()),
            _ => None,
        },
        mode: choice.mode.to_string(),
        reason: choice.reason.clone(),
        dynamic: elf.map(|(_, e)| e.interpreter.is_some()),
        go: elf.and_then(|(_, e)| e.go.as_ref().map(|g| g.version.clone())),
        setuid: privileges.setuid,
        setgid: privileges.setgid,
        file_caps: privileges.file_caps,
        obstacle: policy::privilege_obstacle(&target, choice.mode),
    })
}

impl Program {
    /// The lines `check PROG` adds.
    pub fn items(&self) -> Vec<Item> {
        let mut items = vec![item(
            "program",
            Status::Ok,
            format!("run would use {} mode: {}", self.mode, self.reason),
            None,
        )];
        if let Some(why) = &self.obstacle {
            // The same obstacle stands in the other mode: suggest none.
            items.push(item(
                "program",
                Status::Warn,
                format!("{why}: run mptcpize-rs as the user the program changes to"),
                None,
            ));
        } else if self.mode == Mode::Seccomp.to_string() {
            items.push(item(
                "program",
                Status::Info,
                policy::NO_NEW_PRIVS_NOTE,
                None,
            ));
        }
        items
    }
}
