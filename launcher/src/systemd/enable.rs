//! `mptcpize-rs enable UNIT`: the service's own LD_PRELOAD and GODEBUG
//! with the shim and `multipathtcp=1` added (the rule lives in
//! `envvars`), warnings about what could override them, `SocketProtocol=mptcp`
//! for the sockets that start it where systemd supports that, then the
//! drop-ins written all or nothing (or printed, with `--dry-run`),
//! `daemon-reload`, and with `--now` a restart. A drop-in of ours that an
//! admin edited is never replaced without `--force`.

use super::error::{Error, Result};
use super::lookup::Manager;
use super::place::{self, existing, Transaction};
use super::resolve::{resolve_service, Service};
use super::systemctl::Systemctl;
use super::unit::Unit;
use super::unitfile::Settings;
use super::{dropin, exec, lookup, manager, say, shim_path, trust, warn};
use crate::cli::{EnableArgs, RunMode};
use crate::envvars::{godebug_with, ld_preload_with};
use crate::policy::Mode;
use crate::policy::{systemd_has_socket_protocol_mptcp, SYSTEMD_SOCKET_PROTOCOL_MPTCP};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// One drop-in to write.
struct Planned {
    dir: String,
    text: String,
    create_dir: bool,
    /// Our older text there, put back if a later write fails.
    previous: Option<String>,
}

impl Planned {
    fn unchanged(&self) -> bool {
        self.previous.as_deref() == Some(self.text.as_str())
    }
}

/// `mptcpize-rs enable UNIT`.
pub fn enable(args: EnableArgs) -> Result<u8> {
    let ch = &args.change;
    let m = manager(&ch.unit.scope)?;
    let unit = Unit::parse(&ch.unit.unit)?;
    let svc = resolve_service(&m, &unit)?;
    let name = &svc.unit.name;

    // The service's own settings: every file but our drop-ins.
    let settings = lookup::read_settings(&m.fs, &svc.fragment, &svc.dropins, |p| {
        p.file_name() != Some(OsStr::new(dropin::FILE_NAME))
    });
    let sockets = mptcp_sockets(&m, &svc);
    let render = match choose_mode(&m, &svc, &settings, &args)? {
        Mode::Preload => preload(&m, &svc, &settings, args.shim.as_deref())?,
        Mode::Seccomp => seccomp(&m, &svc, &settings)?,
    };

    let base = m.dropin_base()?;
    let mut plan = Vec::new();
    let mut targets = vec![(format!("{name}.d"), None)];
    targets.extend(sockets.iter().map(|s| (format!("{s}.d"), Some(s.clone()))));
    for (dir, socket) in targets {
        let ex = existing(&m.fs, &base, &dir)?;
        if let Some((_, ours)) = &ex.ours {
            if !ours.intact && !ch.force {
                return Err(edited(&m, &base, &dir, "replace it"));
            }
        }
        let create_dir = !ex.dir_exists || ex.ours.as_ref().is_some_and(|(_, o)| o.created_dir);
        let text = match &socket {
            None => render(&sockets, create_dir),
            Some(s) => dropin::socket(s, name, create_dir),
        };
        plan.push(Planned {
            dir,
            text,
            create_dir: !ex.dir_exists,
            previous: ex.ours.map(|(text, _)| text),
        });
    }
    let changed = plan.iter().any(|p| !p.unchanged());
    let reload = changed && !ch.no_reload && !m.offline();
    let sc = Systemctl { user: m.user };
    let scope = m.scope();

    if ch.dry_run {
        for p in &plan {
            let path = m.shown(&base.join(&p.dir).join(dropin::FILE_NAME));
            if p.unchanged() {
                say!("# {} is already in place, unchanged", path.display());
            } else {
                say!("# would write {}:\n{}", path.display(), p.text);
            }
        }
        if reload {
            say!("# would run: systemctl {scope}daemon-reload");
        }
        if ch.now {
            say!("# would run: systemctl {scope}restart {name}");
        }
        return Ok(0);
    }

    if changed {
        place::permission_check(&m.fs, &base)?;
        let mut tx = Transaction::new(&m.fs);
        if let Err(cause) = write_all(&mut tx, &base, &plan) {
            return Err(Error::undone(cause, tx.rollback()));
        }
        for p in plan.iter().filter(|p| !p.unchanged()) {
            let path = m.shown(&base.join(&p.dir).join(dropin::FILE_NAME));
            say!("wrote {}", path.display());
        }
    } else {
        say!("{name}: already enabled, nothing changed");
    }
    if reload {
        sc.run(&["daemon-reload"])?;
    }
    if ch.now {
        sc.restart(name, &sockets)?;
        say!("{name} restarted with MPTCP");
    } else if changed && !m.offline() {
        say!("{name} uses MPTCP from its next start (now: systemctl {scope}restart {name})");
    }
    Ok(0)
}

