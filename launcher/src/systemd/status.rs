//! `mptcpize-rs status [UNIT…]`: for each unit, whether a drop-in of ours
//! is on disk (in the persistent or the runtime directory, its own or its
//! template's), whether it is still as we wrote it, which shim it names and
//! whether that file exists, whether the socket drop-ins it records are
//! there, what in the unit would stop the shim (`UnsetEnvironment=`), and
//! whether the running processes of the unit have the shim mapped
//! (/proc/PID/maps): "active" versus "enabled, takes effect on restart".
//! Without UNIT, every unit enabled by mptcpize-rs, one line each. Only
//! what is on disk or running is reported, never what we meant to write.
//! Exit status 0 when every unit named is enabled by us, 3 when one is not
//! (as systemctl's), 1 when a shim is missing.

use super::error::{Error, Result};
use super::listeners::{self, Listener};
use super::lookup::{self, Manager};
use super::place::{existing, Existing};
use super::resolve::{lookup, resolve_service, Lookup, Service};
use super::unit::Unit;
use super::{dropin, manager};
use crate::cli::StatusArgs;
use serde::Serialize;
use std::path::Path;

/// Exit status when a unit is not enabled by us.
const NOT_ENABLED: u8 = 3;

/// What `status` found about one unit (also its `--json` form).
#[derive(Serialize, Debug, Default)]
struct Report {
    unit: String,
    enabled: bool,
    /// `active`, `enabled` (takes effect on restart), `offline` (an image),
    /// `not-enabled`, or `not-found` (our drop-in for a unit that is gone).
    state: &'static str,
    /// Our drop-in (the first found) and any further ones.
    dropin: Option<String>,
    also: Vec<String>,
    /// The template whose drop-in enables this instance.
    template: Option<String>,
    /// False when an admin edited our drop-in.
    intact: bool,
    /// `preload` (LD_PRELOAD drop-in) or `seccomp` (command lines wrapped).
    mode: Option<String>,
    /// Seccomp mode: the unit's ExecStart= changed since enable wrapped it.
    stale: bool,
    /// The shim (preload) or the launcher (seccomp) the drop-in names, and
    /// whether that file exists.
    shim: Option<String>,
    launcher: Option<String>,
    shim_present: bool,
    /// The unit's running processes, and those with the shim mapped.
    main_pid: Option<u32>,
    processes: Vec<u32>,
    shim_mapped: Vec<u32>,
    /// Seccomp mode: the unit's processes running the launcher (the
    /// supervisor among them).
    supervisor: Vec<u32>,
    /// The unit's listening TCP and MPTCP sockets right now.
    listeners: Vec<Listener>,
    sockets: Vec<SocketReport>,
    /// What in the unit stops the shim or GODEBUG (`UnsetEnvironment=`).
    problems: Vec<String>,
}

#[derive(Serialize, Debug)]
struct SocketReport {
    unit: String,
    /// Our `SocketProtocol=mptcp` drop-in for it, when it is on disk.
    dropin: Option<String>,
}

/// `mptcpize-rs status [UNIT…]`.
pub fn status(args: StatusArgs) -> Result<u8, crate::error::Error> {
    let m = manager(&args.scope)?;
    let listing = args.units.is_empty();
    let names = if listing {
        enabled_units(&m)?
    } else {
        args.units.clone()
    };
    let mut reports = Vec::new();
    for name in &names {
        let unit = Unit::parse(name)?;
        let svc = if listing {
            match lookup(&m, &unit)? {
                Lookup::Found(svc) => Some(svc),
                _ => None,
            }
        } else {
            Some(resolve_service(&m, &unit)?)
        };
        reports.push(report(&m, &unit, svc.as_ref())?);
    }
    let text = if args.json {
        serde_json::to_string_pretty(&reports).unwrap_or_default() + "\n"
    } else if listing {
        listing_lines(&m, &reports)
    } else {
        reports.iter().map(|r| details(&m, r)).collect()
    };
    crate::say::out(&text)?;
    if let Some(r) = reports.iter().find(|r| r.enabled && !r.shim_present) {
        return Err(crate::error::Error::from(Error::Broken(format!(
            "{}: the {} {} named in {} does not exist",
            r.unit,
            if r.launcher.is_some() {
                "launcher"
            } else {
                "shim"
            },
            r.shim
                .as_deref()
                .or(r.launcher.as_deref())
                .unwrap_or_default(),
            r.dropin.as_deref().unwrap_or_default()
        ))));
    }
    Ok(if reports.iter().all(|r| r.enabled) {
        0
    } else {
        NOT_ENABLED
    })
}

