//! Which service a command is about: the unit as the running manager
//! describes it (`systemctl show`: its real name, files, triggering sockets,
//! main process) or, offline, as its files below `--root` do; a socket unit
//! stands for the service it starts. Unknown and masked units end here with
//! their one-line error.

use super::error::{Error, Result};
use super::lookup::{self, Manager, Offline};
use super::systemctl::Systemctl;
use super::unit::{Kind, Unit};
use std::path::PathBuf;

/// A service as the manager (or, offline, its files) describes it.
pub struct Service {
    pub unit: Unit,
    pub fragment: PathBuf,
    pub dropins: Vec<PathBuf>,
    /// The socket units that start it.
    pub sockets: Vec<String>,
    /// Running main process (online only).
    pub main_pid: Option<u32>,
    /// Its control group, as systemd names it (online only).
    pub cgroup: Option<String>,
}

pub enum Lookup {
    Found(Service),
    Masked(String),
    Missing,
}

/// Finds `unit` through the running manager, or offline below `--root`.
pub fn lookup(m: &Manager, unit: &Unit) -> Result<Lookup> {
    if m.offline() {
        let root = &m.fs;
        return Ok(match lookup::find_offline(root, unit) {
            Offline::Missing => Lookup::Missing,
            Offline::Masked => Lookup::Masked(unit.name.clone()),
            Offline::Files {
                id,
                fragment,
                dropins,
            } => {
                let unit = Unit::parse(&id)?;
                let sockets = match unit.kind {
                    Kind::Service => lookup::sockets_for_offline(root, &unit),
                    Kind::Socket => Vec::new(),
                };
                Lookup::Found(Service {
                    unit,
                    fragment,
                    dropins,
                    sockets,
                    main_pid: None,
                    cgroup: None,
                })
            }
        });
    }
    let sc = Systemctl { user: m.user };
    sc.require_running()?;
    let p = sc.show(
        &unit.name,
        &[
            "Id",
            "LoadState",
            "FragmentPath",
            "DropInPaths",
            "TriggeredBy",
            "MainPID",
            "ControlGroup",
        ],
    )?;
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    match get("LoadState") {
        "loaded" => {}
        "masked" => return Ok(Lookup::Masked(unit.name.clone())),
        "not-found" | "" => return Ok(Lookup::Missing),
        other => {
            return Err(Error::Unit(format!(
                "{} could not be loaded ({other}); see systemctl status {}",
                unit.name, unit.name
            )))
        }
    }
    let id = Unit::parse(get("Id")).unwrap_or_else(|_| unit.clone());
    Ok(Lookup::Found(Service {
        unit: id,
        fragment: PathBuf::from(get("FragmentPath")),
        dropins: get("DropInPaths")
            .split_whitespace()
            .map(PathBuf::from)
            .collect(),
        sockets: get("TriggeredBy")
            .split_whitespace()
            .filter(|u| u.ends_with(".socket"))
            .map(String::from)
            .collect(),
        main_pid: get("MainPID").parse().ok().filter(|&pid| pid > 0),
        cgroup: Some(get("ControlGroup").to_string()).filter(|c| !c.is_empty()),
    }))
}

/// The service `unit` names (for a socket: the service it starts), or the
/// one-line error for an unknown or masked unit.
pub fn resolve_service(m: &Manager, unit: &Unit) -> Result<Service> {
    let scope = m.scope();
    let found = match lookup(m, unit)? {
        Lookup::Found(s) => s,
        Lookup::Masked(name) => {
            return Err(Error::Unit(format!(
            "{name} is masked, so it cannot run; unmask it first (systemctl {scope}unmask {name})"
        )))
        }
        Lookup::Missing => {
            let where_ = match m.fs.image_dir() {
                Some(r) => format!("below {}", r.display()),
                None => format!("(systemctl {scope}list-unit-files lists the units there are)"),
            };
            return Err(Error::Unit(format!(
                "unit {} not found {where_}",
                unit.name
            )));
        }
    };
    if found.unit.kind == Kind::Service {
        return Ok(found);
    }
    // A socket: the service it starts, from Service= or its own name
    // (a template instance for Accept=yes).
    let settings = lookup::read_settings(&m.fs, &found.fragment, &found.dropins, |_| true);
    let stem = found.unit.stem().to_string();
    let service = match (settings.socket_service, settings.accept) {
        (Some(s), _) => s,
        (None, true) => format!("{stem}@.service"),
        (None, false) => format!("{stem}.service"),
    };
    let service = Unit::parse(&service)?;
    if service.template().is_none() && service.name.contains("@.") {
        // All instances of an Accept=yes socket: the template's drop-in.
        return Ok(Service {
            unit: service,
            fragment: PathBuf::new(),
            dropins: Vec::new(),
            sockets: vec![found.unit.name],
            main_pid: None,
            cgroup: None,
        });
    }
    let mut svc = resolve_service(m, &service)?;
    if !svc.sockets.contains(&found.unit.name) {
        svc.sockets.push(found.unit.name);
    }
    Ok(svc)
}
