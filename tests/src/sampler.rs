//! Per-path throughput over time: a thread inside a namespace reads the
//! byte counters of chosen interfaces from /proc/thread-self/net/dev every
//! period (100 ms for the failover plot), without a process per sample.

use crate::enter::{spawn_in_netns, NetnsThread};
use crate::netns::parse_net_dev;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The counters of every watched interface at one moment.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Seconds since the sampler started.
    pub t: f64,
    /// Received bytes of each interface, in the order given.
    pub rx_bytes: Vec<u64>,
    /// Sent bytes of each interface, in the order given.
    pub tx_bytes: Vec<u64>,
}

/// Samples interface counters until [`LinkSampler::stop`].
pub struct LinkSampler {
    stop: Arc<AtomicBool>,
    thread: NetnsThread<Vec<Sample>>,
    pub started: Instant,
}

impl LinkSampler {
    /// Starts sampling `ifaces` of namespace `netns` every `period`.
    pub fn start(netns: &str, ifaces: Vec<String>, period: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let started = Instant::now();
        let thread = spawn_in_netns(netns, move || {
            let mut samples = Vec::new();
            let mut next = started;
            while !flag.load(Ordering::Relaxed) {
                let text = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap_or_default();
                let t = started.elapsed().as_secs_f64();
                let dev = parse_net_dev(&text);
                let get = |i: &String| dev.get(i).copied().unwrap_or_default();
                samples.push(Sample {
                    t,
                    rx_bytes: ifaces.iter().map(|i| get(i).rx_bytes).collect(),
                    tx_bytes: ifaces.iter().map(|i| get(i).tx_bytes).collect(),
                });
                next += period;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            samples
        })?;
        Ok(LinkSampler {
            stop,
            thread,
            started,
        })
    }

    /// Stops sampling and returns the samples.
    pub fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Throughput between consecutive samples, in Mbit/s, per interface
/// (received bytes): `(t at the end of the interval, [Mbit/s per iface])`.
pub fn rx_rates_mbit(samples: &[Sample]) -> Vec<(f64, Vec<f64>)> {
    samples
        .windows(2)
        .map(|w| {
            let dt = (w[1].t - w[0].t).max(1e-6);
            let rates = w[1]
                .rx_bytes
                .iter()
                .zip(&w[0].rx_bytes)
                .map(|(b, a)| b.saturating_sub(*a) as f64 * 8.0 / dt / 1e6)
                .collect();
            (w[1].t, rates)
        })
        .collect()
}
