//! `xtask testbed up` from the command line: it prints the testbed, keeps it
//! until SIGINT or SIGTERM, and then removes every namespace it made (exit
//! 130); `xtask testbed down` removes the namespaces of killed runs.

use mptcpize_tests::netns::{netns_names, sh};
use mptcpize_tests::{require_root_mptcp, Child};
use std::process::Command;
use std::time::Duration;

fn names_in(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("client namespace: ")
                .or_else(|| l.strip_prefix("server namespace: "))
        })
        .map(str::to_string)
        .collect()
}

fn up_then(signal: i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["testbed", "up", "--paths", "3", "--rate", "10", "--signal"]);
    let mut child = Child::spawn(cmd);
    child.wait_for_line("Ctrl-C tears it down", Duration::from_secs(60));
    let names = names_in(&child.output_so_far().0);
    assert_eq!(names.len(), 2, "{:?}", child.output_so_far());
    let listed = netns_names();
    for n in &names {
        assert!(listed.contains(n), "{n} is not in `ip netns list`");
    }
    let (client, server) = (&names[0], &names[1]);
    // The paths are there, rate-limited, and MPTCP is set up.
    let links = sh("ip", &["-n", client, "-o", "link"]).stdout;
    assert_eq!(links.matches(&format!("{client}c")).count(), 3, "{links}");
    let qdisc = sh("ip", &["netns", "exec", server, "tc", "qdisc"]).stdout;
    assert!(qdisc.contains("tbf") && qdisc.contains("10Mbit"), "{qdisc}");
    let endpoints = sh("ip", &["-n", server, "mptcp", "endpoint"]).stdout;
    assert!(endpoints.contains("signal"), "{endpoints}");

    child.signal(signal);
    let out = child.finish(Duration::from_secs(30));
    assert_eq!(out.code(), 130, "{out}");
    let listed = netns_names();
    for n in &names {
        assert!(
            !listed.contains(n),
            "{n} is still in `ip netns list` after signal {signal}"
        );
    }
}

#[test]
fn ctrl_c_tears_the_testbed_down() {
    require_root_mptcp!();
    up_then(libc::SIGINT);
}

#[test]
fn sigterm_tears_the_testbed_down() {
    require_root_mptcp!();
    up_then(libc::SIGTERM);
}

#[test]
fn down_removes_what_killed_runs_left() {
    require_root_mptcp!();
    // A name as a run with a pid that no longer exists would have made.
    let dead = (4_000_000..4_194_000)
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .expect("a free pid");
    let name = format!("mz{dead}x0");
    sh("ip", &["netns", "add", &name]);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["testbed", "down"])
        .output()
        .unwrap();
    let listed = netns_names();
    if listed.contains(&name) {
        sh("ip", &["netns", "del", &name]);
        panic!("xtask testbed down left {name}: {out:?}");
    }
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&name),
        "{out:?}"
    );
}
