//! The four ways a program gets its sockets in the benchmark, and the
//! commands that run a program each way inside a namespace.

use mptcpize_tests::{launcher, Netns};
use serde::Serialize;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// The program as it is: TCP.
    #[serde(rename = "plain TCP")]
    Plain,
    /// `mptcpize-rs run PROG`.
    #[serde(rename = "mptcpize-rs run")]
    MptcpizeRs,
    /// mptcpd's `mptcpize run PROG`.
    #[serde(rename = "mptcpize run")]
    Mptcpize,
    /// The program opens IPPROTO_MPTCP sockets itself.
    #[serde(rename = "native MPTCP")]
    Native,
}

impl Way {
    pub const ALL: [Way; 4] = [Way::Plain, Way::MptcpizeRs, Way::Mptcpize, Way::Native];

    pub fn name(self) -> &'static str {
        match self {
            Way::Plain => "plain TCP",
            Way::MptcpizeRs => "mptcpize-rs run",
            Way::Mptcpize => "mptcpize run",
            Way::Native => "native MPTCP",
        }
    }

    /// `prog args…` run this way inside `ns`. `native` is the argument that
    /// makes the program open MPTCP sockets itself (None: it cannot).
    pub fn command(
        self,
        ns: &Netns,
        prog: &Path,
        args: &[&str],
        native: Option<&str>,
    ) -> Option<Command> {
        let mut cmd = match self {
            Way::Plain => ns.cmd(prog),
            Way::MptcpizeRs => {
                let mut c = ns.cmd(launcher());
                c.args(["run", "--"]).arg(prog);
                c
            }
            Way::Mptcpize => {
                let mut c = ns.cmd("mptcpize");
                c.arg("run").arg(prog);
                c
            }
            Way::Native => {
                let mut c = ns.cmd(prog);
                c.args(args).arg(native?);
                return Some(c);
            }
        };
        cmd.args(args);
        Some(cmd)
    }
}

/// The programs the network parts need.
pub fn require_tools() -> Result<(), String> {
    for p in ["iperf3", "mptcpize", "ss", "tc"] {
        if !mptcpize_tests::require::on_path(p) {
            return Err(format!(
                "{p} is not installed: apt-get install iperf3 mptcpize iproute2"
            ));
        }
    }
    Ok(())
}

/// Waits until something listens on TCP `port` in `ns`.
pub fn wait_listening(ns: &Netns, port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let needle = format!(":{port} ");
    while Instant::now() < deadline {
        if ns.ss(&["-Hltn"]).contains(&needle) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "nothing listens on port {port} in {} after {timeout:?}",
        ns.name
    ))
}

/// The number after `key` in `line` (`"received 5 bytes"`, `"received "` → 5).
pub fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The word after `key` in `line`.
pub fn word_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .next()
}
