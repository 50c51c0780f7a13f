//! The command line, declared once with clap's derive API. The man pages and
//! shell completions are rendered from these same definitions (see
//! [`crate::assets`]): each command's [`Doc`] is what `--help` shows after
//! the options, and its man page's NOTES, EXIT STATUS, ENVIRONMENT and
//! EXAMPLES sections.

use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "mptcpize-rs",
    version,
    about = "Run unmodified TCP programs over Multipath TCP",
    long_about = "Run unmodified TCP programs over Multipath TCP (RFC 8684).\n\n\
        Programs started by `mptcpize-rs run` open MPTCP sockets where they ask for \
        TCP ones, and fall back to TCP where the kernel has no MPTCP."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run PROG with its TCP sockets turned into MPTCP sockets
    Run(RunArgs),
    /// Print the absolute path of the preload library (libmptcpize.so)
    PreloadPath,
    /// Check that this host is ready for MPTCP, and how `run` would reach PROG's sockets
    Check(CheckArgs),
    /// Make a systemd service use MPTCP from its next start (a drop-in, never an edit)
    Enable(EnableArgs),
    /// Remove what `enable` added (only that), so the service uses TCP again
    Disable(ChangeArgs),
    /// Say which services mptcpize-rs enabled, and whether they run with MPTCP now
    Status(StatusArgs),
    /// Watch this network namespace's MPTCP connections and their subflows, live
    Top(TopArgs),
}

/// What the command line asks for: one of the subcommands users see, or
/// `generate-assets DIR`, a build step of `make` (hidden: `--help`, the
/// man pages and the completions, all rendered from [`Cli`] alone, do not
/// list it).
pub enum Invocation {
    User(Cli),
    GenerateAssets(PathBuf),
}

/// The hidden build-time subcommand.
const GENERATE_ASSETS: &str = "generate-assets";

/// Parses the command line; a usage error exits with clap's message and
/// status 2, `--help` and `--version` with 0.
///
/// The [`Doc`] texts are formatted only when help is shown: formatting them
/// on every start would cost `run` more than the rest of its start-up.
pub fn parse() -> Invocation {
    use clap::error::ErrorKind;
    use clap::{CommandFactory, FromArgMatches};
    let command = || Cli::command().subcommand(generate_assets());
    let mut matches = match command().try_get_matches() {
        Ok(matches) => matches,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            // Parsed again with the Docs, so clap prints the whole help and exits.
            with_docs(command()).get_matches()
        }
        Err(e) => e.exit(),
    };
    if let Some((GENERATE_ASSETS, sub)) = matches.subcommand() {
        let dir = sub.get_one::<PathBuf>("dir").expect("required").clone();
        return Invocation::GenerateAssets(dir);
    }
    Invocation::User(Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.exit()))
}

/// The hidden `generate-assets DIR` subcommand.
fn generate_assets() -> clap::Command {
    clap::Command::new(GENERATE_ASSETS)
        .hide(true)
        .about("Render the man pages and shell completions into DIR (for make)")
        .arg(
            clap::Arg::new("dir")
                .value_name("DIR")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf)),
        )
}

/// `cmd` with each command's [`Doc`] as the text `--help` prints after the
/// options.
fn with_docs(cmd: clap::Command) -> clap::Command {
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    subcommands
        .iter()
        .fold(cmd.after_help(MAIN.after_help()), |cmd, name| {
            cmd.mut_subcommand(name, |s| s.after_help(doc(Some(name)).after_help()))
        })
}

/// What a command's help says beyond its options.
pub struct Doc {
    /// More on how it works.
    pub notes: &'static str,
    /// Its exit codes and what each means.
    pub exit_status: &'static str,
    /// The environment variables it reads: name, meaning.
    pub environment: &'static [(&'static str, &'static str)],
    /// Command lines, each with what it does (or "").
    pub examples: &'static [(&'static str, &'static str)],
}

