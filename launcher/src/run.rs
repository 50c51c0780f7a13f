//! `mptcpize-rs run`: resolves what was asked (the flags and the
//! environment, read once into [`Settings`]), finds PROG, lets
//! [`crate::policy`] choose the mode that reaches its sockets, and runs it.
//!
//! Both modes execute the program in place of the launcher (execvp
//! semantics: PATH search, no shell), so the program keeps our pid,
//! signals, stdio and exit status. Preload mode first puts the shim into
//! the environment; seccomp mode first starts a supervisor and installs a
//! filter (see [`crate::seccomp`]), which gets only its small
//! [`seccomp::Config`].

use crate::cli::{RunArgs, RunMode};
use crate::envvars::{godebug_with, ld_preload_with, ld_preload_with_report};
use crate::policy::{self, Mode};
use crate::say;
use crate::target::{self, Target};
use crate::{locate, report_dest, seccomp};
use mptcpize_rules::env;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// Why `run` failed: PROG cannot be executed (127/126), or the launcher
/// failed before PROG ran (125).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Prog(#[from] target::Error),
    #[error(transparent)]
    Shim(#[from] locate::Error),
    /// `--no-fallback` and a shim ld.so would not load.
    #[error("{0}: with --no-fallback, refusing to run the program over TCP")]
    Unloadable(locate::Unloadable),
    /// PROG changes credentials at exec: no mode can work.
    #[error("{0}")]
    Privileges(String),
    #[error(transparent)]
    Report(#[from] report_dest::Error),
    /// `MPTCPIZE_REPORT_FORMAT` is neither `text` nor `json`.
    #[error(
        "{}={}: not a report format; use text or json (or --report-format)",
        env::REPORT_FORMAT,
        .0
    )]
    ReportFormat(String),
    #[error(transparent)]
    Seccomp(seccomp::Error),
}

impl From<seccomp::Error> for Error {
    fn from(e: seccomp::Error) -> Error {
        match e {
            seccomp::Error::Exec(e) => Error::Prog(e),
            e => Error::Seccomp(e),
        }
    }
}

/// What `run` was asked for: the flags, and the variables that mean the
/// same, read once.
struct Settings {
    prog: OsString,
    args: Vec<OsString>,
    /// `--argv0`: PROG's argv[0], when not PROG itself.
    argv0: Option<OsString>,
    mode: RunMode,
    /// `-d` or `MPTCPIZE_DEBUG`.
    debug: bool,
    /// `--no-fallback` or `MPTCPIZE_FALLBACK` off.
    no_fallback: bool,
    /// `--strict-options` or `MPTCPIZE_STRICT_OPTIONS` on.
    strict_options: bool,
    /// `--report[=FILE]` or `MPTCPIZE_REPORT` (`stderr` for stderr).
    report: Option<PathBuf>,
    /// `--report-format` or `MPTCPIZE_REPORT_FORMAT`: set only when given.
    report_format: Option<env::ReportFormat>,
}

impl Settings {
    fn resolve(args: RunArgs) -> Result<Settings, Error> {
        let mut command = args.command.into_iter();
        let prog = command.next().expect("clap requires PROG");
        let vars: Vec<_> = std::env::vars_os().collect();
        let from_env = env::Settings::of(
            vars.iter()
                .map(|(k, v)| (k.as_encoded_bytes(), v.as_encoded_bytes())),
        );
        let report = args.report.or(match from_env.report() {
            env::Report::Off => None,
            env::Report::Stderr => Some(PathBuf::from("stderr")),
            env::Report::File(path) => Some(PathBuf::from(OsStr::from_bytes(path))),
        });
        let report_format = match args.report_format {
            Some(f) => Some(f.into()),
            None => match from_env.report_format() {
                Ok(f) => from_env_set(&vars, env::REPORT_FORMAT).then_some(f),
                Err(v) => return Err(Error::ReportFormat(String::from_utf8_lossy(v).into_owned())),
            },
        };
        Ok(Settings {
            prog,
            args: command.collect(),
            argv0: args.argv0,
            mode: args.mode,
            debug: args.debug || from_env.debug(),
            no_fallback: args.no_fallback || from_env.no_fallback(),
            strict_options: args.strict_options || from_env.strict_options(),
            report,
            report_format,
        })
    }

    /// The mode for `target`: the policy's, or the one forced by `--mode`
    /// (with a warning where it cannot reach the sockets).
    fn mode(&self, target: &Target) -> Mode {
        let forced = match self.mode {
            RunMode::Auto => {
                let choice = policy::choose(target);
                if self.debug {
                    say::line(format_args!("{} mode: {}", choice.mode, choice.reason));
                }
                return choice.mode;
            }
            RunMode::Preload => Mode::Preload,
            RunMode::Seccomp => Mode::Seccomp,
        };
        if self.debug {
            say::line(format_args!("{forced} mode (--mode {forced})"));
        }
        if let Some(why) = policy::forced_mismatch(target, forced) {
            say::warn(format_args!("{why}"));
        }
        forced
    }

    /// PROG's argv[0]: `--argv0`, or the name PROG was given as.
    fn argv0(&self) -> &OsStr {
        self.argv0.as_deref().unwrap_or(&self.prog)
    }

