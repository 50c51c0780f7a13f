//! `mptcpize-rs disable UNIT`: removes our drop-in for the service and the
//! socket drop-ins it records, and the `.d` directories we created if left
//! empty; nothing else. The unit may be gone or masked by now: our drop-in
//! still goes.

use super::place::{self, existing, Existing};
use super::resolve::{lookup, resolve_service, Lookup};
use super::systemctl::Systemctl;
use super::unit::{Kind, Unit};
use super::{dropin, fail, manager};
use crate::cli::ChangeArgs;
use crate::error::SUCCESS;

/// `mptcpize-rs disable UNIT`.
pub fn disable(args: ChangeArgs) -> Result<u8, super::Error> {
    let m = manager(&args.unit)?;
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
        return Ok(SUCCESS);
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
        return Ok(SUCCESS);
    }
    place::permission_check(&base)?;
    for (dir, created) in &remove {
        place::remove(&base, dir, *created)?;
        println!(
            "removed {}",
            base.join(dir).join(dropin::FILE_NAME).display()
        );
    }
    if reload {
        sc.run(&["daemon-reload"])?;
    }
    if args.now {
        sc.restart(&name, &ours.sockets)?;
        println!("{name} restarted without MPTCP");
    } else if m.root.is_none() {
        println!(
            "{name} uses TCP again from its next start (now: systemctl {scope}restart {name})"
        );
    }
    Ok(SUCCESS)
}