impl Doc {
    /// The text `--help` prints after the options.
    pub fn after_help(&self) -> String {
        let table = |rows: &[(&str, &str)]| {
            let width = rows.iter().map(|(a, _)| a.len()).max().unwrap_or(0);
            rows.iter()
                .map(|(a, b)| format!("  {a:width$}  {b}").trim_end().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut parts = Vec::new();
        if !self.notes.is_empty() {
            parts.push(self.notes.to_string());
        }
        parts.push(format!("Exit status: {}", self.exit_status));
        if !self.environment.is_empty() {
            parts.push(format!("Environment:\n{}", table(self.environment)));
        }
        parts.push(format!("Examples:\n{}", table(self.examples)));
        parts.join("\n\n")
    }
}

/// The Doc of `mptcpize-rs` (None) or of one of its subcommands.
pub fn doc(subcommand: Option<&str>) -> &'static Doc {
    match subcommand {
        None => &MAIN,
        Some("run") => &RUN,
        Some("preload-path") => &PRELOAD_PATH,
        Some("check") => &CHECK,
        Some("enable") => &ENABLE,
        Some("disable") => &DISABLE,
        Some("status") => &STATUS,
        Some("top") => &TOP,
        Some(other) => unreachable!("no Doc for the subcommand {other}"),
    }
}

/// The pages of other programs a user of this one reads (SEE ALSO).
pub const SEE_ALSO: &[&str] = &[
    "ss(8)",
    "ip-mptcp(8)",
    "nstat(8)",
    "systemd.exec(5)",
    "systemctl(1)",
    "ld.so(8)",
    "env(1)",
];

/// The variables `run` (and the shim it preloads) read.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "MPTCPIZE_LIB",
        "the preload library to use (default: next to mptcpize-rs, then \
             ../lib/mptcpize-rs/ relative to it, then the directory compiled in)",
    ),
    (
        "MPTCPIZE_DEBUG=1",
        "log each converted socket and fallback on stderr (MPTCPWRAP_DEBUG=1 too)",
    ),
    ("MPTCPIZE_FALLBACK=0", "fail instead of falling back to TCP"),
    (
        "MPTCPIZE_STRICT_OPTIONS=1",
        "keep the error of a socket option MPTCP refuses",
    ),
    ("MPTCPIZE_REPORT", "stderr or a file: what --report sets"),
    (
        "MPTCPIZE_REPORT_FORMAT",
        "text or json: what --report-format sets",
    ),
    (
        "LD_PRELOAD, GODEBUG",
        "kept: the shim and multipathtcp=1 are added once",
    ),
    (
        "",
        "An empty value is unset; 0, no, false, off and n mean off in every variable.",
    ),
];

const MAIN: Doc = Doc {
    notes: "See that MPTCP is in use:  ss -Mtn   nstat -az | grep MPTcp",
    exit_status: "the subcommand's (see its --help); 2 for a usage error.",
    environment: ENVIRONMENT,
    examples: &[
        (
            "mptcpize-rs run iperf3 -c server.example",
            "run a client over MPTCP",
        ),
        (
            "mptcpize-rs run -d curl -O http://host/file",
            "... and log each converted socket",
        ),
        (
            "mptcpize-rs run --no-fallback python3 app.py",
            "fail instead of falling back to TCP",
        ),
        (
            "LD_PRELOAD=$(mptcpize-rs preload-path) prog",
            "use the shim without the launcher",
        ),
        (
            "mptcpize-rs enable --now nginx",
            "a systemd service, from now on",
        ),
        ("mptcpize-rs check", "is this host ready for MPTCP?"),
    ],
};

const RUN: Doc = Doc {
    notes: "\
PROG is found through PATH and executed in place of mptcpize-rs, in both
modes: no shell, so it keeps the pid, signals, terminal and exit status of
its own. Seccomp mode sets no_new_privs: set-ID programs that PROG's
descendants start run without their privileges (-d says so).",
    exit_status: "PROG's own; 127 if PROG was not found, 126 if it could not be \
executed, 125 if mptcpize-rs itself failed, 2 for a usage error.",
    environment: ENVIRONMENT,
    examples: &[
        ("mptcpize-rs run iperf3 -c server.example", ""),
        ("mptcpize-rs run -d -- nc -l 5201", ""),
        ("mptcpize-rs run --no-fallback curl http://host/", ""),
        (
            "mptcpize-rs run --mode seccomp busybox wget http://host/file",
            "",
        ),
        (
            "mptcpize-rs run --argv0 httpd /bin/busybox -f -p 8080",
            "busybox runs as its httpd applet",
        ),
        ("mptcpize-rs run --report=conns.log iperf3 -c host", ""),
        (
            "mptcpize-rs run --report=conns.jsonl --report-format json iperf3 -c host",
            "JSON Lines, for jq",
        ),
    ],
};

const PRELOAD_PATH: Doc = Doc {
    notes: "",
    exit_status: "0, or 1 when no preload library is found (the message names every \
path tried).",
    environment: &[("MPTCPIZE_LIB", "the library to print, when set")],
    examples: &[("LD_PRELOAD=$(mptcpize-rs preload-path) iperf3 -c host", "")],
};

