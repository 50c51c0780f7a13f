//! What changes between two looks: the rates (bytes per second over the
//! interval), the events (a connection or a subflow that appears, closes or
//! starts failing) and each subflow's recent rates for the sparklines.

use super::snapshot::Connection;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many past rates a sparkline shows.
pub const SPARK_LEN: usize = 120;

/// A subflow, across looks: its connection's socket inode and token, and
/// its two ends.
type SubflowKey = (u32, String, String, String);

fn key(c: &Connection, local: &str, remote: &str) -> SubflowKey {
    (
        c.inode,
        c.token.clone(),
        local.to_string(),
        remote.to_string(),
    )
}

/// A connection at the last look: its data-level bytes sent (acknowledged)
/// and received, and who holds it (for the events).
type ConnSeen = (Option<u64>, Option<u64>, String);

/// Counters of one subflow at the last look.
#[derive(Clone, Debug)]
struct Seen {
    acked: u64,
    received: u64,
    failed: bool,
}

/// One change worth a line.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Since `top` started.
    pub at: Duration,
    pub text: String,
}

/// The previous look, and the rates seen so far.
pub struct History {
    start: Instant,
    last: Option<Instant>,
    conns: HashMap<(u32, String), ConnSeen>,
    subflows: HashMap<SubflowKey, Seen>,
    pub sparks: HashMap<SubflowKey, VecDeque<u64>>,
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

fn rate(now: Option<u64>, before: Option<u64>, secs: f64) -> Option<f64> {
    Some(now?.saturating_sub(before?) as f64 / secs)
}

impl History {
    pub fn new() -> History {
        History {
            start: Instant::now(),
            last: None,
            conns: HashMap::new(),
            subflows: HashMap::new(),
            sparks: HashMap::new(),
        }
    }

    /// The sparkline values (bytes per second, both ways) of a subflow.
    pub fn spark(&self, c: &Connection, local: &str, remote: &str) -> Option<&VecDeque<u64>> {
        self.sparks.get(&key(c, local, remote))
    }

