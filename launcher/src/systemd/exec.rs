//! The programs a service runs, judged as `run` judges PROG: each
//! `ExecStart=` line's program is found (inside the image with `--root`,
//! in systemd's fixed search path when the line has no `/`), inspected and
//! given the mode the one policy ([`crate::policy`]) says it needs. A
//! service whose program needs seccomp mode gets its command lines wrapped
//! in `mptcpize-rs run --mode seccomp --`, with systemd's prefixes (`-`, `:`,
//! `+`, `!`, `!!`) kept in front; specifiers (`%i`) and `$VAR` stay as they
//! were, for systemd to expand in the wrapped line too.

use super::lookup::Manager;
use super::unitfile::words;
use crate::policy::{self, Choice};
use crate::target::{self, Kind, Target};
use std::path::{Path, PathBuf};

/// Where systemd looks for a program named without a `/` (systemd 239+).
const SEARCH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// One `ExecStart=` command line, taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// systemd's special prefixes: `-`, `@`, `:`, `+`, `!`, `!!`.
    pub prefixes: &'a str,
    /// The command line after them.
    pub command: &'a str,
    /// The program (the first word).
    pub program: String,
}

/// Splits an `ExecStart=` value into its prefixes, command and program.
pub fn split(value: &str) -> Line<'_> {
    let value = value.trim();
    let end = value
        .find(|c: char| !matches!(c, '-' | '@' | ':' | '+' | '!'))
        .unwrap_or(value.len());
    let command = value[end..].trim_start();
    Line {
        prefixes: &value[..end],
        command,
        program: words(command).into_iter().next().unwrap_or_default(),
    }
}

/// `line` run through `launcher run --mode seccomp --`, its prefixes in
/// front; Err with the reason when its meaning could not be kept.
pub fn wrap(value: &str, launcher: &Path) -> Result<String, String> {
    let line = split(value);
    if line.prefixes.contains('@') {
        return Err(format!(
            "ExecStart={value} gives its program an argv[0] of its own (the @ prefix), which the seccomp wrapper cannot pass on"
        ));
    }
    Ok(format!(
        "{}{} run --mode seccomp -- {}",
        line.prefixes,
        launcher.display(),
        line.command
    ))
}

/// A program of the service and what it needs.
pub struct Judged {
    /// The program as the line names it.
    pub program: String,
    /// What it is; None when it cannot be read (then preload is assumed).
    pub target: Option<Target>,
    pub choice: Choice,
}

/// Judges the program of each `ExecStart=` value.
pub fn judge(m: &Manager, values: &[String]) -> Vec<Judged> {
    values
        .iter()
        .map(|value| {
            let program = split(value).program;
            let target = find(m, &program).map(|p| inspect(m, &p, 0));
            let choice = match &target {
                Some(t) => policy::choose(t),
                None => Choice {
                    mode: policy::Mode::Preload,
                    reason: format!(
                        "{program} cannot be found or read here (a specifier or variable in its name, or not installed); assuming the preload library reaches it"
                    ),
                },
            };
            Judged {
                program,
                target,
                choice,
            }
        })
        .collect()
}

/// The program's path as the services see it: itself when absolute, else
/// the first regular file of that name in systemd's search path.
fn find(m: &Manager, program: &str) -> Option<PathBuf> {
    if program.contains(['%', '$']) || program.is_empty() {
        return None;
    }
    let candidates: Vec<PathBuf> = if program.starts_with('/') {
        vec![PathBuf::from(program)]
    } else if program.contains('/') {
        return None;
    } else {
        SEARCH.iter().map(|d| Path::new(d).join(program)).collect()
    };
    candidates.into_iter().find(|p| {
        m.fs.stat(p)
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file())
    })
}