const CHECK: Doc = Doc {
    notes: "\
One line per item: ok, info, WARN (MPTCP works, but less well than it could:
no extra subflow will open on that path) or FAIL (MPTCP cannot be used). Paths
are judged one by one: the address connections start from, and for every
other address its endpoint, its route (the kernel's lookup with that source
and interface), the policy rules and rp_filter. Each problem ends with
`fix: COMMANDS`, runnable as printed.",
    exit_status: "0 when MPTCP can be used (even with warnings), 1 when it cannot \
(or --fix or --peer failed), 127/126 when PROG cannot be found or executed, 2 for a \
usage error.",
    environment: &[],
    examples: &[
        ("mptcpize-rs check", ""),
        ("mptcpize-rs check --role server", ""),
        (
            "mptcpize-rs check --peer 192.0.2.7:5201",
            "open a connection, see its subflows",
        ),
        (
            "mptcpize-rs check --fix --dry-run",
            "print the fixes, change nothing",
        ),
        (
            "mptcpize-rs check --fix",
            "apply them (until the next reboot)",
        ),
        (
            "mptcpize-rs check --fix --persist",
            "... and keep them across reboots",
        ),
        ("mptcpize-rs check --json | jq '.paths[]'", ""),
        ("mptcpize-rs check /usr/bin/iperf3", ""),
    ],
};

const ENABLE: Doc = Doc {
    notes: "\
Judges the program of every ExecStart= line as `run` judges PROG (one line
each, and why). Writes <unit>.d/90-mptcpize.conf setting LD_PRELOAD (the
shim, after any preload the unit already has) and GODEBUG=multipathtcp=1;
or, when a program is statically linked or Go before 1.21, wrapping each
ExecStart= line in `mptcpize-rs run --mode seccomp --` (prefixes, specifiers
and $VARs kept; an @ line's argv[0] passed on with --argv0). Then runs systemctl daemon-reload. For socket-activated
services, also a drop-in with SocketProtocol=mptcp for their .socket units
(systemd 257 and later). A drop-in of ours that you edited is never
replaced or removed without --force.",
    exit_status: "0 on success, 1 on an error (nothing is changed then), 2 for a \
usage error.",
    environment: &[],
    examples: &[
        (
            "mptcpize-rs enable nginx",
            "from nginx.service's next restart",
        ),
        (
            "mptcpize-rs enable --now nginx.service",
            "... and restart it now",
        ),
        (
            "mptcpize-rs enable haproxy@edge.service",
            "one instance of a template",
        ),
        (
            "mptcpize-rs enable --runtime redis",
            "until the next reboot (/run/systemd/system)",
        ),
        (
            "mptcpize-rs enable --user syncthing",
            "your own service (~/.config/systemd/user)",
        ),
        (
            "mptcpize-rs enable --root /mnt/image nginx",
            "offline, in an image or chroot",
        ),
        (
            "mptcpize-rs enable --dry-run nginx",
            "print the drop-in, change nothing",
        ),
        (
            "mptcpize-rs enable --mode seccomp app",
            "wrap its command lines in `run --mode seccomp`",
        ),
    ],
};

const DISABLE: Doc = Doc {
    notes: "\
Removes only the drop-ins mptcpize-rs wrote (and the .d directories it
created, if left empty), then runs systemctl daemon-reload.",
    exit_status: "0 on success, 1 on an error (nothing is changed then), 2 for a \
usage error.",
    environment: &[],
    examples: &[
        (
            "mptcpize-rs disable nginx",
            "TCP again from the next restart",
        ),
        ("mptcpize-rs disable --now nginx", "... and restart it now"),
        ("mptcpize-rs disable --runtime redis", ""),
        ("mptcpize-rs disable --user syncthing", ""),
        ("mptcpize-rs disable --root /mnt/image nginx", ""),
    ],
};

const STATUS: Doc = Doc {
    notes: "\
Without UNIT: one line for each unit enabled by mptcpize-rs (persistent and
runtime drop-ins of the manager selected). Only what is on disk is reported:
a drop-in an admin edited is named as such.",
    exit_status: "0 when every UNIT is enabled by mptcpize-rs, 3 when one is not, \
1 on error, 2 for a usage error.",
    environment: &[],
    examples: &[
        ("mptcpize-rs status", "every unit enabled by mptcpize-rs"),
        (
            "mptcpize-rs status nginx",
            "active / enabled, takes effect on restart",
        ),
        ("mptcpize-rs status nginx redis --json", "for scripts"),
        ("mptcpize-rs status --user syncthing", ""),
        ("mptcpize-rs status --root /mnt/image nginx", ""),
    ],
};