    /// Fills in the rates of `conns` (taken at `now`) and says what changed
    /// since the last look. The first look has no rates and no events.
    pub fn update(&mut self, conns: &mut [Connection], now: Instant) -> Vec<Event> {
        let at = now.duration_since(self.start);
        let secs = self
            .last
            .map(|l| now.duration_since(l).as_secs_f64())
            .filter(|&s| s > 0.0);
        let first = self.last.is_none();
        let mut events = Vec::new();
        let mut say = |text: String| events.push(Event { at, text });
        let mut conns_now = HashMap::new();
        let mut subflows_now = HashMap::new();
        for c in conns.iter_mut() {
            let ck = (c.inode, c.token.clone());
            let who = describe(c);
            match self.conns.get(&ck) {
                Some((sent, received, _)) => {
                    if let Some(s) = secs {
                        c.rate_sent = rate(c.bytes_acked.or(c.bytes_sent), *sent, s);
                        c.rate_received = rate(c.bytes_received, *received, s);
                    }
                }
                None if !first => say(format!(
                    "{who}: connection {} -> {} opened, {} subflow(s)",
                    c.local,
                    c.remote,
                    c.subflows.len()
                )),
                None => {}
            }
            let known = self.conns.contains_key(&ck);
            conns_now.insert(
                ck,
                (
                    c.bytes_acked.or(c.bytes_sent),
                    c.bytes_received,
                    who.clone(),
                ),
            );
            let (inode, token) = (c.inode, c.token.clone());
            for sf in c.subflows.iter_mut() {
                let k = (inode, token.clone(), sf.local.clone(), sf.remote.clone());
                let before = self.subflows.get(&k);
                if let (Some(b), Some(s)) = (before, secs) {
                    sf.rate_sent = rate(Some(sf.bytes_acked), Some(b.acked), s);
                    sf.rate_received = rate(Some(sf.bytes_received), Some(b.received), s);
                }
                let dev = sf.interface.as_deref().unwrap_or("?");
                match (before, &sf.failed) {
                    (None, _) if known => say(format!(
                        "{who}: subflow {} -> {} ({dev}) up{}",
                        sf.local,
                        sf.remote,
                        if sf.backup { ", backup" } else { "" }
                    )),
                    (Some(b), Some(why)) if !b.failed => say(format!(
                        "{who}: subflow {} -> {} ({dev}) failing: {why}",
                        sf.local, sf.remote
                    )),
                    (Some(b), None) if b.failed => say(format!(
                        "{who}: subflow {} -> {} ({dev}) recovered",
                        sf.local, sf.remote
                    )),
                    _ => {}
                }
                let spark = self.sparks.entry(k.clone()).or_default();
                if let (Some(tx), Some(rx)) = (sf.rate_sent, sf.rate_received) {
                    if spark.len() == SPARK_LEN {
                        spark.pop_front();
                    }
                    spark.push_back((tx + rx) as u64);
                }
                subflows_now.insert(
                    k,
                    Seen {
                        acked: sf.bytes_acked,
                        received: sf.bytes_received,
                        failed: sf.failed.is_some(),
                    },
                );
            }
        }
        for (k, _) in self.subflows.iter() {
            let conn_alive = conns_now.contains_key(&(k.0, k.1.clone()));
            if conn_alive && !subflows_now.contains_key(k) {
                let who = &conns_now[&(k.0, k.1.clone())].2;
                say(format!("{who}: subflow {} -> {} closed", k.2, k.3));
            }
        }
        for (k, (_, _, who)) in self.conns.iter() {
            if !conns_now.contains_key(k) {
                say(format!("{who}: connection with token {} closed", k.1));
            }
        }
        self.sparks.retain(|k, _| subflows_now.contains_key(k));
        self.conns = conns_now;
        self.subflows = subflows_now;
        self.last = Some(now);
        events.sort_by(|a, b| a.text.cmp(&b.text));
        events
    }
}

/// `pid 1234 (iperf3)`, or `no process` for a socket nobody holds.
pub fn describe(c: &Connection) -> String {
    match (c.pid, &c.comm) {
        (Some(pid), Some(comm)) => format!("pid {pid} ({comm})"),
        (Some(pid), None) => format!("pid {pid}"),
        _ => "no process".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::snapshot::example;

    #[test]
    fn rates_and_events_between_looks() {
        let mut h = History::new();
        let t0 = Instant::now();
        let mut one = example(1_000);
        one.subflows.truncate(1);
        assert_eq!(h.update(&mut [one], t0), []);

        let mut two = [example(251_000)];
        let ev = h.update(&mut two, t0 + Duration::from_millis(500));
        assert_eq!(two[0].subflows[0].rate_sent, Some(500_000.0));
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(ev[0]
            .text
            .starts_with("pid 4242 (iperf3): subflow 10.231.1.1:40001"));
        assert!(ev[0].text.ends_with("(eth1) up, backup"), "{ev:?}");

        let mut failing = [example(251_000)];
        failing[0].subflows[1].failed = Some("interface eth1 is down".into());
        let ev = h.update(&mut failing, t0 + Duration::from_secs(1));
        assert!(
            ev[0].text.ends_with("failing: interface eth1 is down"),
            "{ev:?}"
        );

        let mut back = [example(251_000)];
        back[0].subflows.truncate(1);
        let ev = h.update(&mut back, t0 + Duration::from_secs(2));
        assert!(ev[0].text.ends_with("10.231.0.2:5201 closed"), "{ev:?}");

        let ev = h.update(&mut [], t0 + Duration::from_secs(3));
        assert_eq!(
            ev[0].text,
            "pid 4242 (iperf3): connection with token 1a2b3c4d closed"
        );
    }
}
