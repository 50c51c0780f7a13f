//! The command line, declared once with clap's derive API. The man page and
//! shell completions are generated from these same definitions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;

const EXAMPLES: &str = "\
Examples:
  mptcpize-rs run iperf3 -c server.example      run a client over MPTCP
  mptcpize-rs run -d curl -O http://host/file   ... and log each converted socket
  mptcpize-rs run --no-fallback python3 app.py  fail instead of falling back to TCP
  LD_PRELOAD=$(mptcpize-rs preload-path) prog   use the shim without the launcher

See that MPTCP is in use:  ss -Mtn   nstat -az | grep MPTcp";

#[derive(Parser, Debug)]
#[command(
    name = "mptcpize-rs",
    version,
    about = "Run unmodified TCP programs over Multipath TCP",
    long_about = "Run unmodified TCP programs over Multipath TCP (RFC 8684).\n\n\
        Programs started by `mptcpize-rs run` open MPTCP sockets where they ask for \
        TCP ones, and fall back to TCP where the kernel has no MPTCP.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run PROG with its TCP sockets turned into MPTCP sockets
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Print the absolute path of the preload library (libmptcpize.so)
    #[command(after_help = "Example:\n  LD_PRELOAD=$(mptcpize-rs preload-path) iperf3 -c host")]
    PreloadPath,
}

const RUN_EXAMPLES: &str = "\
PROG is found through PATH. In preload mode it is executed in place of
mptcpize-rs: no fork, no shell, so it keeps the pid, signals, terminal and
exit status of its own. In seccomp mode mptcpize-rs stays PROG's parent: it
forwards signals to PROG and exits with PROG's status (128+N for signal N).

Exit status: PROG's own; 127 if PROG was not found, 126 if it could not be
executed, 125 if mptcpize-rs itself failed, 2 for a usage error.

Environment:
  MPTCPIZE_LIB        the preload library to use (default: next to mptcpize-rs,
                      then ../lib/mptcpize-rs/ relative to it)
  MPTCPIZE_DEBUG=1    log each converted socket and fallback on stderr
  MPTCPIZE_FALLBACK=0 fail instead of falling back to TCP

Examples:
  mptcpize-rs run iperf3 -c server.example
  mptcpize-rs run -d -- nc -l 5201
  mptcpize-rs run --no-fallback curl http://host/
  mptcpize-rs run --mode seccomp busybox wget http://host/file";

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Log each converted socket and each fallback on stderr (sets MPTCPIZE_DEBUG=1)
    #[arg(short, long)]
    pub debug: bool,
    /// Fail with ENOPROTOOPT instead of falling back to TCP when MPTCP is unavailable
    #[arg(long)]
    pub no_fallback: bool,
    /// How to reach PROG's sockets: preload (LD_PRELOAD, dynamic programs),
    /// seccomp (a supervisor answers the socket() system calls of the whole
    /// process tree: static programs, Go before 1.21), or auto (chosen from
    /// PROG's ELF headers; --debug says which and why)
    #[arg(long, value_enum, default_value_t = RunMode::Auto)]
    pub mode: RunMode,
    /// The program to run, and its arguments
    #[arg(value_name = "PROG", required = true, trailing_var_arg = true, num_args = 1..)]
    pub command: Vec<OsString>,
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
