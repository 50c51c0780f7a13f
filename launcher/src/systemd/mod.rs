//! `mptcpize-rs enable|disable|status UNIT`: systemd services that use
//! MPTCP from their next start, through a drop-in of ours rather than by
//! editing the unit file, so that package upgrades keep it and `disable`
//! can take exactly it away again.
//!
//! The steps, each in its own module: name the unit ([`unit`]), find its
//! files and the sockets that start it — from the running manager
//! ([`systemctl`]) or offline below `--root` ([`lookup`]) — read its own
//! environment ([`unitfile`]), check the shim ([`trust`]), render the
//! drop-ins ([`dropin`]) and write them safely ([`safefs`]). [`status`]
//! reports what is in place and whether the running process has the shim.

mod dropin;
mod lookup;
mod safefs;
mod status;
mod systemctl;
mod trust;
mod unit;
mod unitfile;

pub use status::status;

use crate::cli::{ChangeArgs, EnableArgs, UnitArgs};
use crate::envvars::{godebug_with, ld_preload_with};
use crate::failure::{Failure, FAILED};
use crate::locate;
use lookup::{Manager, Offline};
use safefs::Dir;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use systemctl::Systemctl;
use unit::{Kind, Unit};

/// The first systemd release whose `SocketProtocol=` accepts `mptcp`.
const SOCKET_PROTOCOL_MPTCP: u32 = 257;

/// A service as the manager (or, offline, its files) describes it.
struct Service {
    unit: Unit,
    fragment: PathBuf,
    dropins: Vec<PathBuf>,
    /// The socket units that start it.
    sockets: Vec<String>,
    /// Running main process (online only).
    main_pid: Option<u32>,
}

fn fail(message: impl Into<String>) -> Failure {
    Failure::new(FAILED, message)
}

fn warn(message: impl std::fmt::Display) {
    eprintln!("mptcpize-rs: warning: {message}");
}

/// The manager the flags select, after checking they go together.
fn manager(args: &UnitArgs) -> Result<Manager, Failure> {
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

enum Lookup {
    Found(Service),
    Masked(String),
    Missing,
}

/// Finds `unit` through the running manager, or offline below `--root`.
fn lookup(m: &Manager, unit: &Unit) -> Result<Lookup, Failure> {
    if let Some(root) = &m.root {
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
        ],
    )?;
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    match get("LoadState") {
        "loaded" => {}
        "masked" => return Ok(Lookup::Masked(unit.name.clone())),
        "not-found" | "" => return Ok(Lookup::Missing),
        other => {
            return Err(fail(format!(
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
    }))
}

/// The service `unit` names (for a socket: the service it starts), or the
/// one-line error for an unknown or masked unit.
fn resolve_service(m: &Manager, unit: &Unit) -> Result<Service, Failure> {
    let scope = if m.user { "--user " } else { "" };
    let found = match lookup(m, unit)? {
        Lookup::Found(s) => s,
        Lookup::Masked(name) => {
            return Err(fail(format!(
            "{name} is masked, so it cannot run; unmask it first (systemctl {scope}unmask {name})"
        )))
        }
        Lookup::Missing => {
            let where_ = match &m.root {
                Some(r) => format!("below {}", r.display()),
                None => format!("(systemctl {scope}list-unit-files lists the units there are)"),
            };
            return Err(fail(format!("unit {} not found {where_}", unit.name)));
        }
    };
    if found.unit.kind == Kind::Service {
        return Ok(found);
    }
    // A socket: the service it starts, from Service= or its own name
    // (a template instance for Accept=yes).
    let settings = lookup::read_settings(&found.fragment, &found.dropins, |_| true);
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
        });
    }
    let mut svc = resolve_service(m, &service)?;
    if !svc.sockets.contains(&found.unit.name) {
        svc.sockets.push(found.unit.name);
    }
    Ok(svc)
}

