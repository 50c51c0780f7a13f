//! `mptcpize-rs disable UNIT`: removes our drop-in for the service and the
//! socket drop-ins it records, and the `.d` directories we created if left
//! empty; nothing else, and all or nothing. A drop-in of ours that an admin
//! edited stays unless `--force`. The unit may be gone or masked by now:
//! our drop-in still goes.

use super::enable::edited;
use super::error::{Error, Result};
use super::place::{self, existing, Existing, Transaction};
use super::resolve::{lookup, resolve_service, Lookup};
use super::systemctl::Systemctl;
use super::unit::{Kind, Unit};
use super::{dropin, manager, say};
use crate::cli::ChangeArgs;

/// `mptcpize-rs disable UNIT`.
pub fn disable(args: ChangeArgs) -> Result<u8> {
    let m = manager(&args.unit.scope)?;
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
    let ex = existing(&m.fs, &base, &format!("{name}.d"))?;
    let Some((text, ours)) = ex.ours else {
        let template = Unit::parse(&name).ok().and_then(|u| u.template());
        if let Some(t) = template.filter(|t| {
            matches!(
                existing(&m.fs, &base, &format!("{t}.d")),
                Ok(Existing { ours: Some(_), .. })
            )
        }) {
            say!("{name}: enabled through its template {t}, for every instance; to undo that: mptcpize-rs disable {t}");
            return Ok(0);
        }
        if !known {
            return Err(Error::Unit(format!(
                "unit {name} not found, and no drop-in of ours for it in {}",
                m.shown(&base).display()
            )));
        }
        let other = m.all_bases()?.into_iter().filter(|b| *b != base).find(|b| {
            matches!(
                existing(&m.fs, b, &format!("{name}.d")),
                Ok(Existing { ours: Some(_), .. })
            )
        });
        match other {
            Some(b) => say!(
                "{name}: not enabled in {}, but in {} ({})",
                m.shown(&base).display(),
                m.shown(&b).display(),
                if args.unit.scope.runtime {
                    "drop --runtime"
                } else {
                    "add --runtime"
                }
            ),
            None => say!("{name}: not enabled by mptcpize-rs, nothing to do"),
        }
        return Ok(0);
    };
    let mut remove = vec![(format!("{name}.d"), text, ours.created_dir, ours.intact)];
    for s in &ours.sockets {
        if let Existing {
            ours: Some((text, o)),
            ..
        } = existing(&m.fs, &base, &format!("{s}.d"))?
        {
            remove.push((format!("{s}.d"), text, o.created_dir, o.intact));
        }
    }
    if let Some((dir, ..)) = remove.iter().find(|r| !r.3) {
        if !args.force {
            return Err(edited(&m, &base, dir, "remove it"));
        }
    }
    let sc = Systemctl { user: m.user };
    let scope = m.scope();
    let reload = !args.no_reload && !m.offline();
    if args.dry_run {
        for (dir, _, created, _) in &remove {
            let path = m.shown(&base.join(dir));
            say!("# would remove {}", path.join(dropin::FILE_NAME).display());
            if *created {
                say!("# would remove {} if left empty", path.display());
            }
        }
        if reload {
            say!("# would run: systemctl {scope}daemon-reload");
        }
        if args.now {
            say!("# would run: systemctl {scope}restart {name}");
        }
        return Ok(0);
    }
    place::permission_check(&m.fs, &base)?;
    let mut tx = Transaction::new(&m.fs);
    for (dir, text, created, _) in &remove {
        if let Err(cause) = tx.remove(&base, dir, text, *created) {
            return Err(Error::undone(cause, tx.rollback()));
        }
    }
    for (dir, ..) in &remove {
        let path = m.shown(&base.join(dir).join(dropin::FILE_NAME));
        say!("removed {}", path.display());
    }
    if reload {
        sc.run(&["daemon-reload"])?;
    }
    if args.now {
        sc.restart(&name, &ours.sockets)?;
        say!("{name} restarted without MPTCP");
    } else if !m.offline() {
        say!("{name} uses TCP again from its next start (now: systemctl {scope}restart {name})");
    }
    Ok(0)
}
