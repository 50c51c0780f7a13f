//! The first run: an unmodified std::net echo server and client on loopback,
//! first as they are, then under `mptcpize-rs run`, with what each side and
//! the kernel say about the connection. Needs no root and no second machine.
//!
//! `cargo build --release && target/release/demo`

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The programs built beside this one.
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let path = exe.parent().expect("directory of demo").join(name);
    if !path.exists() {
        eprintln!(
            "demo: {} is missing: build everything first with `cargo build --release`",
            path.display()
        );
        std::process::exit(1);
    }
    path
}

/// `MPTcpExtMPCapableSYNRX` of this network namespace (0 without MPTCP).
fn mp_capable_syn_rx() -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("MPTcpExt:"))
        .collect();
    let [names, values] = lines[..] else { return 0 };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "MPCapableSYNRX")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn command(launcher: Option<&Path>, prog: &Path) -> Command {
    match launcher {
        Some(l) => {
            let mut c = Command::new(l);
            c.arg("run").arg(prog);
            c
        }
        None => Command::new(prog),
    }
}

fn round(launcher: Option<&Path>) -> bool {
    let mut server: Child = command(launcher, &sibling("echo-server"))
        .args(["127.0.0.1:0", "--once"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start echo-server");
    let mut out = BufReader::new(server.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read echo-server");
    println!("   server: {}", line.trim_end());
    let Some(addr) = line.split_whitespace().nth(2) else {
        eprintln!("demo: echo-server did not start: {line}");
        let _ = server.kill();
        let _ = server.wait();
        return false;
    };
    let before = mp_capable_syn_rx();
    let client = command(launcher, &sibling("echo-client"))
        .args([addr, "4000000"])
        .output()
        .expect("run echo-client");
    for l in String::from_utf8_lossy(&client.stdout).lines() {
        println!("   client: {l}");
    }
    for l in out.lines().map_while(Result::ok) {
        println!("   server: {l}");
    }
    let _ = server.wait();
    let after = mp_capable_syn_rx();
    println!("   kernel: MPTcpExtMPCapableSYNRX went from {before} to {after} (nstat -az MPTcpExtMPCapableSYNRX)");
    client.status.success()
}

fn main() {
    let launcher = sibling("mptcpize-rs");
    println!("An unmodified std::net echo server and client on 127.0.0.1:\n");
    println!("1. As they are:");
    let plain = round(None);
    println!("\n2. Under `mptcpize-rs run`:");
    let mptcp = round(Some(&launcher));
    println!("\nOn a real network, MPTCP adds subflows over your other paths: see `ip mptcp endpoint` and the README.");
    if !(plain && mptcp) {
        std::process::exit(1);
    }
}
