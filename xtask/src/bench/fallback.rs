//! TCP fallback: a client under `mptcpize-rs run` (and the other ways)
//! against a server that does not speak MPTCP (a plain TCP listener) still
//! connects; the kernel falls back to TCP in the handshake. Its connect
//! latency (socket() + connect(), median of many) against plain TCP, and
//! against an MPTCP server for reference.

use super::way::{number_after, Way};
use crate::BenchArgs;
use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, Child};
use serde::Serialize;
use std::time::Duration;

const CONNECTS: &str = "300";

#[derive(Serialize, Debug)]
pub struct Row {
    pub client: Way,
    pub server: Way,
    pub median_us: f64,
    pub p90_us: f64,
    /// What the client's kernel says the connection was.
    pub connection: String,
}

#[derive(Serialize, Debug)]
pub struct Fallback {
    pub connects: u32,
    pub rows: Vec<Row>,
}

impl Fallback {
    pub fn median(&self, client: Way, server: Way) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.client == client && r.server == server)
            .map(|r| r.median_us)
    }
}

pub fn measure(args: &BenchArgs) -> Result<Fallback, String> {
    let bed = super::testbed(args, 2, false);
    let prog = bin("bulk");
    let mut rows = Vec::new();
    let cases = [
        (Way::Plain, Way::Plain),
        (Way::MptcpizeRs, Way::Plain),
        (Way::Mptcpize, Way::Plain),
        (Way::Native, Way::Plain),
        (Way::MptcpizeRs, Way::MptcpizeRs),
    ];
    for (k, (client, server)) in cases.into_iter().enumerate() {
        let addr = format!("{}:{}", bed.server_ip(), 5500 + k);
        let native = Some("--native-mptcp");
        let srv = server
            .command(&bed.server, &prog, &["serve", &addr], native)
            .expect("bulk has --native-mptcp");
        let mut srv = Child::spawn(srv);
        srv.wait_for_line("listening on", Duration::from_secs(10));
        let cli = client
            .command(
                &bed.client,
                &prog,
                &["connect", &addr, "--count", CONNECTS],
                native,
            )
            .expect("bulk has --native-mptcp");
        let out = run(cli, Duration::from_secs(60));
        if !out.status.success() {
            return Err(format!(
                "{} client against a {} server did not connect:\n{out}",
                client.name(),
                server.name()
            ));
        }
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains("connects:"))
            .unwrap_or("");
        let row = Row {
            client,
            server,
            median_us: number_after(line, "median ").ok_or("no median")?,
            p90_us: number_after(line, "p90 ").ok_or("no p90")?,
            connection: line.split_once("; ").map_or("", |(_, c)| c).to_string(),
        };
        eprintln!(
            "  {:16} -> {:16} median {:7.1} us  {}",
            client.name(),
            server.name(),
            row.median_us,
            row.connection
        );
        rows.push(row);
    }
    Ok(Fallback {
        connects: CONNECTS.parse().expect("a number"),
        rows,
    })
}
