//! `mptcpize-rs status UNIT`: whether the unit has a drop-in of ours (in
//! the persistent or the runtime directory), which shim it names and
//! whether that file exists, and whether the running main process has the
//! shim mapped (/proc/PID/maps): "active" versus "enabled, takes effect on
//! restart". Exit status 0 when enabled by us, 3 when not (as systemctl's).

use super::dropin;
use super::place::{existing, Existing};
use super::resolve::resolve_service;
use super::unit::Unit;
use super::{fail, manager};
use crate::cli::UnitArgs;
use crate::error::SUCCESS;
use std::path::Path;

/// Exit status when the unit is not enabled by us.
const NOT_ENABLED: u8 = 3;

pub fn status(args: UnitArgs) -> Result<u8, super::Error> {
    let m = manager(&args)?;
    let unit = Unit::parse(&args.unit)?;
    let svc = resolve_service(&m, &unit)?;
    let name = &svc.unit.name;
    let mut found = Vec::new();
    for base in m.all_bases()? {
        if let Existing {
            ours: Some((_, ours)),
            ..
        } = existing(&base, &format!("{name}.d"))?
        {
            found.push((base.join(format!("{name}.d")).join(dropin::FILE_NAME), ours));
        }
    }
    let mapped = |shim: &str| svc.main_pid.is_some_and(|pid| has_mapped(pid, shim));
    let Some((path, ours)) = found.first() else {
        println!("{name}: not enabled by mptcpize-rs");
        if let Some(pid) = svc.main_pid {
            if maps(pid).contains(crate::locate::SHIM_NAME) {
                println!("  main process: pid {pid} still has a {} mapped; restart the service to end that", crate::locate::SHIM_NAME);
            }
        }
        return Ok(NOT_ENABLED);
    };
    let shim = ours.shim.clone().unwrap_or_default();
    let state = if m.root.is_some() {
        "enabled (offline image: takes effect when the service starts)"
    } else if mapped(&shim) {
        "active"
    } else {
        "enabled, takes effect on restart"
    };
    println!("{name}: {state}");
    println!("  drop-in: {}", path.display());
    for (other, _) in &found[1..] {
        println!("  also: {}", other.display());
    }
    let exists = m.host_path(Path::new(&shim)).is_file();
    println!(
        "  shim: {shim} ({})",
        if exists {
            "present"
        } else {
            "MISSING: the service will start without MPTCP; reinstall it or run enable again"
        }
    );
    match svc.main_pid {
        Some(pid) if mapped(&shim) => println!("  main process: pid {pid}, shim mapped"),
        Some(pid) => println!(
            "  main process: pid {pid}, shim not mapped (started before enable; restart it)"
        ),
        None if m.root.is_none() => println!("  main process: not running"),
        None => {}
    }
    for s in &ours.sockets {
        println!("  socket {s}: SocketProtocol=mptcp");
    }
    if !exists {
        return Err(fail(format!(
            "{name}: the shim {shim} named in {} does not exist",
            path.display()
        )));
    }
    Ok(SUCCESS)
}

fn maps(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default()
}

/// Whether process `pid` has the file `shim` mapped.
fn has_mapped(pid: u32, shim: &str) -> bool {
    let canonical = std::fs::canonicalize(shim)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| shim.to_string());
    maps(pid).lines().any(|l| {
        let path = l.split_whitespace().nth(5).unwrap_or_default();
        path == shim || path == canonical
    })
}
