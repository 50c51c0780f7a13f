//! `xtask bench`: one run that measures what issue 3 and the core issue ask
//! for, beside plain TCP and mptcpd's `mptcpize`, and reports it as a table
//! on stdout, as JSON, and as a PNG plot of the failover run.
//!
//! - [`aggregate`]: bulk throughput over two equal rate-limited paths, four
//!   ways (plain TCP, `mptcpize-rs run`, `mptcpize run`, native MPTCP), with
//!   iperf3 and with the `bulk` example;
//! - [`failover`]: a path goes down mid-transfer and comes back;
//! - [`fallback`]: a client under mptcpize-rs against a server without MPTCP;
//! - [`integrity`]: many short transfers over one and two paths, counting
//!   those whose bytes arrive changed;
//! - [`shim_cost`]: the shim's instructions per socket() call and at load,
//!   and the launcher's wall time;
//! - [`seccomp_cost`]: the time per socket() call in seccomp mode, against
//!   preload mode and no mptcpize;
//! - [`top_cost`]: `mptcpize-rs top`'s time per snapshot of 1,000
//!   connections and the CPU use of its live views.

mod aggregate;
pub mod failover;
mod fallback;
mod integrity;
mod report;
mod seccomp_cost;
mod shim_cost;
mod top_cost;
mod transfer;
mod way;

use crate::BenchArgs;
use mptcpize_tests::netns::TestbedConfig;
use mptcpize_tests::Testbed;
use serde::Serialize;

/// The benchmark's testbed: `paths` paths limited to `--rate`, delayed by
/// `--delay`, with the veth links' TSO on or off.
fn testbed(args: &BenchArgs, paths: usize, tso: bool) -> Testbed {
    Testbed::with(TestbedConfig {
        paths,
        rate_mbit: Some(args.rate),
        delay_ms: args.delay,
        server_signal: false,
        tso,
    })
}

/// The parts of the benchmark, for `--only`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Aggregate,
    Failover,
    Fallback,
    Integrity,
    Shim,
    Seccomp,
    Top,
}

/// The machine the figures were measured on.
#[derive(Serialize, Debug)]
pub struct Machine {
    pub kernel: String,
    pub nproc: usize,
    pub cpu: String,
}

impl Machine {
    fn here() -> Machine {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown".into(), |(_, m)| m.trim().to_string());
        Machine {
            kernel,
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
        }
    }
}

/// One target of the issues and whether this run met it.
#[derive(Serialize, Debug)]
pub struct Target {
    pub what: String,
    pub measured: f64,
    pub limit: String,
    pub met: bool,
}

/// Everything one run measured.
#[derive(Serialize, Debug)]
pub struct Report {
    pub machine: Machine,
    pub rate_mbit: u32,
    pub delay_ms: Option<u32>,
    pub seconds: u32,
    pub repeat: u32,
    pub aggregation: Option<aggregate::Aggregation>,
    pub failover: Option<failover::Failover>,
    pub fallback: Option<fallback::Fallback>,
    pub integrity: Option<integrity::Integrity>,
    pub shim: Option<shim_cost::ShimCost>,
    pub seccomp: Option<seccomp_cost::SeccompCost>,
    pub top: Option<top_cost::TopCost>,
    pub targets: Vec<Target>,
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    crate::testbed::preflight()?;
    let wants = |p: Part| args.only.is_empty() || args.only.contains(&p);
    if wants(Part::Aggregate)
        || wants(Part::Failover)
        || wants(Part::Fallback)
        || wants(Part::Integrity)
    {
        way::require_tools()?;
    }
    // Build (release, when this runs as release) the shim, launcher and examples.
    mptcpize_tests::artifacts::built();
    let mut report = Report {
        machine: Machine::here(),
        rate_mbit: args.rate,
        delay_ms: args.delay,
        seconds: args.seconds,
        repeat: args.repeat,
        aggregation: None,
        failover: None,
        fallback: None,
        integrity: None,
        shim: None,
        seccomp: None,
        top: None,
        targets: Vec::new(),
    };
    if wants(Part::Aggregate) {
        eprintln!("xtask: aggregation over 2 x {} Mbit/s ...", args.rate);
        report.aggregation = Some(aggregate::measure(args)?);
    }
    if wants(Part::Failover) {
        eprintln!("xtask: failover ...");
        let f = failover::measure(args)?;
        match crate::plot::failover(&f, &args.plot, &args.font) {
            Ok(()) => eprintln!("xtask: plot written to {}", args.plot.display()),
            Err(e) => eprintln!("xtask: no plot: {e}"),
        }
        report.failover = Some(f);
    }
    if wants(Part::Fallback) {
        eprintln!("xtask: connect latency against a server without MPTCP ...");
        report.fallback = Some(fallback::measure(args)?);
    }
    if wants(Part::Integrity) {
        eprintln!(
            "xtask: integrity, {} short transfers per path count and way ...",
            args.integrity_runs
        );
        report.integrity = Some(integrity::measure(args)?);
    }
    if wants(Part::Shim) {
        eprintln!("xtask: shim costs (callgrind, hyperfine) ...");
        report.shim = Some(shim_cost::measure()?);
    }
    if wants(Part::Seccomp) {
        eprintln!("xtask: seccomp mode's cost per socket() ...");
        report.seccomp = Some(seccomp_cost::measure()?);
    }
    if wants(Part::Top) {
        eprintln!("xtask: top's cost for 1,000 connections ...");
        report.top = Some(top_cost::measure()?);
    }
    report.targets = report::targets(&report);
    print!("{}", report::table(&report));
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&args.json, json + "\n")
        .map_err(|e| format!("cannot write {}: {e}", args.json.display()))?;
    eprintln!("xtask: JSON written to {}", args.json.display());
    Ok(())
}
