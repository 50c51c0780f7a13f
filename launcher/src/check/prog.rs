//! `check PROG`: which mode `run` would use for PROG and why, from the ELF
//! inspection `run --mode auto` itself uses ([`crate::target`]).

use super::{item, Item, Status};
use crate::failure::{Failure, CANNOT_EXECUTE, NOT_FOUND};
use crate::target::{self, Kind, Mode};
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
pub fn inspect(prog: &OsStr) -> Result<Program, Failure> {
    let target = target::inspect(prog).map_err(|e| match e {
        target::Error::NotFound { .. } => Failure::new(NOT_FOUND, e.to_string()),
        target::Error::NotExecutable { .. } => Failure::new(CANNOT_EXECUTE, e.to_string()),
    })?;
    let choice = target::choose_mode(&target);
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
        obstacle: target::privilege_obstacle(&target, choice.mode),
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
            let other = if self.mode == Mode::Preload.to_string() {
                Mode::Seccomp
            } else {
                Mode::Preload
            };
            items.push(item(
                "program",
                Status::Warn,
                format!(
                    "{why}: run it as the user it changes to, or try `mptcpize-rs run --mode {other}`"
                ),
                None,
            ));
        }
        items
    }
}