/// Renders the service's drop-in for its socket drop-ins and whether we
/// create its directory.
type Render = Box<dyn Fn(&[String], bool) -> String>;

/// The mode the service needs: each `ExecStart=` program judged by the one
/// policy (one line each, and why), `--mode` and `--force` applied; set-ID
/// and file-capability programs refused.
fn choose_mode(m: &Manager, svc: &Service, settings: &Settings, args: &EnableArgs) -> Result<Mode> {
    let name = &svc.unit.name;
    let values: Vec<String> = settings.exec_start.iter().map(|(v, _)| v.clone()).collect();
    let judged = exec::judge(m, &values);
    for j in &judged {
        say!(
            "{name}: {}: {} ({})",
            j.program,
            j.choice.mode,
            j.choice.reason
        );
        if let Some(why) = j.target.as_ref().and_then(exec::privileged) {
            return Err(Error::Refused(format!(
                "{name}: {why}; no mode of mptcpize-rs reaches its sockets"
            )));
        }
    }
    let needs_seccomp = judged.iter().find(|j| j.choice.mode == Mode::Seccomp);
    Ok(match (args.mode, needs_seccomp) {
        (RunMode::Seccomp, _) | (RunMode::Auto, Some(_)) => Mode::Seccomp,
        (RunMode::Preload, Some(j)) if !args.change.force => {
            return Err(Error::Refused(format!(
                "{name}: {}: its sockets would stay TCP under --mode preload; use --mode auto (seccomp for it), or --force to write the preload drop-in anyway",
                j.choice.reason
            )))
        }
        _ => Mode::Preload,
    })
}

/// The preload drop-in: the service's own LD_PRELOAD and GODEBUG with the
/// shim and `multipathtcp=1` added.
fn preload(
    m: &Manager,
    svc: &Service,
    settings: &Settings,
    given: Option<&Path>,
) -> Result<Render> {
    let name = svc.unit.name.clone();
    let shim = shim_path(m, given)?;
    if !m.user {
        trust::check(&m.fs, &shim, "the shim")?;
    }
    let ld_preload = ld_preload_with(settings.var("LD_PRELOAD").map(OsStr::new), &shim);
    let ld_preload = ld_preload.to_string_lossy().into_owned();
    let godebug = godebug_with(settings.var("GODEBUG").map(OsStr::new));
    let godebug = godebug.to_string_lossy().into_owned();
    if let Some(file) = settings.unsets("LD_PRELOAD", &ld_preload) {
        return Err(Error::Refused(format!(
            "{name} has UnsetEnvironment=LD_PRELOAD (in {}), so the shim would never load; remove LD_PRELOAD from that UnsetEnvironment= line (or use --mode seccomp), then run enable again",
            m.shown(file).display()
        )));
    }
    if let Some(file) = settings.unsets("GODEBUG", &godebug) {
        warn(format!(
            "{name} has UnsetEnvironment=GODEBUG (in {}): Go programs of the service keep TCP sockets; remove GODEBUG from that line for them",
            m.shown(file).display()
        ));
    }
    warn_overrides(m, svc, settings, &shim);
    let shim = shim.to_string_lossy().into_owned();
    Ok(Box::new(move |sockets, created| {
        dropin::service(&name, &shim, &ld_preload, &godebug, sockets, created)
    }))
}

