//! Multipath on the testbed: two rate-limited paths between a client and a
//! server namespace. A transfer under `mptcpize-rs run` must use both paths
//! (the server's interface counters and the kernel's MPTCP_INFO say so) and
//! clearly beat single-path TCP; a transfer that loses a path midway must
//! lose and corrupt no byte and use the path again once it is back; a
//! delayed path must delay; and a failing test must leave no namespace
//! behind. (Correctness checks with wide margins: the figures are in
//! `cargo run --release -p xtask -- bench`.)

use mptcpize_tests::netns::{netns_names, TestbedConfig};
use mptcpize_tests::{bin, require_root_mptcp, Child, Testbed, MP_JOIN_ACK_RX};
use std::time::Duration;

const RATE_MBIT: u32 = 20;

/// What the bulk receiver printed about its one connection.
struct Received {
    line: String,
    bytes: u64,
    mbit: f64,
    fnv: String,
}

fn after<'a>(line: &'a str, key: &str) -> &'a str {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {line:?}"))
        + key.len()..];
    rest.split([' ', ',', ';', '(']).next().unwrap()
}

/// `bulk send` for `seconds` from the client to `bulk serve` on the server,
/// both run by `wrap` (e.g. `mptcpize-rs run`, or nothing); `during` runs
/// while the transfer does. Checks the sender's and the receiver's totals
/// and hashes agree and the pattern arrived intact.
fn transfer(bed: &Testbed, port: u16, seconds: u32, wrap: bool, during: impl FnOnce()) -> Received {
    let addr = bed.server_addr(port);
    let cmd = |ns: &mptcpize_tests::Netns, args: &[&str]| {
        let mut c = if wrap {
            let mut c = ns.mptcpize(&["run", "--"]);
            c.arg(bin("bulk"));
            c
        } else {
            ns.cmd(bin("bulk"))
        };
        c.args(args);
        c
    };
    let mut server = Child::spawn(cmd(&bed.server, &["serve", &addr, "--once"]));
    server.wait_for_line("listening on", Duration::from_secs(20));
    let secs = seconds.to_string();
    let client = Child::spawn(cmd(&bed.client, &["send", &addr, "--seconds", &secs]));
    during();
    let sent = client.finish(Duration::from_secs(u64::from(seconds) + 60));
    sent.assert_success();
    let got = server.finish(Duration::from_secs(30));
    got.assert_success();
    let sent_line = sent
        .stdout
        .lines()
        .find(|l| l.starts_with("sent "))
        .expect("sender total")
        .to_string();
    let line = got
        .stdout
        .lines()
        .find(|l| l.starts_with("received "))
        .expect("receiver total")
        .to_string();
    let r = Received {
        bytes: after(&line, "received ").parse().unwrap(),
        mbit: after(&line, "s (").parse().unwrap(),
        fnv: after(&line, "fnv ").to_string(),
        line,
    };
    assert!(
        r.line.contains("pattern intact"),
        "bytes changed on the way: {}\n(Linux 6.18.44 changes the bytes of about 1 in 40 \
         two-subflow connections, with native MPTCP sockets too: see \
         `cargo run --release -p xtask -- bench --only integrity` and README.md, Benchmarks)",
        r.line
    );
    assert_eq!(
        after(&sent_line, "sent ").parse::<u64>().unwrap(),
        r.bytes,
        "bytes lost: {sent_line} / {}",
        r.line
    );
    assert_eq!(
        after(&sent_line, "fnv "),
        r.fnv,
        "hashes differ: {sent_line} / {}",
        r.line
    );
    r
}

fn rate_limited_bed() -> Testbed {
    Testbed::with(TestbedConfig {
        paths: 2,
        rate_mbit: Some(RATE_MBIT),
        ..TestbedConfig::default()
    })
}

