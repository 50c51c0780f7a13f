//! `check` judges paths, not counts: in network namespaces with the real
//! kernel, the situations users meet (two interfaces without endpoints and
//! without a default route; a routed client with two uplinks and one
//! default route; strict rp_filter; a backup-only endpoint; a server that
//! refuses joins to its initial address; an MPTCP blackhole) and a
//! correctly configured pair of hosts.
//!
//! For each misconfigured one: `check` does not call it ready and exits 0
//! (MPTCP itself works); after `check --fix`, and separately after running
//! every printed `fix:` verbatim with `sh -c`, a transfer between two
//! programs under `mptcpize-rs run` gets its extra subflow (MPJoinAckRx on
//! the server) with every byte intact. `--fix` a second time changes
//! nothing, and `--peer` names the path that fails.

mod check_support;

use check_support::{check, check_json, set_limits, T};
use mptcpize_tests::netns::sh;
use mptcpize_tests::proc::{run, Child, Output};
use mptcpize_tests::{bin, launcher, require_root_mptcp, Netns, Testbed, MP_JOIN_ACK_RX};

const PORT: u16 = 7411;

/// The text after `fix: ` on every line that has one.
fn fixes(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.split_once("; fix: ").map(|(_, f)| f.to_string()))
        .collect()
}

/// The lines that start with `WARN`.
fn warnings(out: &Output) -> Vec<&str> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("WARN"))
        .collect()
}

/// Runs every printed fix as a user would: verbatim, with `sh -c`.
fn apply_verbatim(ns: &Netns, fixes: &[String]) {
    assert!(!fixes.is_empty(), "no fix to apply");
    for f in fixes {
        ns.exec("sh", &["-c", f]);
    }
}

/// Asserts what a user must see of a misconfigured host: not ready, exit 0.
#[track_caller]
fn not_ready(out: &Output) {
    assert_eq!(out.code(), 0, "MPTCP itself works:\n{out}");
    assert!(!out.stdout.contains("MPTCP is ready"), "{out}");
    assert!(
        out.stdout
            .contains("MPTCP works, but not every path will carry a subflow"),
        "{out}"
    );
}

#[track_caller]
fn ready(out: &Output) {
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("MPTCP is ready"), "{out}");
    assert!(warnings(out).is_empty(), "{out}");
}

/// A veth pair between two namespaces, addressed and up, TSO off (see
/// `TestbedConfig::tso`).
fn link(a: (&Netns, &str, &str), b: (&Netns, &str, &str)) {
    sh(
        "ip",
        &[
            "link", "add", a.1, "netns", &a.0.name, "type", "veth", "peer", "name", b.1, "netns",
            &b.0.name,
        ],
    );
    for (ns, dev, addr) in [a, b] {
        ns.ip(&["addr", "add", addr, "dev", dev]);
        ns.ip(&["link", "set", dev, "up"]);
        ns.exec("ethtool", &["-K", dev, "tso", "off"]);
    }
}

/// The namespaces' state `--fix` may change, to compare before and after.
/// IPv6 link-local routes are left out: the kernel adds them by itself
/// whenever address autoconfiguration on a new link finishes (seen landing
/// between two snapshots), and `--fix` never writes one.
fn state(ns: &Netns) -> String {
    let mut s = String::new();
    for args in [
        vec!["rule"],
        vec!["-6", "rule"],
        vec!["route", "show", "table", "all"],
        vec!["mptcp", "endpoint"],
        vec!["mptcp", "limits"],
    ] {
        for line in ns.ip(&args).stdout.lines() {
            if !line.contains("fe80:") {
                s += line;
                s += "\n";
            }
        }
    }
    s + &ns.exec("sh", &["-c", "grep . /proc/sys/net/ipv4/conf/*/rp_filter"])
}

/// A transfer between `echo-client` and `echo-server`, both under
/// `mptcpize-rs run`; returns how many joins the server completed and the
/// bytes the client sent by interface `second_if`.
fn transfer(client: &Netns, server: &Netns, to: &str, second_if: &str) -> (u64, u64) {
    let joins = server.watch(MP_JOIN_ACK_RX);
    let tx_before = tx_bytes(client, second_if);
    let srv = server.echo_server(&format!("0.0.0.0:{PORT}"), true, &["--once"]);
    let mut cmd = client.mptcpize(&["run", "--"]);
    cmd.arg(bin("echo-client"))
        .arg(format!("{to}:{PORT}"))
        .arg((8u64 << 20).to_string());
    let out = run(cmd, T);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("intact"), "{out}");
    assert!(out.stdout.contains("socket MPTCP"), "{out}");
    srv.finish(T);
    (joins.grown(), tx_bytes(client, second_if) - tx_before)
}