/// Inspects `path` (as the services see it) as `run` would, resolving it
/// and a script's interpreter inside the services' root.
fn inspect(m: &Manager, path: &Path, depth: usize) -> Target {
    let host = match m.fs.image_dir() {
        Some(img) => match m.fs.walk(path, |_, _| Ok(())) {
            Ok(w) => img.join(w.real.strip_prefix("/").unwrap_or(&w.real)),
            Err(_) => img.join(path.strip_prefix("/").unwrap_or(path)),
        },
        None => path.to_path_buf(),
    };
    let mut t = match target::inspect(host.as_os_str()) {
        Ok(t) => t,
        Err(_) => Target {
            path: host,
            kind: Kind::Other,
            privileges: Default::default(),
        },
    };
    t.path = path.to_path_buf();
    if m.offline() {
        if let Kind::Script {
            interpreter,
            argument,
            runs,
        } = &mut t.kind
        {
            // `#!/usr/bin/env NAME` runs NAME from the search path.
            let name = match (interpreter.file_name(), argument) {
                (Some(env), Some(arg)) if env == "env" => arg
                    .to_str()
                    .and_then(|a| a.split_whitespace().next())
                    .map(String::from),
                _ => Some(interpreter.to_string_lossy().into_owned()),
            };
            *runs = name
                .and_then(|n| find(m, &n))
                .filter(|_| depth < 3)
                .map(|p| Box::new(inspect(m, &p, depth + 1)));
        }
    }
    t
}

/// Why `target`'s program cannot be reached by any mode, or None: set-ID
/// and file-capability programs lose their privileges under seccomp mode's
/// no_new_privs, and ld.so ignores LD_PRELOAD for them.
pub fn privileged(target: &Target) -> Option<String> {
    let program = target.program().map_or(target, |(t, _)| t);
    let p = program.privileges;
    let what = if p.setuid.is_some() {
        "set-user-ID"
    } else if p.setgid.is_some() {
        "set-group-ID"
    } else if p.file_caps {
        "given file capabilities"
    } else {
        return None;
    };
    Some(format!(
        "{} is {what}: ld.so ignores LD_PRELOAD for it (secure-execution mode) and seccomp mode's no_new_privs would run it without those privileges",
        program.path.display()
    ))
}

/// The `SystemCallFilter=` assignment that keeps seccomp mode from
/// starting (it denies the seccomp() system call the launcher makes), or
/// None. The first assignment makes the list an allow-list or (with `~`)
/// a deny-list; later ones add or remove; of systemd's groups only
/// `@known` holds `seccomp` (`systemd-analyze syscall-filter`).
pub fn denies_seccomp(filters: &[String]) -> Option<&str> {
    let first = filters.first()?;
    let mut allowed = first.starts_with('~');
    let mut deciding = first.as_str();
    for f in filters {
        let (deny, list) = match f.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, f.as_str()),
        };
        if list
            .split_whitespace()
            .any(|w| matches!(w.split(':').next(), Some("seccomp" | "@known")))
        {
            allowed = !deny;
            deciding = f;
        }
    }
    (!allowed).then_some(deciding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_prefixes_specifiers_and_variables() {
        let l = split("-!!/usr/bin/app --name %i $OPTS");
        assert_eq!(l.prefixes, "-!!");
        assert_eq!(l.command, "/usr/bin/app --name %i $OPTS");
        assert_eq!(l.program, "/usr/bin/app");
        let launcher = Path::new("/usr/bin/mptcpize-rs");
        assert_eq!(
            wrap("+:/bin/busybox httpd -p ${PORT}", launcher).unwrap(),
            "+:/usr/bin/mptcpize-rs run --mode seccomp -- /bin/busybox httpd -p ${PORT}"
        );
        assert_eq!(
            wrap("\"/opt/my app/run\" -x", launcher).unwrap(),
            "/usr/bin/mptcpize-rs run --mode seccomp -- \"/opt/my app/run\" -x"
        );
        assert_eq!(split("\"/opt/my app/run\" -x").program, "/opt/my app/run");
        assert!(wrap("@/bin/sh mysh -c true", launcher).is_err());
    }

    #[test]
    fn a_filter_denies_seccomp_as_systemd_reads_it() {
        let f = |v: &[&str]| {
            denies_seccomp(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(String::from)
        };
        assert_eq!(f(&[]), None);
        assert_eq!(f(&["@system-service"]).as_deref(), Some("@system-service"));
        assert_eq!(f(&["@system-service", "seccomp"]), None);
        assert_eq!(
            f(&["@system-service seccomp", "~seccomp"]).as_deref(),
            Some("~seccomp")
        );
        assert_eq!(f(&["~@mount @swap"]), None);
        assert_eq!(
            f(&["~@mount seccomp:EPERM"]).as_deref(),
            Some("~@mount seccomp:EPERM")
        );
        assert_eq!(f(&["@known"]), None);
    }
}
