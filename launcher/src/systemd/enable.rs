//! `mptcpize-rs enable UNIT`: the service's own LD_PRELOAD and GODEBUG
//! with the shim and `multipathtcp=1` added (the rule lives in
//! `envvars`), warnings about what could override them, `SocketProtocol=mptcp`
//! for the sockets that start it where systemd supports that, then the
//! drop-ins written (or printed, with `--dry-run`), `daemon-reload`, and with
//! `--now` a restart.

use super::lookup::Manager;
use super::place::{self, existing};
use super::resolve::{resolve_service, Service};
use super::systemctl::Systemctl;
use super::unit::Unit;
use super::unitfile::Settings;
use super::{dropin, fail, lookup, manager, shim_path, trust, warn};
use crate::cli::EnableArgs;
use crate::envvars::{godebug_with, ld_preload_with};
use crate::error::SUCCESS;
use crate::policy::{systemd_has_socket_protocol_mptcp, SYSTEMD_SOCKET_PROTOCOL_MPTCP};
use std::ffi::OsStr;
use std::path::Path;

/// One drop-in to write.
struct Planned {
    dir: String,
    text: String,
    create_dir: bool,
    unchanged: bool,
}

/// `mptcpize-rs enable UNIT`.
pub fn enable(args: EnableArgs) -> Result<u8, super::Error> {
    let ch = &args.change;
    let m = manager(&ch.unit)?;
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
    warn_overrides(&m, &svc, &settings, &shim);
    let sockets = mptcp_sockets(&m, &svc);

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
        return Ok(SUCCESS);
    }

    if changed {
        place::permission_check(&base)?;
        if !base.exists() {
            std::fs::create_dir_all(&base)
                .map_err(|e| fail(format!("cannot create {}: {e}", base.display())))?;
        }
        for p in plan.iter().filter(|p| !p.unchanged) {
            place::write(&base, &p.dir, &p.text, p.create_dir)?;
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
        sc.restart(name, &sockets)?;
        println!("{name} restarted with MPTCP");
    } else if changed && m.root.is_none() {
        println!("{name} uses MPTCP from its next start (now: systemctl {scope}restart {name})");
    }
    Ok(SUCCESS)
}

/// Warns about what could take LD_PRELOAD or GODEBUG away from the service:
/// a drop-in applied after ours, an `EnvironmentFile=`.
fn warn_overrides(m: &Manager, svc: &Service, settings: &Settings, shim: &Path) {
    let name = &svc.unit.name;
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
}

/// The socket units to give `SocketProtocol=mptcp`: those that start the
/// service, if this systemd supports it; otherwise it says the listener
/// stays TCP.
fn mptcp_sockets(m: &Manager, svc: &Service) -> Vec<String> {
    let name = &svc.unit.name;
    let version = if svc.sockets.is_empty() {
        None
    } else if let Some(root) = &m.root {
        lookup::offline_version(root)
    } else {
        Systemctl { user: m.user }.version()
    };
    let socket_mptcp = version.is_some_and(systemd_has_socket_protocol_mptcp);
    if !svc.sockets.is_empty() && !socket_mptcp {
        let have = version.map_or("this systemd's version is unknown".to_string(), |v| {
            format!("this is systemd {v}")
        });
        println!(
            "{name} is started by {}: its listening socket comes from systemd and stays TCP (SocketProtocol=mptcp needs systemd {SYSTEMD_SOCKET_PROTOCOL_MPTCP}, {have}); the connections {name} opens itself use MPTCP",
            svc.sockets.join(", ")
        );
    }
    if socket_mptcp {
        svc.sockets.clone()
    } else {
        Vec::new()
    }
}
