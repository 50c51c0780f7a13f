//! Failover: a transfer under `mptcpize-rs run` over two paths; one path is
//! taken down (`ip link set … down` at both ends) mid-transfer and brought
//! back later. The receiver's interface counters, sampled every 100 ms
//! inside the server namespace, give each path's throughput over time.

use super::transfer::bulk_transfer;
use super::way::Way;
use crate::BenchArgs;
use mptcpize_tests::sampler::{rx_rates_mbit, LinkSampler};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The path taken down: path 0 carries the connection's first subflow,
/// the one it was opened over, the harder case.
pub const DOWN_PATH: usize = 0;
/// Seconds from the start of the transfer to the link going down, to it
/// coming back, and to the end of the transfer.
const T_DOWN: f64 = 5.0;
const T_UP: f64 = 12.0;
const T_END: f64 = 24.0;

#[derive(Serialize, Debug)]
pub struct Failover {
    pub rate_mbit: u32,
    pub down_path: usize,
    /// When the path went down and came back, seconds on the samples' clock.
    pub t_down: f64,
    pub t_up: f64,
    /// Bytes received, their FNV-1a hash, and whether they matched what was sent.
    pub bytes: u64,
    pub fnv: String,
    pub intact: bool,
    /// What differed, when the bytes did not arrive intact.
    pub problem: Option<String>,
    /// How long, between the failure and the repair, the throughput of both
    /// paths together stayed below half the surviving path's rate (sum of
    /// the 100 ms intervals below it), in ms.
    pub below_half_ms: f64,
    /// The lowest throughput of both paths together in a 100 ms interval
    /// between the failure and the repair, in Mbit/s.
    pub lowest_mbit: f64,
    /// From the link coming back until it carries at least a quarter of its
    /// rate again (None: it did not within the run), in s.
    pub resumed_after_s: Option<f64>,
    /// Mean throughput of each path before the failure, during it (after
    /// the outage), and in the last 3 s of the transfer.
    pub before_mbit: Vec<f64>,
    pub during_mbit: Vec<f64>,
    pub after_mbit: Vec<f64>,
    /// Per-path throughput every 100 ms: (end of interval in s, Mbit/s per path).
    pub series: Vec<(f64, Vec<f64>)>,
}

fn mean_between(series: &[(f64, Vec<f64>)], from: f64, to: f64, paths: usize) -> Vec<f64> {
    let inside: Vec<&Vec<f64>> = series
        .iter()
        .filter(|(t, _)| *t > from && *t <= to)
        .map(|(_, r)| r)
        .collect();
    (0..paths)
        .map(|p| inside.iter().map(|r| r[p]).sum::<f64>() / inside.len().max(1) as f64)
        .collect()
}

pub fn measure(args: &BenchArgs) -> Result<Failover, String> {
    let bed = super::testbed(args, 2, false);
    let ifaces = bed.paths.iter().map(|p| p.server_if.clone()).collect();
    let sampler = LinkSampler::start(&bed.server.name, ifaces, Duration::from_millis(100))
        .map_err(|e| format!("cannot sample in {}: {e}", bed.server.name))?;
    let clock = sampler.started;
    let (mut t_down, mut t_up) = (0.0, 0.0);
    let received = bulk_transfer(&bed, Way::MptcpizeRs, 5400, T_END, || {
        let start = Instant::now();
        let at = |s: f64| {
            if let Some(wait) = Duration::from_secs_f64(s).checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        };
        at(T_DOWN);
        bed.set_path_up(DOWN_PATH, false);
        t_down = clock.elapsed().as_secs_f64();
        eprintln!("  path {DOWN_PATH} down at {t_down:.2} s");
        at(T_UP);
        bed.set_path_up(DOWN_PATH, true);
        t_up = clock.elapsed().as_secs_f64();
        eprintln!("  path {DOWN_PATH} up at {t_up:.2} s");
    });
    let samples = sampler.stop();
    let received = received?;
    let series = rx_rates_mbit(&samples);
    let rate = f64::from(args.rate);
    let paths = bed.paths.len();
    let total = |r: &Vec<f64>| r.iter().sum::<f64>();

    // Every 100 ms interval between the failure and the repair with less
    // than half the surviving path's rate counts; the outage is over at the
    // end of the last one.
    let low: Vec<f64> = series
        .iter()
        .filter(|(t, r)| *t > t_down && *t <= t_up && total(r) < rate / 2.0)
        .map(|(t, _)| *t)
        .collect();
    let below_half_ms = (low.len() as f64 * 100.0).round();
    let recovered_at = low.last().copied().unwrap_or(t_down);
    let lowest_mbit = series
        .iter()
        .filter(|(t, _)| *t > t_down && *t <= t_up)
        .map(|(_, r)| total(r))
        .fold(f64::INFINITY, f64::min);
    let resumed_after_s = series
        .iter()
        .find(|(t, r)| *t > t_up && r[DOWN_PATH] >= rate / 4.0)
        .map(|(t, _)| ((t - t_up) * 100.0).round() / 100.0);
    // The sender stops T_END after it started (T_DOWN before the failure).
    let end = t_down - T_DOWN + T_END;
    let f = Failover {
        rate_mbit: args.rate,
        down_path: DOWN_PATH,
        t_down,
        t_up,
        bytes: received.bytes,
        fnv: received.fnv,
        intact: received.intact,
        problem: received.problem,
        below_half_ms,
        lowest_mbit: (lowest_mbit * 10.0).round() / 10.0,
        resumed_after_s,
        before_mbit: mean_between(&series, 1.0, t_down, paths),
        during_mbit: mean_between(&series, recovered_at, t_up, paths),
        after_mbit: mean_between(&series, end - 3.0, end, paths),
        series,
    };
    eprintln!(
        "  {} bytes intact: {}; below half rate for {} ms; path {DOWN_PATH} resumed after {:?} s",
        f.bytes, f.intact, f.below_half_ms, f.resumed_after_s
    );
    Ok(f)
}
