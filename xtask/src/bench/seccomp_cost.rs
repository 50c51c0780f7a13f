//! The cost of seccomp mode (issue 6): nanoseconds per socket() call of
//! the `socket-loop` example run directly, under `mptcpize-rs run --mode
//! preload` and under `--mode seccomp`. TCP sockets are converted by both
//! modes (in seccomp mode each is a round trip to the supervisor); UDP
//! sockets are passed through, so their figure is what the filter costs
//! every other system call. Each figure is the median of interleaved runs,
//! so that the machine's other load hits the three modes alike.

use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, launcher};
use serde::Serialize;
use std::process::Command;
use std::time::Duration;

/// socket() calls per run, and runs per figure.
const CALLS: u32 = 50_000;
const ROUNDS: usize = 5;

#[derive(Serialize, Debug)]
pub struct Row {
    /// `tcp` (converted) or `udp` (passed through).
    pub kind: &'static str,
    pub none_ns: f64,
    pub preload_ns: f64,
    pub seccomp_ns: f64,
}

#[derive(Serialize, Debug)]
pub struct SeccompCost {
    pub calls: u32,
    pub rounds: usize,
    pub rows: Vec<Row>,
}

impl SeccompCost {
    pub fn row(&self, kind: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.kind == kind)
    }
}

/// One run's `N socket() calls: X ns each` → X.
fn ns_per_call(mode: Option<&str>, kind: &str) -> Result<f64, String> {
    let mut cmd = match mode {
        None => Command::new(bin("socket-loop")),
        Some(m) => {
            let mut c = Command::new(launcher());
            c.args(["run", "--mode", m, "--"]).arg(bin("socket-loop"));
            c
        }
    };
    cmd.args([&CALLS.to_string(), kind]);
    let out = run(cmd, Duration::from_secs(120));
    if !out.status.success() {
        return Err(format!("socket-loop ({mode:?}, {kind}) failed:\n{out}"));
    }
    out.stdout
        .split_whitespace()
        .rev()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("socket-loop printed no figure:\n{out}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn measure() -> Result<SeccompCost, String> {
    let mut rows = Vec::new();
    for kind in ["tcp", "udp"] {
        let (mut none, mut preload, mut seccomp) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            none.push(ns_per_call(None, kind)?);
            preload.push(ns_per_call(Some("preload"), kind)?);
            seccomp.push(ns_per_call(Some("seccomp"), kind)?);
        }
        rows.push(Row {
            kind,
            none_ns: median(none),
            preload_ns: median(preload),
            seccomp_ns: median(seccomp),
        });
    }
    Ok(SeccompCost {
        calls: CALLS,
        rounds: ROUNDS,
        rows,
    })
}
