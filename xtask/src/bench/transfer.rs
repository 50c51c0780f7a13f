//! One `bulk` transfer from the testbed's client to its server, run one of
//! the four ways, with both ends' totals and FNV-1a hashes compared; and
//! the parsing of what `bulk` prints. Used by the aggregation, failover and
//! integrity parts.

use super::way::{number_after, word_after, Way};
use mptcpize_tests::{bin, Child, Testbed};
use std::time::Duration;

/// What the bulk receiver reported about one connection.
pub struct Received {
    pub bytes: u64,
    pub mbit: f64,
    pub fnv: String,
    pub intact: bool,
    pub subflows: Option<u32>,
    pub line: String,
    /// Set when the receiver's bytes differ from the sender's.
    pub problem: Option<String>,
}

/// Parses the receiver's `received N bytes in S s (R Mbit/s), fnv H, pattern intact; socket P, …` line.
pub fn parse_received(stdout: &str) -> Option<Received> {
    let line = stdout.lines().find(|l| l.starts_with("received "))?;
    // "MPTCP negotiated with the peer (N extra subflows)": N + 1 subflows.
    let subflows = match number_after(line, "with the peer (") {
        Some(extra) => Some(extra as u32 + 1),
        None if line.contains("MPTCP negotiated") => None,
        None => Some(1),
    };
    Some(Received {
        bytes: number_after(line, "received ")? as u64,
        mbit: number_after(line, "s (")?,
        fnv: word_after(line, "fnv ")?.to_string(),
        intact: line.contains("pattern intact"),
        subflows,
        line: line.to_string(),
        problem: None,
    })
}

/// The sender's `sent N bytes … fnv H`: (bytes, fnv).
pub fn parse_sent(stdout: &str) -> Option<(u64, String)> {
    let line = stdout.lines().find(|l| l.starts_with("sent "))?;
    Some((
        number_after(line, "sent ")? as u64,
        word_after(line, "fnv ")?.to_string(),
    ))
}

/// Runs a `bulk` transfer of `seconds` from client to server, this way;
/// returns what the receiver saw (checked against the sender).
pub fn bulk_transfer(
    bed: &Testbed,
    way: Way,
    port: u16,
    seconds: f64,
    during: impl FnOnce(),
) -> Result<Received, String> {
    let addr = format!("{}:{port}", bed.server_ip());
    let prog = bin("bulk");
    let native = Some("--native-mptcp");
    let server = way
        .command(&bed.server, &prog, &["serve", &addr, "--once"], native)
        .expect("bulk has --native-mptcp");
    let mut server = Child::spawn(server);
    server.wait_for_line("listening on", Duration::from_secs(10));
    let secs = seconds.to_string();
    let client = way
        .command(
            &bed.client,
            &prog,
            &["send", &addr, "--seconds", &secs],
            native,
        )
        .expect("bulk has --native-mptcp");
    let client = Child::spawn(client);
    during();
    let sent = client.finish(Duration::from_secs_f64(seconds + 90.0));
    let got = server.finish(Duration::from_secs(30));
    if !sent.status.success() || !got.status.success() {
        return Err(format!(
            "bulk transfer ({}) failed:\nsender:\n{sent}\nreceiver:\n{got}",
            way.name()
        ));
    }
    let (sent_bytes, sent_fnv) =
        parse_sent(&sent.stdout).ok_or_else(|| format!("bulk send printed no total:\n{sent}"))?;
    let mut r = parse_received(&got.stdout)
        .ok_or_else(|| format!("bulk serve printed no total:\n{got}"))?;
    if r.bytes != sent_bytes || r.fnv != sent_fnv || !r.intact {
        // Recorded, not fatal: the report shows it (and a rare fault
        // does not throw away the rest of a long run).
        r.intact = false;
        r.problem = Some(format!(
            "bulk, {}: lost or changed bytes: sent {sent_bytes} fnv {sent_fnv}; {}",
            way.name(),
            r.line
        ));
        eprintln!("xtask: {}", r.problem.as_deref().unwrap_or_default());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_bulk_prints() {
        let out = "listening on 10.231.0.2:5000 (socket: MPTCP)\nreceived 1000 bytes in 2.000 s (0.00 Mbit/s), fnv 00000000deadbeef, pattern intact; socket MPTCP, MPTCP negotiated with the peer (1 extra subflows)\n";
        let r = parse_received(out).unwrap();
        assert_eq!(
            (r.bytes, r.fnv.as_str(), r.intact, r.subflows),
            (1000, "00000000deadbeef", true, Some(2))
        );
        let tcp = "received 5 bytes in 1.000 s (0.00 Mbit/s), fnv 1, corrupt at byte 3; socket TCP, plain TCP";
        let r = parse_received(tcp).unwrap();
        assert_eq!((r.intact, r.subflows), (false, Some(1)));
        assert_eq!(
            parse_sent("connected\nsent 42 bytes in 1.0 s (0.00 Mbit/s), fnv ab\n"),
            Some((42, "ab".into()))
        );
    }
}
