//! `mptcpize-rs top`: the MPTCP connections of this network namespace,
//! live, grouped by process, each with its subflows, from outside the
//! programs (sock_diag and /proc), so it sees every mode of ours and
//! programs that use MPTCP natively alike.
//!
//! A terminal gets the live view ([`tui`]); a pipe gets plain lines
//! ([`plain`]); `--json` gets one JSON array per look. `--once` takes one
//! look and exits.

mod diag;
mod fmt;
mod history;
mod ifaces;
mod kinfo;
mod netlink;
mod plain;
mod procs;
mod snapshot;
mod tui;

use crate::cli::TopArgs;
use crate::error::SUCCESS;
use history::History;
use snapshot::{Filter, Sampler};
use std::io::{self, IsTerminal, Write};
use std::time::Instant;

/// Why `top` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// sock_diag or rtnetlink failed.
    #[error("cannot read the kernel's MPTCP sockets (sock_diag){}", kernel_why(.0))]
    Kernel(io::Error),
    /// The terminal could not be set up or drawn on.
    #[error("the terminal failed: {}", crate::say::short(.0))]
    Terminal(io::Error),
    /// `--unit`: no such unit running.
    #[error(transparent)]
    Unit(#[from] crate::systemd::Error),
    /// stdout is full or gone (a closed pipe is not an error: the reader
    /// has what it wanted).
    #[error("cannot write the output: {}", crate::say::short(.0))]
    Output(io::Error),
}

fn kernel_why(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) => {
            ": this kernel has no MPTCP socket diagnostics (CONFIG_INET_MPTCP_DIAG; Linux 5.9+)"
                .into()
        }
        _ => format!(": {}", crate::say::short(e)),
    }
}

pub fn top(args: TopArgs) -> Result<u8, Error> {
    let interval = args.interval;
    let filter = Filter {
        pids: args.pid.clone(),
        cgroup: match &args.unit {
            Some(unit) => Some(crate::systemd::control_group(unit, args.user)?),
            None => None,
        },
        peer: args.peer,
    };
    let mut sampler = Sampler::open().map_err(Error::Kernel)?;
    let iterations = if args.once { Some(1) } else { args.iterations };
    // A terminal of no size (a pty nobody sized) shows nothing: plain lines.
    let tty = io::stdout().is_terminal()
        && ratatui::crossterm::terminal::size().is_ok_and(|(w, h)| w > 0 && h > 0);
    if tty && !args.json && !args.once {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let view = tui::View::new(color, interval);
        tui::run(view, iterations, || sampler.sample(&filter)).map_err(Error::Terminal)?;
        return Ok(SUCCESS);
    }
    let mut history = History::new();
    let mut out = io::stdout().lock();
    let mut looks = 0;
    loop {
        let mut conns = sampler.sample(&filter).map_err(Error::Kernel)?;
        let events = history.update(&mut conns, Instant::now());
        let written = if args.json {
            serde_json::to_writer(&mut out, &conns)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
                .and_then(|()| out.flush())
        } else {
            plain::write(&mut out, &conns, &events)
        };
        match written {
            Ok(()) => {}
            // `top | head`: the reader has what it wanted.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(SUCCESS),
            Err(e) => return Err(Error::Output(e)),
        }
        looks += 1;
        if iterations.is_some_and(|n| looks >= n) {
            return Ok(SUCCESS);
        }
        std::thread::sleep(interval);
    }
}
