//! The plain-lines view, for a pipe or a log (stdout is not a terminal, or
//! `-n`/`--once` without `--json`): one block per look, a line per process,
//! per connection and per subflow, then the events.

use super::fmt::{bytes, count, rate};
use super::history::Event;
use super::snapshot::Connection;
use std::io::{self, Write};

pub fn write(out: &mut impl Write, conns: &[Connection], events: &[Event]) -> io::Result<()> {
    let subflows: usize = conns.iter().map(|c| c.subflows.len()).sum();
    writeln!(
        out,
        "{}, {}",
        count(conns.len(), "MPTCP connection"),
        count(subflows, "subflow")
    )?;
    let mut last_pid = None;
    for c in conns {
        if last_pid != Some(c.pid) {
            last_pid = Some(c.pid);
            match (c.pid, &c.comm, c.via) {
                (Some(pid), comm, via) => writeln!(
                    out,
                    "pid {pid} {} ({})",
                    comm.as_deref().unwrap_or("?"),
                    via.map_or("?", |v| v.word())
                )?,
                _ => writeln!(out, "no process (closed, still draining)")?,
            }
        }
        writeln!(out, "  {}", connection_line(c))?;
        for sf in &c.subflows {
            write!(
                out,
                "    subflow {} -> {} dev {} {}",
                sf.local,
                sf.remote,
                sf.interface.as_deref().unwrap_or("?"),
                sf.state
            )?;
            if !sf.flags.is_empty() {
                write!(out, " [{}]", sf.flags.join(","))?;
            }
            write!(
                out,
                " rtt {:.1} ms, sent {}, acked {}, received {}, {} up, {} down",
                sf.rtt_ms,
                bytes(sf.bytes_sent),
                bytes(sf.bytes_acked),
                bytes(sf.bytes_received),
                rate(sf.rate_sent),
                rate(sf.rate_received)
            )?;
            if let Some(why) = &sf.failed {
                write!(out, ", FAILING: {why}")?;
            }
            writeln!(out)?;
        }
    }
    for e in events {
        writeln!(out, "event +{:.1}s {}", e.at.as_secs_f64(), e.text)?;
    }
    out.flush()
}

/// `token 1a2b3c4d 10.0.0.1:40000 -> 10.0.0.2:5201 ESTAB, 2 subflows (1 extra), …`
pub fn connection_line(c: &Connection) -> String {
    let n = c.subflows.len();
    let mut s = format!(
        "token {} {} -> {} {}, {} ({} extra)",
        c.token,
        c.local,
        c.remote,
        c.state,
        count(n, "subflow"),
        c.extra_subflows
    );
    if c.fallback {
        s += ", fell back to TCP";
    }
    if let (Some(tx), Some(rx)) = (c.bytes_sent, c.bytes_received) {
        s += &format!(", sent {}, received {}", bytes(tx), bytes(rx));
    }
    s += &format!(", {} up, {} down", rate(c.rate_sent), rate(c.rate_received));
    s
}