fn tx_bytes(ns: &Netns, dev: &str) -> u64 {
    ns.exec(
        "cat",
        &[&format!("/sys/class/net/{dev}/statistics/tx_bytes")],
    )
    .trim()
    .parse()
    .unwrap()
}

/// The extra subflow came up and carried data.
#[track_caller]
fn joined(client: &Netns, server: &Netns, to: &str, second_if: &str) {
    let (joins, bytes) = transfer(client, server, to, second_if);
    assert!(joins >= 1, "no join completed on the server");
    assert!(
        bytes > 64 << 10,
        "the second path carried only {bytes} bytes"
    );
}

/// A transfer whose join never completes (the situation before the fix).
#[track_caller]
fn not_joined(client: &Netns, server: &Netns, to: &str, second_if: &str) {
    let (joins, _) = transfer(client, server, to, second_if);
    assert_eq!(joins, 0, "a join completed although it should not");
}

// --- Situation 1: two interfaces, no endpoints, no default route ----------

struct Direct {
    client: Netns,
    server: Netns,
    c1: String,
}

/// Client and server joined by two links on their own subnets, no
/// endpoints, no default route, no policy routing.
fn direct() -> Direct {
    let client = Netns::new();
    let server = Netns::new();
    let (c0, c1) = (format!("{}a", client.name), format!("{}b", client.name));
    let (s0, s1) = (format!("{}c", client.name), format!("{}d", client.name));
    link(
        (&client, &c0, "10.241.0.1/24"),
        (&server, &s0, "10.241.0.2/24"),
    );
    link(
        (&client, &c1, "10.241.1.1/24"),
        (&server, &s1, "10.241.1.2/24"),
    );
    Direct { client, server, c1 }
}

fn direct_fixes_are_endpoints_on_every_address(d: &Direct) -> Vec<String> {
    let out = check(&d.client, &[]);
    not_ready(&out);
    let f = fixes(&out);
    // Not the address connections start from alone (the old, useless
    // advice): every address, since without a default route either may
    // start a connection.
    for addr in ["10.241.0.1", "10.241.1.1"] {
        assert!(
            f.iter().any(
                |x| x.starts_with(&format!("ip mptcp endpoint add {addr} dev "))
                    && x.ends_with(" subflow")
            ),
            "{out}"
        );
    }
    f
}