/// The seccomp drop-in: every `ExecStart=` line wrapped in the launcher,
/// refused where the unit's sandbox would stop it.
fn seccomp(m: &Manager, svc: &Service, settings: &Settings) -> Result<Render> {
    let name = svc.unit.name.clone();
    if settings.exec_start.is_empty() {
        return Err(Error::Unit(format!(
            "{name} has no ExecStart= to run under seccomp mode"
        )));
    }
    if let Some(filter) = exec::denies_seccomp(&settings.syscall_filter) {
        return Err(Error::Refused(format!(
            "{name} has SystemCallFilter={filter}, which denies the seccomp() system call seccomp mode starts with; allow it with SystemCallFilter=seccomp in a drop-in of yours, or use --mode preload --force (its static programs keep TCP)"
        )));
    }
    // A drop-in applied after ours that sets ExecStart= wins over the wrapper
    // (it resets the list, or adds lines we did not wrap).
    if let Some((_, file)) = settings.exec_start.iter().find(|(_, f)| {
        *f != svc.fragment
            && f.file_name()
                .is_some_and(|n| n > OsStr::new(dropin::FILE_NAME))
    }) {
        warn(format!(
            "{} sets ExecStart= and is applied after our {}, so its command lines run without the seccomp wrapper; rename it to sort before ours",
            m.shown(file).display(),
            dropin::FILE_NAME
        ));
    }
    let launcher = launcher_path(m)?;
    if !m.user {
        trust::check(&m.fs, &launcher, "the launcher")?;
    }
    let mut wrapped = Vec::new();
    for (value, _) in &settings.exec_start {
        let wrapper =
            exec::wrap(value, &launcher).map_err(|why| Error::Refused(format!("{name}: {why}")))?;
        wrapped.push((value.clone(), wrapper));
    }
    let launcher = launcher.to_string_lossy().into_owned();
    Ok(Box::new(move |sockets, created| {
        dropin::service_seccomp(&name, &launcher, &wrapped, sockets, created)
    }))
}

/// The launcher's path as the services see it: this executable, or inside
/// an image the installed one (`bin/` beside the shim's `lib/`).
fn launcher_path(m: &Manager) -> Result<PathBuf> {
    let path = if m.offline() {
        Path::new(crate::locate::COMPILED_IN)
            .ancestors()
            .nth(2)
            .unwrap_or(Path::new("/usr/local"))
            .join("bin/mptcpize-rs")
    } else {
        std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(Error::io("/proc/self/exe"))?
    };
    let is_file =
        m.fs.stat(&path)
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file());
    if !is_file {
        return Err(Error::Usage(format!(
            "the launcher {} does not exist in {}; install mptcpize-rs into the image",
            path.display(),
            m.fs.image_dir().unwrap_or(Path::new("/")).display()
        )));
    }
    if path
        .to_string_lossy()
        .contains([' ', '\t', '\n', '%', '$', '"', '\'', '\\'])
    {
        return Err(Error::Usage(format!(
            "the launcher's path {:?} has a character a systemd command line would change; install it under a plain path",
            path
        )));
    }
    Ok(path)
}

/// Every changed drop-in of `plan`, written in `tx`.
fn write_all(tx: &mut Transaction, base: &Path, plan: &[Planned]) -> Result<()> {
    tx.create_dirs(base)?;
    for p in plan.iter().filter(|p| !p.unchanged()) {
        tx.write(base, &p.dir, &p.text, p.create_dir, p.previous.clone())?;
    }
    Ok(())
}

/// The refusal for a drop-in of ours that no longer has the text we wrote.
pub fn edited(m: &Manager, base: &Path, dir: &str, action: &str) -> Error {
    let path: PathBuf = m.shown(&base.join(dir).join(dropin::FILE_NAME));
    Error::Refused(format!(
        "{} was edited since mptcpize-rs wrote it; nothing changed. Keep your lines in another drop-in of that directory (e.g. override.conf) and remove ours by hand, or pass --force to {action} (your edit is lost)",
        path.display()
    ))
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
                    m.shown(file).display(),
                    dropin::FILE_NAME
                ));
            }
        }
    }
    for f in &settings.env_files {
        let path = Path::new(f.trim_start_matches('-'));
        let text = m.fs.read(path).ok().flatten().unwrap_or_default();
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
    } else if m.offline() {
        lookup::offline_version(&m.fs)
    } else {
        Systemctl { user: m.user }.version()
    };
    let socket_mptcp = version.is_some_and(systemd_has_socket_protocol_mptcp);
    if !svc.sockets.is_empty() && !socket_mptcp {
        let have = version.map_or("this systemd's version is unknown".to_string(), |v| {
            format!("this is systemd {v}")
        });
        say!(
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