/// Which unit, of which service manager.
#[derive(Args, Debug)]
pub struct UnitArgs {
    /// The unit: nginx, nginx.service, foo@bar.service, web.socket, or a path to its unit file
    #[arg(value_name = "UNIT")]
    pub unit: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `status [UNIT…]`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The units (default: every unit enabled by mptcpize-rs)
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print one JSON array, an object per unit (for scripts)
    #[arg(long)]
    pub json: bool,
}

/// Which service manager, and which of its directories.
#[derive(Args, Debug)]
pub struct ScopeArgs {
    /// A unit of your user's service manager (drop-in in ~/.config/systemd/user)
    #[arg(long)]
    pub user: bool,
    /// Until the next reboot: the drop-in goes in /run/systemd/system
    #[arg(long)]
    pub runtime: bool,
    /// Work offline on the unit files of the image or chroot at DIR
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath, conflicts_with = "user")]
    pub root: Option<PathBuf>,
}

/// Options of the subcommands that change something.
#[derive(Args, Debug)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub unit: UnitArgs,
    /// Also restart the unit now
    #[arg(long, conflicts_with = "root")]
    pub now: bool,
    /// Do not run systemctl daemon-reload afterwards
    #[arg(long)]
    pub no_reload: bool,
    /// Print the drop-ins and the actions, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replace (enable) or remove (disable) our drop-in even though it was
    /// edited since mptcpize-rs wrote it (the edit is lost); with
    /// `enable --mode preload`, write the preload drop-in even for a
    /// program LD_PRELOAD cannot reach
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct EnableArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// The shim to preload, as the service sees it (default: the one `run` uses; with --root,
    /// /usr/local/lib/mptcpize-rs/libmptcpize.so in the image)
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub shim: Option<PathBuf>,
    /// How the service's programs are reached: auto (each ExecStart= program judged as `run`
    /// judges PROG: seccomp when one is statically linked or Go before 1.21), preload
    /// (LD_PRELOAD drop-in; refused for such programs without --force), or seccomp (every
    /// ExecStart= line wrapped in `mptcpize-rs run --mode seccomp`)
    #[arg(long, value_enum, default_value_t = RunMode::Auto)]
    pub mode: RunMode,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Log each converted socket and each fallback on stderr (sets MPTCPIZE_DEBUG=1)
    #[arg(short, long)]
    pub debug: bool,
    /// Fail with ENOPROTOOPT instead of falling back to TCP when MPTCP is unavailable
    #[arg(long)]
    pub no_fallback: bool,
    /// Return the error of a socket option MPTCP refuses, instead of making the
    /// socket TCP when it has not connected or listened yet (sets MPTCPIZE_STRICT_OPTIONS=1)
    #[arg(long)]
    pub strict_options: bool,
    /// Report each connection (MPTCP negotiated or fell back to TCP, subflows, bytes) and,
    /// when each process exits, its socket counts: on stderr, or appended to FILE
    #[arg(
        long,
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "stderr"
    )]
    pub report: Option<PathBuf>,
    /// How --report writes: text (sentences) or json (JSON Lines: one object per
    /// connection, one per process; schema in the README) (sets MPTCPIZE_REPORT_FORMAT)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report_format: Option<ReportFormatArg>,
    /// How to reach PROG's sockets: preload (LD_PRELOAD, dynamic programs),
    /// seccomp (a supervisor answers the socket() system calls of the whole
    /// process tree: static programs, Go before 1.21), or auto (chosen from
    /// PROG's ELF headers; --debug says which and why)
    #[arg(long, value_enum, default_value_t = RunMode::Auto)]
    pub mode: RunMode,
    /// Execute PROG with NAME as its argv[0] (what `ps` shows, what a multi-call program
    /// such as busybox acts on), as bash's `exec -a NAME` does; the mode is still judged
    /// from PROG itself
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    pub argv0: Option<OsString>,
    /// The program to run, and its arguments
    #[arg(
        value_names = ["PROG", "ARGS"],
        value_hint = ValueHint::CommandWithArguments,
        required = true,
        trailing_var_arg = true,
        num_args = 1..
    )]
    pub command: Vec<OsString>,
}

/// `run --report-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormatArg {
    /// One sentence per connection and per process
    Text,
    /// JSON Lines: one object per connection and per process
    Json,
}

impl From<ReportFormatArg> for mptcpize_rules::env::ReportFormat {
    fn from(f: ReportFormatArg) -> Self {
        match f {
            ReportFormatArg::Text => Self::Text,
            ReportFormatArg::Json => Self::Json,
        }
    }
}

