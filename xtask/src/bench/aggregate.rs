//! Aggregation: bulk transfers over two equal rate-limited paths, each way
//! of [`Way`], with iperf3 and with the `bulk` example, one after another
//! on the same testbed. The share each path carried comes from the server's
//! interface counters.

use super::transfer::bulk_transfer;
use super::way::{wait_listening, Way};
use crate::BenchArgs;
use mptcpize_tests::proc::run;
use mptcpize_tests::{Child, Testbed};
use serde::Serialize;
use std::time::Duration;

#[derive(Serialize, Debug)]
pub struct Row {
    pub tool: &'static str,
    pub way: Way,
    /// Throughput seen by the receiver (the median run).
    pub mbit: f64,
    /// Throughput of every run, lowest first.
    pub runs_mbit: Vec<f64>,
    /// Megabytes the server received on each path (all packets, headers included).
    pub path_mb: Vec<f64>,
    /// Subflows at the end, fewest of all runs (bulk only: from MPTCP_INFO at the receiver).
    pub subflows: Option<u32>,
    /// Every byte arrived and matched, in every run (bulk only).
    pub intact: Option<bool>,
}

#[derive(Serialize, Debug)]
pub struct Aggregation {
    pub rows: Vec<Row>,
    /// Ways a tool cannot be measured, and why.
    pub skipped: Vec<String>,
    /// Runs whose bytes arrived changed or short (each in full).
    pub problems: Vec<String>,
}

impl Aggregation {
    pub fn mbit(&self, tool: &str, way: Way) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.tool == tool && r.way == way)
            .map(|r| r.mbit)
    }
}

pub fn measure(args: &BenchArgs) -> Result<Aggregation, String> {
    let bed = super::testbed(args, 2, false);
    let mut runs: Vec<Vec<Row>> = Vec::new();
    let mut skipped = Vec::new();
    let mut problems = Vec::new();
    let mut port = 5300;
    // Rounds of every tool and way, so that drift on a shared machine
    // touches all of them alike; each row is then the median run.
    for round in 0..args.repeat {
        let mut k = 0;
        for tool in ["iperf3", "bulk"] {
            for way in Way::ALL {
                port += 1;
                settle(&bed);
                let before = bed.server_rx_bytes();
                let row = match tool {
                    "iperf3" => iperf3(&bed, way, port, args.seconds)?,
                    _ => bulk(&bed, way, port, args.seconds, &mut problems)?,
                };
                let Some(mut row) = row else {
                    if round == 0 {
                        skipped.push(format!(
                            "{tool}, {}: iperf3 3.12 (Debian 12) cannot open MPTCP sockets itself; its -m/--mptcp came in 3.16",
                            way.name()
                        ));
                    }
                    continue;
                };
                let after = bed.server_rx_bytes();
                row.path_mb = after
                    .iter()
                    .zip(&before)
                    .map(|(a, b)| (a - b) as f64 / 1e6)
                    .collect();
                eprintln!(
                    "  round {} {tool:6} {:16} {:7.2} Mbit/s  paths {:.1?} MB",
                    round + 1,
                    way.name(),
                    row.mbit,
                    row.path_mb
                );
                if round == 0 {
                    runs.push(Vec::new());
                }
                runs[k].push(row);
                k += 1;
            }
        }
    }
    let rows = runs.into_iter().map(median_row).collect();
    Ok(Aggregation {
        rows,
        skipped,
        problems,
    })
}

/// The run with the median throughput, with every run's throughput and
/// the worst of their checks.
fn median_row(mut runs: Vec<Row>) -> Row {
    runs.sort_by(|a, b| a.mbit.total_cmp(&b.mbit));
    let all: Vec<f64> = runs.iter().map(|r| r.mbit).collect();
    let intact = runs
        .iter()
        .try_fold(true, |ok, r| r.intact.map(|i| ok && i));
    let subflows = runs.iter().filter_map(|r| r.subflows).min();
    let mut row = runs.swap_remove(runs.len() / 2);
    row.runs_mbit = all;
    row.intact = intact;
    row.subflows = subflows;
    row
}

/// Waits until no more bytes arrive on the server (what a closed
/// connection still had in its send buffer), at most 10 s.
fn settle(bed: &Testbed) {
    let mut last = bed.server_rx_bytes();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        let now = bed.server_rx_bytes();
        if now == last {
            return;
        }
        last = now;
    }
}

fn iperf3(bed: &Testbed, way: Way, port: u16, seconds: u32) -> Result<Option<Row>, String> {
    let ip = bed.server_ip().to_string();
    let port_s = port.to_string();
    let iperf = std::path::Path::new("iperf3");
    let Some(server) = way.command(
        &bed.server,
        iperf,
        &["-s", "-1", "-B", &ip, "-p", &port_s],
        None,
    ) else {
        return Ok(None);
    };
    let server = Child::spawn(server);
    wait_listening(&bed.server, port, Duration::from_secs(10))?;
    let t = seconds.to_string();
    let client = way
        .command(
            &bed.client,
            iperf,
            &["-c", &ip, "-p", &port_s, "-t", &t, "-J"],
            None,
        )
        .expect("same way as the server");
    let out = run(client, Duration::from_secs(u64::from(seconds) + 60));
    if !out.status.success() {
        return Err(format!("iperf3 client ({}) failed:\n{out}", way.name()));
    }
    let _ = server.finish(Duration::from_secs(10));
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).map_err(|e| format!("iperf3 -J output: {e}"))?;
    let bps = json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .ok_or("iperf3 -J output has no end.sum_received.bits_per_second")?;
    Ok(Some(Row {
        tool: "iperf3",
        way,
        mbit: bps / 1e6,
        runs_mbit: Vec::new(),
        path_mb: Vec::new(),
        subflows: None,
        intact: None,
    }))
}

fn bulk(
    bed: &Testbed,
    way: Way,
    port: u16,
    seconds: u32,
    problems: &mut Vec<String>,
) -> Result<Option<Row>, String> {
    let r = bulk_transfer(bed, way, port, seconds.into(), || {})?;
    if let Some(p) = r.problem {
        problems.push(p);
    }
    Ok(Some(Row {
        tool: "bulk",
        way,
        mbit: r.mbit,
        runs_mbit: Vec::new(),
        path_mb: Vec::new(),
        subflows: r.subflows,
        intact: Some(r.intact),
    }))
}