/// The services with a drop-in of ours in any base of the manager, sorted.
fn enabled_units(m: &Manager) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for base in m.all_bases()? {
        let Ok(dir) = m.fs.dir(&base) else {
            continue;
        };
        for entry in dir.names().unwrap_or_default() {
            let Some(unit) = entry.strip_suffix(".d") else {
                continue;
            };
            if !unit.ends_with(".service") || out.iter().any(|u| u == unit) {
                continue;
            }
            if let Ok(Existing { ours: Some(_), .. }) = existing(&m.fs, &base, &entry) {
                out.push(unit.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What is on disk and running for `unit` (`svc`: the service it names,
/// None when it is gone).
fn report(m: &Manager, unit: &Unit, svc: Option<&Service>) -> Result<Report> {
    let name = svc.map_or(&unit.name, |s| &s.unit.name);
    let mut r = Report {
        unit: name.clone(),
        ..Report::default()
    };
    let template = Unit::parse(name).ok().and_then(|u| u.template());
    let mut found = Vec::new();
    for dir in std::iter::once(name.clone()).chain(template.clone()) {
        for base in m.all_bases()? {
            if let Existing {
                ours: Some((_, ours)),
                ..
            } = existing(&m.fs, &base, &format!("{dir}.d"))?
            {
                found.push((base, dir.clone(), ours));
            }
        }
        if !found.is_empty() {
            break;
        }
    }
    let mut exec_start = Vec::new();
    if let Some(svc) = svc {
        r.main_pid = svc.main_pid;
        r.processes = processes(svc);
        r.listeners = listeners::of(&r.processes);
        let settings = lookup::read_settings(&m.fs, &svc.fragment, &svc.dropins, |p| {
            p.file_name() != Some(std::ffi::OsStr::new(dropin::FILE_NAME))
        });
        exec_start = settings.exec_start.iter().map(|(v, _)| v.clone()).collect();
        for var in ["LD_PRELOAD", "GODEBUG"] {
            if let Some((entry, file)) = settings
                .unset_env
                .iter()
                .find(|(e, _)| e == var || e.split_once('=').is_some_and(|(k, _)| k == var))
            {
                r.problems.push(format!(
                    "UnsetEnvironment={entry} in {}: {}",
                    m.shown(file).display(),
                    if var == "LD_PRELOAD" {
                        "the shim never loads"
                    } else {
                        "Go programs keep TCP sockets"
                    }
                ));
            }
        }
    }
    let Some((base, dir, ours)) = found.first() else {
        r.state = "not-enabled";
        return Ok(r);
    };
    r.enabled = true;
    r.intact = ours.intact;
    r.template = (dir != name).then(|| dir.clone());
    let path = |base: &Path, dir: &str| {
        m.shown(&base.join(format!("{dir}.d")).join(dropin::FILE_NAME))
            .display()
            .to_string()
    };
    r.dropin = Some(path(base, dir));
    r.also = found[1..].iter().map(|(b, d, _)| path(b, d)).collect();
    let file = ours.shim.clone().unwrap_or_default();
    r.shim_present =
        m.fs.stat(Path::new(&file))
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file());
    let seccomp = ours.mode.as_deref() == Some("seccomp");
    r.mode = Some(if seccomp { "seccomp" } else { "preload" }.to_string());
    if seccomp {
        r.stale = svc.is_some() && exec_start != ours.wrapped;
        r.supervisor = those(&r.processes, |pid| runs(pid, &file));
        r.launcher = Some(file);
    } else {
        r.shim_mapped = those(&r.processes, |pid| has_mapped(pid, &file));
        r.shim = Some(file);
    }
    for s in &ours.sockets {
        let dir = format!("{s}.d");
        let on_disk = matches!(
            existing(&m.fs, base, &dir),
            Ok(Existing { ours: Some(_), .. })
        );
        r.sockets.push(SocketReport {
            unit: s.clone(),
            dropin: on_disk.then(|| path(base, s)),
        });
    }
    r.state = if svc.is_none() {
        "not-found"
    } else if m.offline() {
        "offline"
    } else if !r.shim_mapped.is_empty() || !r.supervisor.is_empty() {
        "active"
    } else {
        "enabled"
    };
    Ok(r)
}

/// The words for a report's state.
fn state_words(r: &Report) -> &'static str {
    match r.state {
        "active" => "active",
        "enabled" => "enabled, takes effect on restart",
        "offline" => "enabled (offline image: takes effect when the service starts)",
        "not-found" => "enabled, but the unit is gone (mptcpize-rs disable removes our drop-in)",
        _ => "not enabled by mptcpize-rs",
    }
}

/// One line per unit, for `status` without UNIT.
fn listing_lines(m: &Manager, reports: &[Report]) -> String {
    if reports.is_empty() {
        let scope = if m.user { " --user" } else { "" };
        return format!("no unit is enabled by mptcpize-rs{scope}\n");
    }
    let width = reports.iter().map(|r| r.unit.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in reports {
        let mut line = format!("{:width$}  {}", r.unit, state_words(r));
        if r.enabled && !m.offline() {
            line.push_str(&match (r.processes.len(), r.mode.as_deref()) {
                (0, _) => "; not running".to_string(),
                (_, Some("seccomp")) if r.supervisor.is_empty() => {
                    "; no supervisor running (started before enable)".to_string()
                }
                (_, Some("seccomp")) => "; seccomp supervisor running".to_string(),
                (n, _) => format!("; shim mapped in {} of {n} processes", r.shim_mapped.len()),
            });
        }
        if r.stale {
            line.push_str("; stale: ExecStart= changed, run enable again");
        }
        line.push_str(
            &listening_words(&r.listeners)
                .map(|l| format!("; {l}"))
                .unwrap_or_default(),
        );
        if !r.intact {
            line.push_str("; drop-in edited since we wrote it");
        }
        if r.enabled && !r.shim_present {
            line.push_str("; shim MISSING");
        }
        for p in &r.problems {
            line.push_str(&format!("; {p}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The report on one unit named on the command line.
fn details(m: &Manager, r: &Report) -> String {
    let mut out = format!("{}: {}\n", r.unit, state_words(r));
    let mut line = |s: String| {
        out.push_str("  ");
        out.push_str(&s);
        out.push('\n');
    };
    if !r.enabled {
        if let Some(&pid) = r
            .processes
            .iter()
            .find(|&&pid| maps(pid).contains(crate::locate::SHIM_NAME))
        {
            line(format!(
                "process {pid} still has a {} mapped; restart the service to end that",
                crate::locate::SHIM_NAME
            ));
        }
        if let Some(l) = listening_words(&r.listeners) {
            line(l);
        }
        for p in &r.problems {
            line(p.clone());
        }
        return out;
    }
    if let Some(d) = &r.dropin {
        line(format!("drop-in: {d}"));
    }
    if let Some(t) = &r.template {
        line(format!("through the template {t}, for every instance"));
    }
    for a in &r.also {
        line(format!("also: {a}"));
    }
    if !r.intact {
        line(
            "edited since mptcpize-rs wrote it: enable and disable leave it alone unless --force"
                .into(),
        );
    }
    let (what, file) = match (&r.shim, &r.launcher) {
        (_, Some(l)) => ("launcher", l.as_str()),
        (s, None) => ("shim", s.as_deref().unwrap_or_default()),
    };
    line(format!(
        "{what}: {file} ({})",
        if r.shim_present {
            "present"
        } else {
            "MISSING: the service will start without MPTCP; reinstall it or run enable again"
        }
    ));
    if let Some(mode) = &r.mode {
        line(format!("mode: {mode}"));
    }
    if r.stale {
        line("stale: the unit's ExecStart= changed since enable wrapped it; run enable again to refresh the wrapper".into());
    }
    if r.launcher.is_some() {
        match (r.supervisor.as_slice(), r.processes.is_empty()) {
            (_, true) => {}
            ([], false) => line(
                "supervisor: not running (the service started before enable; restart it)".into(),
            ),
            (pids, false) => line(format!(
                "supervisor: running (pid {})",
                pids.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    if let Some(l) = listening_words(&r.listeners) {
        line(l);
    }
    match r.main_pid {
        Some(pid) if r.shim_mapped.contains(&pid) => {
            line(format!("main process: pid {pid}, shim mapped"))
        }
        Some(pid) => line(format!(
            "main process: pid {pid}, shim not mapped (started before enable; restart it)"
        )),
        None if !m.offline() => line("main process: not running".into()),
        None => {}
    }
    if r.processes.len() > 1 {
        line(format!(
            "processes: {} running, {} with the shim mapped",
            r.processes.len(),
            r.shim_mapped.len()
        ));
    }
    for s in &r.sockets {
        line(match &s.dropin {
            Some(_) => format!("socket {}: SocketProtocol=mptcp", s.unit),
            None => format!(
                "socket {}: our SocketProtocol=mptcp drop-in is MISSING (its listener stays TCP; run enable again)",
                s.unit
            ),
        });
    }
    for p in &r.problems {
        line(p.clone());
    }
    out
}

/// "listening: 127.0.0.1:80 MPTCP, [::]:80 TCP", or None without listeners.
fn listening_words(listeners: &[Listener]) -> Option<String> {
    (!listeners.is_empty()).then(|| {
        let each: Vec<String> = listeners
            .iter()
            .map(|l| format!("{} {}", l.local, l.protocol.to_uppercase()))
            .collect();
        format!("listening: {}", each.join(", "))
    })
}

/// The processes of `pids` for which `test` holds.
fn those(pids: &[u32], test: impl Fn(u32) -> bool) -> Vec<u32> {
    pids.iter().copied().filter(|&pid| test(pid)).collect()
}

/// Whether process `pid` runs the program `exe`.
fn runs(pid: u32, exe: &str) -> bool {
    let canonical = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.into());
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .is_ok_and(|p| p == canonical || p == Path::new(exe))
}

/// The unit's running processes: those in its control group, else its
/// main process.
fn processes(svc: &Service) -> Vec<u32> {
    let mut out = Vec::new();
    if let Some(cg) = &svc.cgroup {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return out;
        };
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let text = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
            if text.lines().any(|l| {
                l.rsplit(':')
                    .next()
                    .is_some_and(|p| p == cg || p.ends_with(cg.as_str()))
            }) {
                out.push(pid);
            }
        }
    }
    if out.is_empty() {
        out.extend(svc.main_pid);
    }
    out.sort();
    out
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