/// `run --mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    /// Preload for dynamically linked programs and Go 1.21+, seccomp for
    /// static programs and Go before 1.21
    Auto,
    /// LD_PRELOAD the shim (and GODEBUG=multipathtcp=1 for Go)
    Preload,
    /// A seccomp filter and a supervisor process, for the whole process tree
    Seccomp,
}

/// Which side of connections `check` judges the host as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckRole {
    Client,
    Server,
    Both,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print the findings as one JSON object (for scripts)
    #[arg(long)]
    pub json: bool,
    /// Judge this host as a client (subflow endpoints), a server (signal
    /// endpoints), or both
    #[arg(long, value_enum, default_value_t = CheckRole::Both)]
    pub role: CheckRole,
    /// Judge the paths to this peer, and open an MPTCP connection to it (any
    /// MPTCP listener) to see which subflows come up
    #[arg(long, value_name = "HOST:PORT")]
    pub peer: Option<String>,
    /// How long --peer waits for the subflows, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0, requires = "peer")]
    pub wait: f64,
    /// Apply the runtime fixes (limits, endpoints, routing by source,
    /// rp_filter), each printed as the command it runs
    #[arg(long)]
    pub fix: bool,
    /// With --fix: print the commands, run none
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// Keep the MPTCP configuration across reboots: NetworkManager's
    /// mptcp-flags, or /etc/sysctl.d/90-mptcpize.conf and
    /// mptcpize-paths.service (new files only)
    #[arg(long, conflicts_with = "dry_run")]
    pub persist: bool,
    /// Also say which mode `run` would use for PROG, and why
    #[arg(value_name = "PROG", value_hint = ValueHint::CommandName)]
    pub prog: Option<OsString>,
}

const TOP: Doc = Doc {
    notes: "Every MPTCP connection of the current network namespace, grouped by process
(pid, command, and how it got MPTCP: shim, seccomp, godebug or native), each
with its subflows: addresses, interface, state, flags, bytes, rates, RTT.
Subflows that come up, close or start failing are shown as events. Read from
the kernel (sock_diag, as `ss -Mi` does) and /proc: no change to the programs.
On a terminal: a live view (q quits, arrows scroll). Otherwise plain lines,
one block per interval.",
    exit_status: "0; 1 when the kernel's sockets cannot be read; 2 for a usage error.",
    environment: &[("NO_COLOR", "set and not empty: no colours in the live view")],
    examples: &[
        ("mptcpize-rs top", "the live view"),
        (
            "mptcpize-rs top -p 1234 -d 0.5",
            "one process, twice a second",
        ),
        (
            "mptcpize-rs top --unit nginx",
            "the processes of nginx.service",
        ),
        (
            "mptcpize-rs top --user --unit syncthing",
            "a service of your user manager",
        ),
        (
            "mptcpize-rs top --peer 192.0.2.7",
            "connections with one peer",
        ),
        (
            "mptcpize-rs top --once --json | jq .",
            "one look, for scripts",
        ),
    ],
};

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Only the connections of process PID (repeat, or separate with commas)
    #[arg(short, long, value_name = "PID", value_delimiter = ',')]
    pub pid: Vec<u32>,
    /// Only the connections of the processes of a systemd unit (its control group)
    #[arg(long, value_name = "UNIT")]
    pub unit: Option<String>,
    /// --unit names a unit of your user manager (systemctl --user), not the system's
    #[arg(long, requires = "unit")]
    pub user: bool,
    /// Only the connections with the peer at ADDR (on any subflow)
    #[arg(long, value_name = "ADDR")]
    pub peer: Option<std::net::IpAddr>,
    /// Seconds between two looks
    #[arg(short = 'd', long, value_name = "SECS", default_value = "1", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Exit after N looks
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Take one look, print it and exit (no rates: they need two looks)
    #[arg(long)]
    pub once: bool,
    /// Print each look as a JSON array of connections (schema in the README)
    #[arg(long)]
    pub json: bool,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|v| std::time::Duration::try_from_secs_f64(v).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a number of seconds above 0 (such as 1 or 0.5)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_has_a_doc_with_examples_of_itself() {
        for sub in Cli::command().get_subcommands() {
            let doc = doc(Some(sub.get_name()));
            let call = format!("mptcpize-rs {}", sub.get_name());
            assert!(
                doc.examples.iter().all(|(cmd, _)| cmd.contains(&call)),
                "{}",
                sub.get_name()
            );
        }
    }
}