    /// The variables PROG gets, besides `LD_PRELOAD`.
    fn env(&self, report: Option<PathBuf>) -> Vec<(&'static str, OsString)> {
        // Go 1.21+ anywhere in the tree makes its own MPTCP sockets.
        let godebug = godebug_with(std::env::var_os("GODEBUG").as_deref());
        let mut vars = vec![("GODEBUG", godebug)];
        if self.debug {
            vars.push((env::DEBUG, env::ON.into()));
        }
        if self.no_fallback {
            vars.push((env::FALLBACK, env::OFF.into()));
        }
        if self.strict_options {
            vars.push((env::STRICT_OPTIONS, env::ON.into()));
        }
        if let Some(to) = report {
            vars.push((env::REPORT, to.into_os_string()));
        }
        if let Some(f) = self.report_format {
            vars.push((env::REPORT_FORMAT, f.name().into()));
        }
        vars
    }
}

/// True when `name` is in `vars` with a value that is not empty.
fn from_env_set(vars: &[(OsString, OsString)], name: &str) -> bool {
    vars.iter().any(|(k, v)| k == name && !v.is_empty())
}

/// What seccomp mode does with socket options MPTCP refuses.
const SECCOMP_SOCKOPT_NOTE: &str = "seccomp mode: a socket option MPTCP refuses keeps its error \
(the supervisor answers socket() only: following setsockopt() too would cost a second round trip \
to it on every call); preload mode makes such a socket TCP";

/// What `--report` gives in seccomp mode, said up front.
const SECCOMP_REPORT_NOTE: &str = "seccomp mode: the report counts, for each process, \
the sockets made MPTCP and those that fell back to TCP (the supervisor sees socket() calls, \
not connections); to see each connection and its subflows, run `mptcpize-rs top` meanwhile";

pub fn run(args: RunArgs) -> Result<u8, Error> {
    let settings = Settings::resolve(args)?;
    let target = target::inspect(&settings.prog)?;
    if let Some(e) = target.interpreter_error() {
        return Err(e.into());
    }
    let mode = settings.mode(&target);
    if let Some(why) = policy::privilege_obstacle(&target, mode) {
        return Err(Error::Privileges(why));
    }
    let report = match &settings.report {
        Some(to) => Some(report_dest::open(to)?),
        None => None,
    };
    if report.is_some() && mode == Mode::Seccomp {
        say::line(format_args!("{SECCOMP_REPORT_NOTE}"));
    }
    if report.is_some() {
        if let Some(note) = policy::report_reach(&target, mode) {
            say::line(format_args!("{note}"));
        }
    }
    let env = settings.env(report.as_ref().map(report_dest::Destination::env_value));
    match mode {
        Mode::Preload => Err(preload(&settings, &target, env)),
        Mode::Seccomp => {
            if settings.debug {
                say::line(format_args!("{}", policy::NO_NEW_PRIVS_NOTE));
                say::line(format_args!("{SECCOMP_SOCKOPT_NOTE}"));
            }
            let config = seccomp::Config {
                debug: settings.debug,
                no_fallback: settings.no_fallback,
            };
            let report = report.map(|to| seccomp::ReportRequest {
                to,
                format: settings.report_format.unwrap_or_default(),
            });
            let mut cmd = Command::new(&target.path);
            cmd.arg0(settings.argv0()).args(&settings.args).envs(env);
            Err(seccomp::exec(cmd, &settings.prog, config, report).into())
        }
    }
}

/// Executes PROG in place of the launcher with the shim preloaded; returns
/// only why that failed. A shim ld.so would not load is refused with
/// `--no-fallback`, and otherwise left out with a warning: nobody is told
/// MPTCP where the sockets stay TCP.
fn preload(settings: &Settings, target: &Target, env: Vec<(&'static str, OsString)>) -> Error {
    let shim = match locate::shim() {
        Ok(shim) => shim,
        Err(e) => return e.into(),
    };
    let prog = target
        .program()
        .and_then(|(t, elf)| Some((t.path.as_path(), elf.id?)));
    // The launcher is single-threaded and about to exec: setting its own
    // environment is safe, and spares Command a copy of the whole of it.
    match locate::loadable(&shim, prog) {
        Ok(()) => {
            let existing = std::env::var_os("LD_PRELOAD");
            let ld_preload = match &settings.report {
                // The report is a library of its own, loaded only when asked
                // for, before the shim.
                Some(_) => match locate::report_library(&shim) {
                    Ok(report) => ld_preload_with_report(existing.as_deref(), &report, &shim),
                    Err(e) => return e.into(),
                },
                None => ld_preload_with(existing.as_deref(), &shim),
            };
            std::env::set_var("LD_PRELOAD", ld_preload);
        }
        Err(e) if settings.no_fallback => return Error::Unloadable(e),
        Err(e) => say::warn(format_args!(
            "{e}: {} runs without it, its sockets stay TCP (--no-fallback refuses instead)",
            settings.prog.to_string_lossy()
        )),
    }
    for (name, value) in env {
        std::env::set_var(name, value);
    }
    let mut cmd = Command::new(&settings.prog);
    cmd.arg0(settings.argv0()).args(&settings.args);
    // SAFETY: the hook only calls signal(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            say::restore_sigpipe();
            Ok(())
        })
    };
    // exec() only returns on failure.
    let err = cmd.exec();
    target::Error::from_exec(&err, &settings.prog).into()
}