/// The shim's absolute path as the services will see it, checked to exist.
fn shim_path(m: &Manager, given: Option<&Path>) -> Result<PathBuf, Failure> {
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

/// The state of `<base>/<dir>/90-mptcpize.conf`.
struct Existing {
    dir_exists: bool,
    /// Our drop-in's text and what it records, if there is one.
    ours: Option<(String, dropin::Ours)>,
}

/// Looks at one drop-in place without following symlinks, refusing files
/// that are not ours.
fn existing(base: &Path, dir: &str) -> Result<Existing, Failure> {
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

fn permission_check(base: &Path) -> Result<(), Failure> {
    if safefs::can_write(base) {
        return Ok(());
    }
    Err(fail(format!(
        "no permission to write in {}; run as root (or, for your own services, use --user)",
        base.display()
    )))
}

/// One drop-in to write.
struct Planned {
    dir: String,
    text: String,
    create_dir: bool,
    unchanged: bool,
}

/// `mptcpize-rs enable UNIT`.
pub fn enable(args: EnableArgs) -> Result<ExitCode, Failure> {
    let ch = &args.change;
    let m = manager(&ch.unit)?;
    if ch.now && m.root.is_some() {
        return Err(fail(
            "--now needs a running systemd; it does not go with --root",
        ));
    }
    let unit = Unit::parse(&ch.unit.unit)?;
    let svc = resolve_service(&m, &unit)?;
    let shim = shim_path(&m, args.shim.as_deref())?;
    if !m.user {
        trust::check(&m, &shim)?;
    }
    let name = &svc.unit.name;

    // The service's own environment: every file but our drop-ins.
    let settings = lookup::read_settings(&svc.fragment, &svc.dropins, |p| {
        p.file_name() != Some(OsStr::new(dropin::FILE_NAME))
    });
    let ld_preload = ld_preload_with(settings.var("LD_PRELOAD").map(OsStr::new), &shim);
    let godebug = godebug_with(settings.var("GODEBUG").map(OsStr::new));
    for var in ["LD_PRELOAD", "GODEBUG"] {
        if let Some((_, file)) = settings.env.get(var) {
            let later = file
                .file_name()
                .is_some_and(|n| *file != svc.fragment && n > OsStr::new(dropin::FILE_NAME));
            if later {
                warn(format!(
                    "{} sets {var} and is applied after our {}, so it wins; remove {var} from it or rename it to sort before ours",
                    file.display(),
                    dropin::FILE_NAME
                ));
            }
        }
    }
    for f in &settings.env_files {
        let path = m.host_path(Path::new(f.trim_start_matches('-')));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let sets = ["LD_PRELOAD", "GODEBUG"]
            .into_iter()
            .filter(|v| {
                text.lines().any(|l| {
                    l.trim_start()
                        .trim_start_matches("export ")
                        .starts_with(&format!("{v}="))
                })
            })
            .collect::<Vec<_>>();
        if sets.is_empty() {
            warn(format!("{name} reads EnvironmentFile={f}, whose variables override Environment=; should it ever set LD_PRELOAD or GODEBUG, the service runs without MPTCP"));
        } else {
            warn(format!("{name} reads EnvironmentFile={f}, which sets {} and overrides our drop-in: add the shim ({}) there by hand", sets.join(" and "), shim.display()));
        }
    }

    // Socket activation: the listener belongs to the socket unit.
    let version = if svc.sockets.is_empty() {
        None
    } else if let Some(root) = &m.root {
        lookup::offline_version(root)
    } else {
        Systemctl { user: m.user }.version()
    };
    let socket_mptcp = version.is_some_and(|v| v >= SOCKET_PROTOCOL_MPTCP);
    if !svc.sockets.is_empty() && !socket_mptcp {
        let have = version.map_or("this systemd's version is unknown".to_string(), |v| {
            format!("this is systemd {v}")
        });
        println!(
            "{name} is started by {}: its listening socket comes from systemd and stays TCP (SocketProtocol=mptcp needs systemd {SOCKET_PROTOCOL_MPTCP}, {have}); the connections {name} opens itself use MPTCP",
            svc.sockets.join(", ")
        );
    }
    let sockets: Vec<String> = if socket_mptcp {
        svc.sockets.clone()
    } else {
        Vec::new()
    };

    let base = m.dropin_base()?;
    let mut plan = Vec::new();
    let mut targets = vec![(format!("{name}.d"), None)];
    targets.extend(sockets.iter().map(|s| (format!("{s}.d"), Some(s.clone()))));
    for (dir, socket) in targets {
        let ex = existing(&base, &dir)?;
        let create_dir = !ex.dir_exists || ex.ours.as_ref().is_some_and(|(_, o)| o.created_dir);
        let text = match &socket {
            None => dropin::service(
                name,
                &shim.to_string_lossy(),
                &ld_preload.to_string_lossy(),
                &godebug.to_string_lossy(),
                &sockets,
                create_dir,
            ),
            Some(s) => dropin::socket(s, name, create_dir),
        };
        let unchanged = ex.ours.as_ref().is_some_and(|(old, _)| *old == text);
        plan.push(Planned {
            dir,
            text,
            create_dir: !ex.dir_exists,
            unchanged,
        });
    }
    let changed = plan.iter().any(|p| !p.unchanged);
    let reload = changed && !ch.no_reload && m.root.is_none();
    let sc = Systemctl { user: m.user };
    let scope = if m.user { "--user " } else { "" };

    if ch.dry_run {
        for p in &plan {
            let path = base.join(&p.dir).join(dropin::FILE_NAME);
            if p.unchanged {
                println!("# {} is already in place, unchanged", path.display());
            } else {
                println!("# would write {}:\n{}", path.display(), p.text);
            }
        }
        if reload {
            println!("# would run: systemctl {scope}daemon-reload");
        }
        if ch.now {
            println!("# would run: systemctl {scope}restart {name}");
        }
        return Ok(ExitCode::SUCCESS);
    }

    if changed {
        permission_check(&base)?;
        if !base.exists() {
            std::fs::create_dir_all(&base)
                .map_err(|e| fail(format!("cannot create {}: {e}", base.display())))?;
        }
        for p in plan.iter().filter(|p| !p.unchanged) {
            write_dropin(&base, p)?;
            println!(
                "wrote {}",
                base.join(&p.dir).join(dropin::FILE_NAME).display()
            );
        }
    } else {
        println!("{name}: already enabled, nothing changed");
    }
    if reload {
        sc.run(&["daemon-reload"])?;
    }
    if ch.now {
        restart(&sc, name, &sockets)?;
        println!("{name} restarted with MPTCP");
    } else if changed && m.root.is_none() {
        println!("{name} uses MPTCP from its next start (now: systemctl {scope}restart {name})");
    }
    Ok(ExitCode::SUCCESS)
}

fn write_dropin(base: &Path, p: &Planned) -> Result<(), Failure> {
    let path = base.join(&p.dir);
    let io = |e: std::io::Error| fail(format!("cannot write in {}: {e}", path.display()));
    let b = Dir::open(base).map_err(io)?;
    if p.create_dir {
        b.mkdir(&p.dir).map_err(io)?;
    }
    let d = b.subdir(&p.dir).map_err(io)?;
    d.write_atomic(dropin::FILE_NAME, &p.text).map_err(io)
}

/// Restarts `service`; with socket drop-ins, the sockets too (with the
/// service stopped, so that they can be recreated).
fn restart(sc: &Systemctl, service: &str, sockets: &[String]) -> Result<(), Failure> {
    if sockets.is_empty() {
        return sc.run(&["restart", "--", service]);
    }
    sc.run(&["stop", "--", service])?;
    let mut args = vec!["restart", "--"];
    args.extend(sockets.iter().map(String::as_str));
    sc.run(&args)?;
    sc.run(&["start", "--", service])
}

/// `mptcpize-rs disable UNIT`.
pub fn disable(args: ChangeArgs) -> Result<ExitCode, Failure> {
    let m = manager(&args.unit)?;
    if args.now && m.root.is_some() {
        return Err(fail(
            "--now needs a running systemd; it does not go with --root",
        ));
    }
    let unit = Unit::parse(&args.unit.unit)?;
    // The unit may be gone or masked by now: our drop-in still goes.
    let (name, known) = match lookup(&m, &unit)? {
        Lookup::Found(_) | Lookup::Masked(_) if unit.kind == Kind::Socket => {
            (resolve_service(&m, &unit)?.unit.name, true)
        }
        Lookup::Found(svc) => (svc.unit.name, true),
        Lookup::Masked(name) => (name, true),
        Lookup::Missing => (unit.name.clone(), false),
    };
    let base = m.dropin_base()?;
    let ex = existing(&base, &format!("{name}.d"))?;
    let Some((_, ours)) = ex.ours else {
        if !known {
            return Err(fail(format!(
                "unit {name} not found, and no drop-in of ours for it in {}",
                base.display()
            )));
        }
        let other = m.all_bases()?.into_iter().filter(|b| *b != base).find(|b| {
            matches!(
                existing(b, &format!("{name}.d")),
                Ok(Existing { ours: Some(_), .. })
            )
        });
        match other {
            Some(b) => println!(
                "{name}: not enabled in {}, but in {} ({})",
                base.display(),
                b.display(),
                if args.unit.runtime {
                    "drop --runtime"
                } else {
                    "add --runtime"
                }
            ),
            None => println!("{name}: not enabled by mptcpize-rs, nothing to do"),
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut remove = vec![(format!("{name}.d"), ours.created_dir)];
    for s in &ours.sockets {
        if let Existing {
            ours: Some((_, o)), ..
        } = existing(&base, &format!("{s}.d"))?
        {
            remove.push((format!("{s}.d"), o.created_dir));
        }
    }
    let sc = Systemctl { user: m.user };
    let scope = if m.user { "--user " } else { "" };
    let reload = !args.no_reload && m.root.is_none();
    if args.dry_run {
        for (dir, created) in &remove {
            println!(
                "# would remove {}",
                base.join(dir).join(dropin::FILE_NAME).display()
            );
            if *created {
                println!("# would remove {} if left empty", base.join(dir).display());
            }
        }
        if reload {
            println!("# would run: systemctl {scope}daemon-reload");
        }
        if args.now {
            println!("# would run: systemctl {scope}restart {name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    permission_check(&base)?;
    for (dir, created) in &remove {
        let path = base.join(dir);
        let io = |e: std::io::Error| fail(format!("cannot remove from {}: {e}", path.display()));
        let b = Dir::open(&base).map_err(io)?;
        let d = b.subdir(dir).map_err(io)?;
        d.remove(dropin::FILE_NAME).map_err(io)?;
        println!("removed {}", path.join(dropin::FILE_NAME).display());
        if *created && d.is_empty().map_err(io)? {
            b.rmdir(dir).map_err(io)?;
        }
    }
    if reload {
        sc.run(&["daemon-reload"])?;
    }
    if args.now {
        let sockets: Vec<String> = ours.sockets.clone();
        restart(&sc, &name, &sockets)?;
        println!("{name} restarted without MPTCP");
    } else if m.root.is_none() {
        println!(
            "{name} uses TCP again from its next start (now: systemctl {scope}restart {name})"
        );
    }
    Ok(ExitCode::SUCCESS)
}