#[test]
fn two_interfaces_without_endpoints_or_default_route_fixed_by_check_fix() {
    require_root_mptcp!();
    let d = direct();
    direct_fixes_are_endpoints_on_every_address(&d);
    not_joined(&d.client, &d.server, "10.241.0.2", &d.c1);
    let out = check(&d.client, &["--fix"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("run: ip mptcp endpoint add 10.241.1.1 dev"),
        "{out}"
    );
    ready(&check(&d.client, &[]));
    joined(&d.client, &d.server, "10.241.0.2", &d.c1);
}

#[test]
fn two_interfaces_without_endpoints_or_default_route_fixed_by_the_printed_commands() {
    require_root_mptcp!();
    let d = direct();
    let f = direct_fixes_are_endpoints_on_every_address(&d);
    apply_verbatim(&d.client, &f);
    ready(&check(&d.client, &[]));
    joined(&d.client, &d.server, "10.241.0.2", &d.c1);
}

// --- Situation 2: a routed client, two uplinks, default route on one -----

struct Routed {
    client: Netns,
    _router: Netns,
    server: Netns,
    c0: String,
    c1: String,
}

/// client ─c0─ router ─ server, client ─c1─ router: two uplinks through two
/// gateways (10.242.0.254, 10.242.1.254), the default route on the first.
/// The client knows the second gateway as a neighbour (as after DHCP).
fn routed() -> Routed {
    let client = Netns::new();
    let router = Netns::new();
    let server = Netns::new();
    let n = &client.name;
    let (c0, c1, r0, r1, rs, s0) = (
        format!("{n}a"),
        format!("{n}b"),
        format!("{n}c"),
        format!("{n}d"),
        format!("{n}e"),
        format!("{n}f"),
    );
    link(
        (&client, &c0, "10.242.0.1/24"),
        (&router, &r0, "10.242.0.254/24"),
    );
    link(
        (&client, &c1, "10.242.1.1/24"),
        (&router, &r1, "10.242.1.254/24"),
    );
    link(
        (&router, &rs, "10.242.9.254/24"),
        (&server, &s0, "10.242.9.2/24"),
    );
    router.sysctl("net.ipv4.ip_forward", "1");
    client.ip(&["route", "add", "default", "via", "10.242.0.254", "dev", &c0]);
    server.ip(&["route", "add", "default", "via", "10.242.9.254"]);
    // Traffic to the second gateway puts it in the neighbour table.
    client.exec(
        "sh",
        &[
            "-c",
            "timeout 5 bash -c 'exec 3<>/dev/tcp/10.242.1.254/9' 2>/dev/null; true",
        ],
    );
    Routed {
        client,
        _router: router,
        server,
        c0,
        c1,
    }
}

/// What `check` must say on the routed client before any fix: limits,
/// the endpoint, and the routing by source (with the neighbour as gateway).
fn routed_findings(r: &Routed) -> Vec<String> {
    set_limits(&r.client, 0, 0);
    let out = check(&r.client, &[]);
    not_ready(&out);
    let f = fixes(&out);
    let c1 = &r.c1;
    assert!(
        f.contains(&format!(
            "ip mptcp endpoint add 10.242.1.1 dev {c1} subflow"
        )),
        "{out}"
    );
    assert!(
        f.contains(&"ip mptcp limits set subflow 2 add_addr_accepted 2".to_string()),
        "{out}"
    );
    let routing = format!(
        "ip route add 10.242.1.0/24 dev {c1} src 10.242.1.1 table 100 && ip route add default via 10.242.1.254 dev {c1} table 100 && ip rule add from 10.242.1.1 table 100"
    );
    assert!(f.contains(&routing), "{out}");
    let why = out.stdout.lines().find(|l| l.contains(&routing)).unwrap();
    assert!(why.contains("no route"), "{out}");
    assert!(why.contains("route by source"), "{out}");
    f
}

#[test]
fn routed_client_gets_routing_by_source_from_check_fix() {
    require_root_mptcp!();
    let r = routed();
    routed_findings(&r);
    // Endpoint and limits alone (the old advice) leave the join stuck.
    set_limits(&r.client, 2, 2);
    r.client.ip(&[
        "mptcp",
        "endpoint",
        "add",
        "10.242.1.1",
        "dev",
        &r.c1,
        "subflow",
    ]);
    not_ready(&check(&r.client, &[]));
    not_joined(&r.client, &r.server, "10.242.9.2", &r.c1);

    let dry = check(&r.client, &["--fix", "--dry-run"]);
    let before = state(&r.client);
    assert!(
        dry.stdout
            .contains("would run: ip rule add from 10.242.1.1 table 100"),
        "{dry}"
    );
    assert_eq!(state(&r.client), before, "--dry-run changed something");

    let out = check(&r.client, &["--fix"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("run: ip rule add from 10.242.1.1 table 100"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("`mptcpize-rs check --persist` keeps them"),
        "{out}"
    );
    assert!(out.stdout.contains("MPTCP is ready for multipath"), "{out}");
    joined(&r.client, &r.server, "10.242.9.2", &r.c1);

    // A second --fix finds nothing and changes nothing.
    let before = state(&r.client);
    let again = check(&r.client, &["--fix"]);
    assert!(again.stdout.contains("nothing to fix"), "{again}");
    assert_eq!(state(&r.client), before);
}

#[test]
fn routed_client_fixed_by_the_printed_commands() {
    require_root_mptcp!();
    let r = routed();
    let f = routed_findings(&r);
    apply_verbatim(&r.client, &f);
    ready(&check(&r.client, &[]));
    joined(&r.client, &r.server, "10.242.9.2", &r.c1);
}

#[test]
fn check_peer_names_the_path_that_fails_and_then_works() {
    require_root_mptcp!();
    let r = routed();
    r.client.ip(&[
        "mptcp",
        "endpoint",
        "add",
        "10.242.1.1",
        "dev",
        &r.c1,
        "subflow",
    ]);
    let srv = r.server.echo_server(&format!("0.0.0.0:{PORT}"), true, &[]);
    let peer = format!("10.242.9.2:{PORT}");
    let out = check(&r.client, &["--peer", &peer, "--wait", "2"]);
    assert_eq!(out.code(), 0, "{out}");
    // The join waits for an ARP answer that never comes (the second uplink
    // has no route to the server): first SYN-SENT, then, once the
    // neighbour entry failed, closed at once.
    let failing = format!("WARN peer path {} 10.242.1.1: join 10.242.1.1:", r.c1);
    let neighbour = format!("neighbour 10.242.9.2 on {}: ", r.c1);
    assert!(
        out.stdout.lines().any(|l| l.starts_with(&failing)
            && l.contains("sent its SYN and got no SYN-ACK")
            && l.contains(&neighbour)
            && l.contains("nothing answers for it on that link (no route by that interface")),
        "{out}"
    );
    let j = check_json(&r.client, &["--peer", &peer, "--wait", "2"]);
    let c = &j["connection"];
    assert_eq!(c["mptcp"], true, "{j}");
    let path = c["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == "10.242.1.1")
        .unwrap();
    assert!(
        path["result"] == "syn_sent" || path["result"] == "closed",
        "{j}"
    );
    assert!(path["detail"].as_str().unwrap().contains(&neighbour), "{j}");

    let fixed = check(&r.client, &["--fix"]);
    assert_eq!(fixed.code(), 0, "{fixed}");
    let out = check(&r.client, &["--peer", &peer]);
    assert!(
        out.stdout.contains(&format!(
            "ok   peer path {} 10.242.1.1: subflow 10.242.1.1:",
            r.c1
        )),
        "{out}"
    );
    assert!(out.stdout.contains("MPTCP is ready for multipath"), "{out}");
    drop(srv);

    // Nothing listens: the active test fails, exit 1.
    let out = check(&r.client, &["--peer", "10.242.9.2:1"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("FAIL peer 10.242.9.2:1: no MPTCP connection: connect: Connection refused"),
        "{out}"
    );
}

// --- Situation 3: strict rp_filter with asymmetric routing ---------------

/// The routed client with a second default route (metric 200) on its
/// second uplink, the endpoint and limits in place, and strict rp_filter:
/// joins leave by c1, but the route back by source goes by c0.
fn strict_rp_filter() -> Routed {
    let r = routed();
    let c = &r.client;
    c.ip(&[
        "route",
        "add",
        "default",
        "via",
        "10.242.1.254",
        "dev",
        &r.c1,
        "metric",
        "200",
    ]);
    c.ip(&[
        "mptcp",
        "endpoint",
        "add",
        "10.242.1.1",
        "dev",
        &r.c1,
        "subflow",
    ]);
    set_limits(c, 2, 2);
    c.sysctl("net.ipv4.conf.all.rp_filter", "1");
    c.sysctl(&format!("net.ipv4.conf.{}.rp_filter", r.c1), "1");
    r
}

fn rp_filter_findings(r: &Routed) -> Vec<String> {
    let out = check(&r.client, &["--role", "client"]);
    not_ready(&out);
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{out}");
    assert!(w[0].contains("rp_filter is strict (1)"), "{out}");
    let f = fixes(&out);
    assert_eq!(
        f,
        vec![format!("sysctl -w net.ipv4.conf.{}.rp_filter=2", r.c1)],
        "{out}"
    );
    f
}

#[test]
fn strict_rp_filter_warns_and_check_fix_loosens_it() {
    require_root_mptcp!();
    let r = strict_rp_filter();
    rp_filter_findings(&r);
    let dropped = r.client.watch("TcpExtIPReversePathFilter");
    not_joined(&r.client, &r.server, "10.242.9.2", &r.c1);
    dropped.assert_grew("the join was not dropped by rp_filter");
    let out = check(&r.client, &["--role", "client", "--fix"]);
    assert_eq!(out.code(), 0, "{out}");
    ready(&check(&r.client, &["--role", "client"]));
    joined(&r.client, &r.server, "10.242.9.2", &r.c1);
}

#[test]
fn strict_rp_filter_fixed_by_the_printed_command() {
    require_root_mptcp!();
    let r = strict_rp_filter();
    let f = rp_filter_findings(&r);
    apply_verbatim(&r.client, &f);
    ready(&check(&r.client, &["--role", "client"]));
    joined(&r.client, &r.server, "10.242.9.2", &r.c1);
}

// --- Situation 4: a backup-only endpoint; a single-homed server ----------

fn backup_only() -> Testbed {
    let bed = Testbed::new(2);
    bed.client.ip(&["mptcp", "endpoint", "flush"]);
    bed.client.ip(&[
        "mptcp",
        "endpoint",
        "add",
        "10.231.1.1",
        "dev",
        &bed.paths[1].client_if,
        "backup",
    ]);
    bed
}

fn backup_findings(bed: &Testbed) -> Vec<String> {
    let peer = format!("{}:{PORT}", bed.server_ip());
    // Routes are judged against the peer (the testbed has no default route);
    // nothing listens there, so --peer itself fails: only the paths count.
    let out = check(&bed.client, &["--role", "client", "--peer", &peer]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("WARN path {} 10.231.1.1", bed.paths[1].client_if)))
        .unwrap_or_else(|| panic!("no WARN for the backup endpoint:\n{out}"));
    assert!(line.contains("has backup"), "{out}");
    assert!(line.contains("only when no other subflow can"), "{out}");
    let f = fixes(&out);
    assert_eq!(
        f,
        vec![format!(
            "ip mptcp endpoint delete id 1 && ip mptcp endpoint add 10.231.1.1 dev {} subflow backup",
            bed.paths[1].client_if
        )],
        "{out}"
    );
    f
}

#[test]
fn backup_only_endpoint_is_no_path_and_check_fix_adds_subflow() {
    require_root_mptcp!();
    let bed = backup_only();
    backup_findings(&bed);
    let to = bed.server_ip().to_string();
    not_joined(&bed.client, &bed.server, &to, &bed.paths[1].client_if);
    let peer = format!("{to}:{PORT}");
    check(&bed.client, &["--role", "client", "--peer", &peer, "--fix"]);
    let (joins, _) = transfer(&bed.client, &bed.server, &to, &bed.paths[1].client_if);
    assert!(joins >= 1, "the backup subflow did not come up");
}

#[test]
fn backup_only_endpoint_fixed_by_the_printed_command() {
    require_root_mptcp!();
    let bed = backup_only();
    let f = backup_findings(&bed);
    apply_verbatim(&bed.client, &f);
    let to = bed.server_ip().to_string();
    let (joins, _) = transfer(&bed.client, &bed.server, &to, &bed.paths[1].client_if);
    assert!(joins >= 1, "the backup subflow did not come up");
}

#[test]
fn single_homed_server_is_one_ok_line() {
    require_root_mptcp!();
    let r = routed();
    let out = check(&r.server, &["--role", "server"]);
    ready(&out);
    let paths: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("path") && !l.contains("path manager"))
        .collect();
    assert_eq!(paths.len(), 1, "one line for the one path:\n{out}");
    assert!(
        paths[0].starts_with("ok   path ")
            && paths[0].contains(" 10.242.9.2: connections start from here")
            && paths[0].contains("the only IPv4 address; a single-homed server needs no endpoint"),
        "{out}"
    );
}

// --- Situation 5: joins to the initial address refused; sysctls ---------

fn no_join_initial() -> Testbed {
    let bed = Testbed::new(2);
    bed.server
        .sysctl("net.mptcp.allow_join_initial_addr_port", "0");
    bed
}

fn no_join_findings(bed: &Testbed) -> Vec<String> {
    let out = check(&bed.server, &["--role", "server"]);
    not_ready(&out);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with(
                "WARN allow_join_initial_addr_port: 0: as a server, this host refuses subflows"
            ) && l.ends_with("fix: sysctl -w net.mptcp.allow_join_initial_addr_port=1")),
        "{out}"
    );
    // The sysctls are all reported.
    for name in [
        "blackhole:",
        "checksum_enabled:",
        "scheduler:",
        "path manager:",
        "systemd:",
    ] {
        assert!(out.stdout.contains(name), "no {name} line:\n{out}");
    }
    let systemd = if std::path::Path::new("/run/systemd/system").is_dir() {
        "systemd: running "
    } else {
        "installed, not running"
    };
    assert!(
        out.stdout.contains(systemd) || out.stdout.contains("systemd: not installed"),
        "{out}"
    );
    fixes(&out)
}

#[test]
fn server_refusing_joins_to_its_initial_address_fixed_by_check_fix() {
    require_root_mptcp!();
    let bed = no_join_initial();
    no_join_findings(&bed);
    let to = bed.server_ip().to_string();
    not_joined(&bed.client, &bed.server, &to, &bed.paths[1].client_if);
    let out = check(&bed.server, &["--role", "server", "--fix"]);
    assert_eq!(out.code(), 0, "{out}");
    joined(&bed.client, &bed.server, &to, &bed.paths[1].client_if);
}

#[test]
fn server_refusing_joins_fixed_by_the_printed_commands() {
    require_root_mptcp!();
    let bed = no_join_initial();
    let f = no_join_findings(&bed);
    apply_verbatim(&bed.server, &f);
    let to = bed.server_ip().to_string();
    joined(&bed.client, &bed.server, &to, &bed.paths[1].client_if);
}

#[test]
fn an_mptcp_blackhole_is_reported_while_active_and_its_fix_ends_it() {
    require_root_mptcp!();
    let r = routed();
    // The router drops every segment with an MPTCP option; the client's
    // kernel gives up MPTCP after one retransmitted SYN.
    let router = &r._router;
    router.exec("nft", &["add", "table", "inet", "mz"]);
    router.exec(
        "nft",
        &[
            "add",
            "chain",
            "inet",
            "mz",
            "f",
            "{ type filter hook forward priority 0; }",
        ],
    );
    router.exec(
        "nft",
        &[
            "add", "rule", "inet", "mz", "f", "tcp", "option", "mptcp", "exists", "drop",
        ],
    );
    r.client
        .sysctl("net.mptcp.syn_retrans_before_tcp_fallback", "1");
    let srv = r.server.echo_server(&format!("0.0.0.0:{PORT}"), true, &[]);
    let peer = format!("10.242.9.2:{PORT}");
    let first = check(&r.client, &["--peer", &peer, "--wait", "1"]);
    assert!(
        first.stdout.contains("connected, but as plain TCP"),
        "{first}"
    );
    // Without --peer: reported, not judged active.
    let out = check(&r.client, &[]);
    assert!(
        out.stdout.lines().any(|l| l
            .starts_with("info blackhole: the kernel found 1 MPTCP blackhole since boot")
            && l.contains("blackhole_timeout (3600 s")),
        "{out}"
    );
    // The path is repaired, but the kernel still keeps MPTCP off: --peer
    // sees it, and says how to end it.
    router.exec("nft", &["delete", "table", "inet", "mz"]);
    let out = check(&r.client, &["--peer", &peer, "--wait", "1"]);
    not_ready(&out);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("WARN blackhole: active"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.ends_with("fix: sysctl -w net.mptcp.blackhole_timeout=3600"),
        "{out}"
    );
    let j = check_json(&r.client, &["--peer", &peer, "--wait", "1"]);
    assert_eq!(j["connection"]["mptcp"], false, "{j}");
    assert!(
        j["connection"]["counters"]["MPTcpExtMPCapableSYNTXDisabled"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{j}"
    );
    let reset: Vec<String> = fixes(&out)
        .into_iter()
        .filter(|f| f.contains("blackhole_timeout"))
        .collect();
    apply_verbatim(&r.client, &reset);
    let out = check(&r.client, &["--peer", &peer, "--wait", "1"]);
    assert!(
        out.stdout
            .contains(&format!("ok   peer {peer}: MPTCP connection")),
        "{out}"
    );
    drop(srv);
}

// --- A correctly configured pair of hosts --------------------------------

#[test]
fn a_correct_multipath_setup_is_ready_and_its_peer_test_sees_every_subflow() {
    require_root_mptcp!();
    let bed = Testbed::new(3);
    let srv: Child = bed
        .server
        .echo_server(&format!("0.0.0.0:{PORT}"), true, &[]);
    let peer = format!("{}:{PORT}", bed.server_ip());
    let out = check(&bed.client, &["--peer", &peer]);
    ready(&out);
    assert!(
        out.stdout
            .contains("MPTCP is ready for multipath: 2 paths besides the initial one"),
        "{out}"
    );
    for k in 1..3 {
        let p = &bed.paths[k];
        assert!(
            out.stdout.contains(&format!(
                "ok   peer path {} {}: subflow {}:",
                p.client_if, p.client_ip, p.client_ip
            )),
            "{out}"
        );
    }
    let j = check_json(&bed.client, &["--peer", &peer]);
    assert_eq!(j["ready"], true, "{j}");
    assert_eq!(j["usable"], true);
    assert_eq!(j["role"], "both");
    let paths = j["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 3, "{j}");
    assert_eq!(paths[0]["kind"], "initial");
    assert_eq!(paths[1]["kind"], "extra");
    assert_eq!(
        paths[1]["endpoint"]["flags"],
        serde_json::json!(["subflow"])
    );
    assert_eq!(paths[1]["route"]["table"], 101, "{j}");
    assert_eq!(j["connection"]["info"]["subflows"], 2, "{j}");
    drop(srv);
    joined(
        &bed.client,
        &bed.server,
        &bed.server_ip().to_string(),
        &bed.paths[1].client_if,
    );
    // Nothing to fix on a ready host.
    let before = state(&bed.client);
    let out = check(&bed.client, &["--peer", &peer, "--fix"]);
    assert!(out.stdout.contains("nothing to fix"), "{out}");
    assert_eq!(state(&bed.client), before);
}

// --- Persistence ----------------------------------------------------------

/// Runs `check ARGS` in the client namespace with private, empty
/// /etc/sysctl.d and /etc/systemd/system (tmpfs in a mount namespace of its
/// own), then prints what it wrote there: the host's /etc is never touched.
fn check_in_private_etc(ns: &Netns, args: &str, setup: &str) -> Output {
    let script = format!(
        "set -e; mount -t tmpfs mz /etc/sysctl.d; mount -t tmpfs mz /etc/systemd/system; {setup}
         ip netns exec {ns} {launcher} check {args} || echo exit=$?
         echo '--- sysctl.d'; cat /etc/sysctl.d/90-mptcpize.conf || true
         echo '--- unit'; cat /etc/systemd/system/mptcpize-paths.service || true
         echo '--- wants'; ls /etc/systemd/system/multi-user.target.wants/ || true
         ip netns exec {ns} {launcher} check {args} || echo exit=$?",
        ns = ns.name,
        launcher = launcher().display(),
    );
    // The launcher runs inside the script: what it would inherit from
    // the test is cleaned as for every launcher command.
    let mut cmd = std::process::Command::new("unshare");
    mptcpize_tests::common::clean_env(&mut cmd);
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script]);
    run(cmd, T)
}

#[test]
fn persist_writes_a_unit_that_restores_the_paths_after_a_reboot() {
    require_root_mptcp!();
    let r = routed();
    routed_findings(&r);
    let fixed = check(&r.client, &["--fix"]);
    assert!(
        fixed
            .stdout
            .contains("`mptcpize-rs check --persist` keeps them"),
        "{fixed}"
    );
    let out = check_in_private_etc(&r.client, "--persist", "");
    assert!(!out.stdout.contains("exit="), "{out}");
    let unit = out
        .stdout
        .split("--- unit\n")
        .nth(1)
        .and_then(|s| s.split("--- wants").next())
        .unwrap();
    let c1 = &r.c1;
    for line in [
        "ExecStart=-ip mptcp limits set subflow 2 add_addr_accepted 2".to_string(),
        format!("ExecStart=-ip mptcp endpoint add 10.242.1.1 dev {c1} subflow"),
        format!("ExecStart=-ip route add default via 10.242.1.254 dev {c1} table 100"),
        "ExecStart=-ip rule add from 10.242.1.1/32 table 100 priority 32765".to_string(),
    ] {
        assert!(unit.contains(&line), "no {line:?}:\n{out}");
    }
    assert!(out.stdout.contains("net.mptcp.enabled = 1"), "{out}");
    let wants = out.stdout.split("--- wants\n").nth(1).unwrap();
    assert!(
        wants.starts_with("mptcpize-paths.service\n"),
        "not enabled:\n{out}"
    );
    assert!(
        out.stdout
            .contains("wrote /etc/systemd/system/mptcpize-paths.service"),
        "{out}"
    );
    // Run again: the files already say this.
    assert!(
        out.stdout
            .contains("ok   persist: /etc/systemd/system/mptcpize-paths.service already says this"),
        "{out}"
    );

    // A reboot forgets the runtime state; the unit's commands bring it back.
    r.client.ip(&["mptcp", "endpoint", "flush"]);
    set_limits(&r.client, 0, 0);
    r.client
        .ip(&["rule", "del", "from", "10.242.1.1", "table", "100"]);
    r.client.ip(&["route", "flush", "table", "100"]);
    not_ready(&check(&r.client, &[]));
    for line in unit.lines().filter_map(|l| l.strip_prefix("ExecStart=-")) {
        r.client.exec("sh", &["-c", line]);
    }
    ready(&check(&r.client, &[]));
    joined(&r.client, &r.server, "10.242.9.2", &r.c1);

    // A file with other content is left alone, and said so (exit 1).
    let out = check_in_private_etc(
        &r.client,
        "--persist",
        "echo '# mine' > /etc/systemd/system/mptcpize-paths.service;",
    );
    assert!(out.stdout.contains("exit=1"), "{out}");
    assert!(
        out.stdout.contains(
            "FAIL persist: /etc/systemd/system/mptcpize-paths.service: exists with other content"
        ),
        "{out}"
    );
    assert!(out.stdout.contains("--- unit\n# mine\n--- wants"), "{out}");
}

// --- IPv6 -----------------------------------------------------------------

#[test]
fn ipv6_routed_client_gets_routing_by_source_and_its_subflow() {
    require_root_mptcp!();
    let r = routed();
    let router = &r._router;
    router.sysctl("net.ipv6.conf.all.forwarding", "1");
    let c0 = r.c0.clone();
    let rdev = |suffix: &str| format!("{}{suffix}", r.client.name);
    for (ns, addr, dev) in [
        (&r.client, "fd42:0::1/64", c0.clone()),
        (&r.client, "fd42:1::1/64", r.c1.clone()),
        (router, "fd42:0::fe/64", rdev("c")),
        (router, "fd42:1::fe/64", rdev("d")),
        (router, "fd42:9::fe/64", rdev("e")),
        (&r.server, "fd42:9::2/64", rdev("f")),
    ] {
        ns.ip(&["addr", "add", addr, "dev", &dev, "nodad"]);
    }
    r.client.ip(&[
        "-6", "route", "add", "default", "via", "fd42::fe", "dev", &c0,
    ]);
    r.server
        .ip(&["-6", "route", "add", "default", "via", "fd42:9::fe"]);
    // The second router answers neighbour solicitations as a router.
    r.client.exec(
        "sh",
        &[
            "-c",
            "timeout 5 bash -c 'exec 3<>/dev/tcp/fd42:1::fe/9' 2>/dev/null; true",
        ],
    );
    let out = check(&r.client, &["--role", "client"]);
    not_ready(&out);
    let c1 = &r.c1;
    let f = fixes(&out);
    assert!(
        f.contains(&format!("ip mptcp endpoint add fd42:1::1 dev {c1} subflow")),
        "{out}"
    );
    assert!(
        f.contains(&format!(
            "ip -6 route add fd42:1::/64 dev {c1} src fd42:1::1 table 101 && ip -6 route add default via fd42:1::fe dev {c1} table 101 && ip -6 rule add from fd42:1::1 table 101"
        )),
        "{out}"
    );
    apply_verbatim(&r.client, &f);
    ready(&check(&r.client, &["--role", "client"]));

    let srv = r.server.echo_server(&format!("[::]:{PORT}"), true, &[]);
    let joins = r.server.watch(MP_JOIN_ACK_RX);
    let peer = format!("[fd42:9::2]:{PORT}");
    let out = check(&r.client, &["--role", "client", "--peer", &peer]);
    assert!(
        out.stdout.contains(&format!(
            "ok   peer path {c1} fd42:1::1: subflow [fd42:1::1]:"
        )),
        "{out}"
    );
    joins.assert_grew("no subflow joined on the path check named");
    drop(srv);
}