#[test]
fn mptcpize_rs_uses_both_paths_and_beats_single_path_tcp() {
    require_root_mptcp!();
    let bed = rate_limited_bed();

    let tcp = transfer(&bed, 6001, 4, false, || {});
    assert!(tcp.line.contains("socket TCP"), "{}", tcp.line);

    let joins = bed.server.watch(MP_JOIN_ACK_RX);
    let before = bed.server_rx_bytes();
    let mp = transfer(&bed, 6002, 4, true, || {});
    let after = bed.server_rx_bytes();
    assert!(
        mp.line
            .contains("MPTCP negotiated with the peer (1 extra subflows)"),
        "the receiver's connection is not MPTCP with two subflows: {}",
        mp.line
    );
    joins.assert_grew("no subflow joined");
    let per_path: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let total: u64 = per_path.iter().sum();
    for (k, bytes) in per_path.iter().enumerate() {
        assert!(
            *bytes * 4 > total,
            "path {k} carried {bytes} of {total} bytes: not both paths in use"
        );
    }
    assert!(
        mp.mbit > 1.5 * tcp.mbit,
        "MPTCP over two paths: {:.1} Mbit/s, single-path TCP: {:.1} Mbit/s (want > 1.5x)",
        mp.mbit,
        tcp.mbit
    );
}

#[test]
fn failover_loses_and_corrupts_no_byte_and_the_path_comes_back() {
    require_root_mptcp!();
    let bed = rate_limited_bed();
    let mut at_up = Vec::new();
    let mut at_down = Vec::new();
    // Path 0 is down from 2 s to 4.5 s of a 10 s transfer. The outage is
    // short so that its subflow's retransmission timer, which backs off
    // exponentially while the link is down, fires again soon after the link
    // is back (within about 1.3 s): the path then has 4 s left to show.
    let r = transfer(&bed, 6003, 10, true, || {
        std::thread::sleep(Duration::from_secs(2));
        bed.set_path_up(0, false);
        at_down = bed.server_rx_bytes();
        std::thread::sleep(Duration::from_millis(2500));
        at_up = bed.server_rx_bytes();
        bed.set_path_up(0, true);
    });
    let end = bed.server_rx_bytes();
    // Path 1 alone carried the transfer while path 0 was down: 2.5 s at
    // 20 Mbit/s is 6.25 MB, less up to about a second of stall while MPTCP
    // gives up on path 0's subflow and reinjects its data; ask for 1 MB.
    assert!(
        at_up[1] - at_down[1] > 1_000_000,
        "path 1 carried {} bytes while path 0 was down",
        at_up[1] - at_down[1]
    );
    // Path 0 carried traffic again in the last 5.5 s (13.75 MB at full rate).
    assert!(
        end[0] - at_up[0] > 2_500_000,
        "path 0 carried only {} bytes after it came back",
        end[0] - at_up[0]
    );
    assert!(r.bytes > 10_000_000, "only {} bytes in 10 s", r.bytes);
}

#[test]
fn a_delayed_path_delays_each_way() {
    require_root_mptcp!();
    let bed = Testbed::with(TestbedConfig {
        paths: 1,
        delay_ms: Some(25),
        ..TestbedConfig::default()
    });
    let addr = bed.server_addr(6004);
    let mut server = Child::spawn({
        let mut c = bed.server.cmd(bin("bulk"));
        c.args(["serve", &addr]);
        c
    });
    server.wait_for_line("listening on", Duration::from_secs(20));
    let mut client = bed.client.cmd(bin("bulk"));
    client.args(["connect", &addr, "--count", "5"]);
    let out = mptcpize_tests::proc::run(client, Duration::from_secs(30));
    out.assert_success();
    // connect() takes one round trip: 2 x 25 ms.
    let median: f64 = after(&out.stdout, "median ").parse().unwrap();
    assert!(
        (50_000.0..150_000.0).contains(&median),
        "connect took {median} us over a path delayed 25 ms each way:\n{out}"
    );
}

#[test]
fn the_testbed_is_removed_after_a_failing_test() {
    require_root_mptcp!();
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let bed = Testbed::new(2);
        tx.send((bed.client.name.clone(), bed.server.name.clone()))
            .unwrap();
        // A process still running inside does not keep it alive.
        let _sleeper = Child::spawn({
            let mut c = bed.server.cmd("sleep");
            c.arg("60");
            c
        });
        assert!(netns_names().contains(&bed.client.name));
        panic!("a test failing with its testbed up");
    }));
    assert!(result.is_err());
    let (client, server) = rx.recv().unwrap();
    let names = netns_names();
    assert!(
        !names.contains(&client) && !names.contains(&server),
        "{client} or {server} is still in `ip netns list`: {names:?}"
    );
}
