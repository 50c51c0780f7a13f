//! `mptcpize-rs run --report[=FILE]`: what each process says about its
//! connections when they close and when it exits, checked against what
//! really happened between two namespaces: MPTCP negotiated over two paths,
//! a fallback to TCP when the server is not under the shim, and TCP when
//! MPTCP is disabled. Children of the program append to the same file.

use mptcpize_tests::proc::{run, Output};
use mptcpize_tests::{
    bin, mptcpize, require_program, require_root_mptcp, Child, Netns, ScratchDir, Testbed,
    MP_JOIN_SYN_ACK_RX, MP_JOIN_SYN_TX,
};
use serde_json::Value;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The report lines (`mptcpize[PID] report: …`) of some output.
fn report_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("mptcpize[") && l.contains("] report: "))
        .collect()
}

/// The report line that contains `what`, panicking with all of them.
fn find<'a>(lines: &[&'a str], what: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no report line with {what:?} in:\n{}", lines.join("\n")))
}

/// Asserts that the report line containing `what` ends with `end`.
#[track_caller]
fn assert_line_ends(lines: &[&str], what: &str, end: &str) {
    let line = find(lines, what);
    assert!(
        line.ends_with(end),
        "the report line with {what:?} does not end with {end:?}:\n{}",
        lines.join("\n")
    );
}

/// The JSON Lines of a report: every line of `text` that is not the
/// program's own (the program writes none beginning with `{`) parsed, each
/// one an object with a `kind`.
fn json_lines(text: &str) -> Vec<Value> {
    let objs: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for o in &objs {
        assert!(o["kind"].is_string(), "no kind: {o}");
    }
    objs
}

/// The one object of `kind` in `objs`.
#[track_caller]
fn only<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    let of: Vec<&Value> = objs.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(of.len(), 1, "one {kind} object expected in {objs:#?}");
    of[0]
}

/// The keys of a connection object and of a process object, in order
/// (README's schema).
const CONNECTION_KEYS: &[&str] = &[
    "kind",
    "pid",
    "comm",
    "side",
    "local",
    "remote",
    "token",
    "outcome",
    "reason",
    "subflows",
    "extra_subflows",
    "joins_attempted",
    "joins_failed",
    "subflow_bytes",
    "bytes_sent",
    "bytes_received",
    "bytes_exact",
    "closed",
];
const PROCESS_KEYS: &[&str] = &[
    "kind",
    "pid",
    "comm",
    "mode",
    "sockets_mptcp",
    "sockets_fallback",
    "fallback_reason",
    "sockets_failed",
    "sockets_made_tcp",
    "connections_mptcp",
    "connections_fallback",
    "connections_tcp",
    "max_subflows",
    "not_followed",
    "closed_unseen",
    "handed_over",
    "never_seen",
];

/// Asserts that a raw JSON line has the schema's keys, in order.
#[track_caller]
fn assert_keys_in_order(raw: &str, keys: &[&str]) {
    let mut at = 0;
    for k in keys {
        let pat = format!("\"{k}\":");
        let found = raw[at..]
            .find(&pat)
            .unwrap_or_else(|| panic!("{k} missing or out of order in {raw}"));
        at += found + pat.len();
    }
}

/// A token as `ss -Mi` prints it: lowercase hexadecimal, no leading zero.
#[track_caller]
fn assert_token(v: &Value) {
    let t = v
        .as_str()
        .unwrap_or_else(|| panic!("token {v} is not a string"));
    assert!(
        !t.is_empty()
            && !t.starts_with('0')
            && t.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "token {t:?}"
    );
}

/// Runs `python3 -c SCRIPT` in `ns` under `mptcpize-rs run --report`,
/// which must succeed.
fn python_with_report(ns: &Netns, script: &str) -> Output {
    let out = run(
        ns.mptcpize(&["run", "--report", "python3", "-c", script]),
        T,
    );
    out.assert_success();
    out
}

/// Makes the server answer each client address over that address's own
/// link. The testbed routes the server's replies by *source* address, so the
/// SYN-ACK of a join from 10.231.1.1 leaves over link 0 and never reaches
/// the client's subflow, which is bound to link 1: the join stays in
/// SYN-SENT. A rule by destination, consulted first, fixes that (and is
/// harmless once the testbed routes this way itself).
fn answer_each_client_address_on_its_link(bed: &Testbed) {
    for (k, path) in bed.paths.iter().enumerate() {
        let (table, prio) = ((100 + k).to_string(), (900 + k).to_string());
        let to = path.client_ip.to_string();
        bed.server
            .ip(&["rule", "add", "to", &to, "table", &table, "prio", &prio]);
    }
}

#[test]
fn mptcp_connections_are_reported_with_subflows_and_bytes() {
    require_root_mptcp!();
    let bed = Testbed::new(2);
    answer_each_client_address_on_its_link(&bed);
    let dir = ScratchDir::new();
    let server_report = dir.join("server.report");
    let addr = bed.server_addr(7100);

    let mut server = bed.server.mptcpize(&["run"]);
    server
        .arg(format!("--report={}", server_report.display()))
        .arg(bin("echo-server"))
        .args([&addr, "--once"]);
    let mut server = Child::spawn(server);
    server.wait_for_line("listening on", T);

    let out = bed.client.echo_client(&["--report"], &addr, 4_000_000);
    out.assert_success();
    assert!(out.stdout.contains("intact"), "{out}");
    server.finish(T).assert_success();

    // The client reports on stderr by default.
    let lines = report_lines(&out.stderr);
    assert_eq!(lines.len(), 2, "{out}");
    let conn = find(&lines, "connection to");
    assert!(
        conn.contains(&format!(
            "connection to {addr} from {}:",
            bed.paths[0].client_ip
        )) && conn.contains(", token "),
        "{conn}"
    );
    assert_line_ends(
        &lines,
        "connection to",
        ": MPTCP negotiated, 2 subflows (1 extra), 1 join attempted, 4000000 bytes sent, 4000000 bytes received",
    );
    assert_line_ends(
        &lines,
        "exit:",
        "exit: 1 socket made MPTCP, 0 fell back to TCP; connections: 1 MPTCP (largest: 2 subflows), 0 fell back to TCP, 0 TCP",
    );

    let text = std::fs::read_to_string(&server_report).expect("server report file");
    let lines = report_lines(&text);
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        find(&lines, "connection from 10.231.0.1:").contains(&format!(" to {addr}, token ")),
        "{text}"
    );
    assert_line_ends(
        &lines,
        "connection from 10.231.0.1:",
        ": MPTCP negotiated, 2 subflows (1 extra), 1 join attempted, 4000000 bytes sent, 4000000 bytes received",
    );
    assert!(
        find(&lines, "exit:").contains(
            "1 socket made MPTCP, 0 fell back to TCP; connections: 1 MPTCP (largest: 2 subflows)"
        ),
        "{text}"
    );
}

#[test]
fn the_json_report_of_both_ends_matches_on_two_paths() {
    require_root_mptcp!();
    let bed = Testbed::new(2);
    answer_each_client_address_on_its_link(&bed);
    let dir = ScratchDir::new();
    let (server_report, client_report) = (dir.join("server.jsonl"), dir.join("client.jsonl"));
    let addr = bed.server_addr(7107);

    let mut server = bed.server.mptcpize(&["run", "--report-format", "json"]);
    server
        .arg(format!("--report={}", server_report.display()))
        .arg(bin("echo-server"))
        .args([&addr, "--once"]);
    let mut server = Child::spawn(server);
    server.wait_for_line("listening on", T);
    // The format from the environment, as `run` reads it.
    let mut client = bed.client.mptcpize(&["run"]);
    client
        .env("MPTCPIZE_REPORT_FORMAT", "json")
        .arg(format!("--report={}", client_report.display()))
        .arg(bin("echo-client"))
        .args([&addr, "4000000"]);
    let out = run(client, T);
    out.assert_success();
    assert!(out.stdout.contains("intact"), "{out}");
    server.finish(T).assert_success();

    let read = |p: &std::path::Path| std::fs::read_to_string(p).expect("report file");
    let (client_text, server_text) = (read(&client_report), read(&server_report));
    for text in [&client_text, &server_text] {
        assert_eq!(text.lines().count(), 2, "only JSON Lines:\n{text}");
        assert_eq!(json_lines(text).len(), 2, "{text}");
        let mut lines = text.lines();
        assert_keys_in_order(lines.next().unwrap(), CONNECTION_KEYS);
        assert_keys_in_order(lines.next().unwrap(), PROCESS_KEYS);
    }
    let (client, server) = (json_lines(&client_text), json_lines(&server_text));
    let (c, s) = (only(&client, "connection"), only(&server, "connection"));
    let (cp, sp) = (only(&client, "process"), only(&server, "process"));

    assert_eq!(c["pid"], cp["pid"]);
    assert_eq!(s["pid"], sp["pid"]);
    assert_eq!((&c["comm"], &s["comm"]), (&cp["comm"], &sp["comm"]));
    assert_eq!(c["comm"], "echo-client");
    assert_eq!(s["comm"], "echo-server");
    assert_eq!(
        (&c["side"], &s["side"]),
        (&"client".into(), &"server".into())
    );
    // Each end's local address is the other's remote one; the client
    // connected from path 0.
    assert_eq!(c["remote"], addr.as_str());
    assert_eq!(c["local"], s["remote"], "{c:#}\n{s:#}");
    assert_eq!(s["local"], c["remote"], "{c:#}\n{s:#}");
    let client_ip = bed.paths[0].client_ip.to_string();
    assert!(c["local"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{client_ip}:")));
    for (end, other) in [(c, s), (s, c)] {
        assert_token(&end["token"]);
        assert_ne!(
            end["token"], other["token"],
            "each end has a token of its own"
        );
        assert_eq!(end["outcome"], "mptcp");
        assert!(end["reason"].is_null());
        assert_eq!(
            (end["subflows"].as_u64(), end["extra_subflows"].as_u64()),
            (Some(2), Some(1)),
            "{end:#}"
        );
        assert_eq!(end["bytes_sent"], 4_000_000);
        assert_eq!(end["bytes_received"], 4_000_000);
        assert_eq!(end["bytes_exact"], true);
        assert_eq!(end["closed"], "close");
        // The client's path manager made one join, which the server accepted.
        assert_eq!(end["joins_attempted"], 1, "{end:#}");
        assert_eq!(end["joins_failed"], 0, "{end:#}");
        // One subflow per path, both carrying data, all data on them.
        let sfs = end["subflow_bytes"]
            .as_array()
            .unwrap_or_else(|| panic!("{end:#}"));
        assert_eq!(sfs.len(), 2, "{end:#}");
        let mut locals: Vec<&str> = sfs.iter().map(|sf| sf["local"].as_str().unwrap()).collect();
        let mut others: Vec<&str> = other["subflow_bytes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sf| sf["remote"].as_str().unwrap())
            .collect();
        locals.sort();
        others.sort();
        assert_eq!(
            locals, others,
            "a subflow's ends match across the two reports"
        );
        // Each subflow as the last look saw it (at close, or at
        // shutdown() for one the kernel tore down before close): both
        // carried data, and no more than the connection moved in all.
        let sum = |key| sfs.iter().map(|sf| sf[key].as_u64().unwrap()).sum::<u64>();
        for sf in sfs {
            assert!(sf["bytes_received"].as_u64() > Some(0), "{end:#}");
            assert!(sf["bytes_sent"].as_u64() > Some(0), "{end:#}");
        }
        assert!(sum("bytes_received") <= 4_100_000, "{end:#}");
        assert!(sum("bytes_sent") <= 4_100_000, "{end:#}");
    }
    let paths_used: Vec<bool> = bed
        .paths
        .iter()
        .map(|p| {
            c["subflow_bytes"].as_array().unwrap().iter().any(|sf| {
                sf["local"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{}:", p.client_ip))
            })
        })
        .collect();
    assert_eq!(paths_used, [true, true], "{c:#}");

    for (p, mptcp_sockets) in [(cp, 1), (sp, 1)] {
        assert_eq!(p["mode"], "preload");
        assert_eq!(p["sockets_mptcp"], mptcp_sockets, "{p:#}");
        assert_eq!(p["sockets_fallback"], 0);
        assert!(p["fallback_reason"].is_null());
        assert_eq!(p["connections_mptcp"], 1);
        assert_eq!(p["connections_fallback"], 0);
        assert_eq!(p["connections_tcp"], 0);
        assert_eq!(p["max_subflows"], 2);
        assert_eq!(p["not_followed"], 0);
    }
}

/// Drops every packet that carries an MP_JOIN option on its way into `ns`
/// (nft: MPTCP option subtype 1), so that no subflow can join there.
fn drop_joins(ns: &Netns) {
    ns.exec(
        "nft",
        &["add table inet mz; \
           add chain inet mz input { type filter hook input priority 0; policy accept; }; \
           add rule inet mz input tcp option mptcp subtype 1 drop"],
    );
}

#[test]
fn a_join_that_never_completes_is_not_counted_as_a_subflow() {
    require_root_mptcp!();
    require_program!("nft");
    // The testbed as in the test above, where the join completes, but with
    // the server's firewall dropping every MP_JOIN: the client's second
    // subflow stays in SYN-SENT while the first one moves the data.
    let bed = Testbed::new(2);
    answer_each_client_address_on_its_link(&bed);
    drop_joins(&bed.server);
    let addr = bed.server_addr(7104);
    let _server = bed.server.echo_server(&addr, true, &[]);
    let joins_tried = bed.client.watch(MP_JOIN_SYN_TX);
    let joins_answered = bed.client.watch(MP_JOIN_SYN_ACK_RX);
    let out = bed.client.echo_client(&["--report"], &addr, 8_000_000);
    out.assert_success();
    assert!(out.stdout.contains("intact"), "{out}");
    joins_tried.assert_grew("the client tried no join: this test would show nothing");
    joins_answered.assert_grew_by(0, "a join got through the firewall");
    let conn = find(&report_lines(&out.stderr), "connection to");
    assert!(
        conn.contains(
            "MPTCP negotiated, 1 subflow (0 extra), 1 join attempted, 1 not established, 8000000 bytes sent"
        ),
        "{conn}"
    );
    // The same in JSON.
    let out = bed
        .client
        .echo_client(&["--report", "--report-format=json"], &addr, 2_000_000);
    out.assert_success();
    let objs = json_lines(&out.stderr);
    let c = only(&objs, "connection");
    assert_eq!(
        (c["subflows"].as_u64(), c["extra_subflows"].as_u64()),
        (Some(1), Some(0)),
        "{c:#}"
    );
    assert!(c["joins_attempted"].as_u64() >= Some(1), "{c:#}");
    assert!(c["joins_failed"].as_u64() >= Some(1), "{c:#}");
    assert_eq!(c["bytes_sent"], 2_000_000);
    assert!(report_lines(&out.stderr).is_empty(), "no text lines: {out}");
}

#[test]
fn a_server_without_mptcp_shows_as_a_fallback() {
    require_root_mptcp!();
    let bed = Testbed::new(1);
    let addr = bed.server_addr(7101);
    // The server is not under the shim: its listener is plain TCP.
    let mut server = bed.server.cmd(bin("echo-server"));
    server.arg(&addr);
    let mut server = Child::spawn(server);
    server.wait_for_line("socket: TCP", T);

    let out = bed.client.echo_client(&["--report"], &addr, 300_000);
    out.assert_success();
    assert!(out.stdout.contains("fell back to TCP"), "{out}");
    let lines = report_lines(&out.stderr);
    let conn = find(&lines, "connection to");
    assert!(
        conn.contains(&format!(
            "connection to {addr} from {}:",
            bed.paths[0].client_ip
        )) && conn.contains(": fell back to TCP (the peer did not negotiate MPTCP)")
            && !conn.contains("token"),
        "{conn}"
    );
    assert!(
        conn.contains("300000 bytes sent") || conn.contains("at least 300000 bytes sent"),
        "{conn}"
    );
    assert_line_ends(
        &lines,
        "exit:",
        "1 socket made MPTCP, 0 fell back to TCP; connections: 0 MPTCP, 1 fell back to TCP, 0 TCP",
    );

    let out = bed
        .client
        .echo_client(&["--report", "--report-format", "json"], &addr, 300_000);
    out.assert_success();
    let objs = json_lines(&out.stderr);
    let c = only(&objs, "connection");
    assert_eq!(c["outcome"], "fallback");
    assert_eq!(c["reason"], "the peer did not negotiate MPTCP");
    assert!(c["token"].is_null(), "{c:#}");
    assert_eq!(
        (c["subflows"].as_u64(), c["extra_subflows"].as_u64()),
        (Some(1), Some(0))
    );
    for k in ["joins_attempted", "joins_failed", "subflow_bytes"] {
        assert!(c[k].is_null(), "{k}: {c:#}");
    }
    assert_eq!(c["remote"], addr.as_str());
    assert!(
        c["bytes_sent"].as_u64() >= Some(300_000) && c["bytes_exact"].is_boolean(),
        "{c:#}"
    );
    let p = only(&objs, "process");
    assert_eq!(
        (&p["sockets_mptcp"], &p["connections_fallback"]),
        (&1.into(), &1.into())
    );
    assert!(p["fallback_reason"].is_null());
}

#[test]
fn a_plain_tcp_client_on_our_listener_did_not_offer_mptcp() {
    require_root_mptcp!();
    let bed = Testbed::new(1);
    let addr = format!("{}:7102", bed.server_ip());
    let mut server = bed.server.cmd(mptcpize_tests::launcher());
    server
        .args(["run", "--report", "--"])
        .arg(bin("echo-server"))
        .args([&addr, "--once"]);
    let mut server = Child::spawn(server);
    server.wait_for_line("socket: MPTCP", T);
    // The client is not under the shim: a plain TCP connection.
    let mut client = bed.client.cmd(bin("echo-client"));
    client.args([&addr, "1000"]);
    run(client, T).assert_success();
    let out = server.finish(T);
    out.assert_success();
    let lines = report_lines(&out.stderr);
    let conn = find(&lines, "connection from");
    assert!(
        conn.contains(&format!("connection from {}:", bed.paths[0].client_ip))
            && conn.contains(
                ": TCP (the peer did not offer MPTCP), 1000 bytes sent, 1000 bytes received"
            ),
        "{conn}"
    );
    assert!(!conn.contains("unavailable"), "{conn}");
}

#[test]
fn mptcp_disabled_reports_tcp_and_why() {
    require_root_mptcp!();
    let bed = Testbed::new(1);
    bed.client.set_mptcp(false);
    let addr = bed.server_addr(7102);
    let _server = bed.server.echo_server(&addr, true, &[]);

    let out = bed.client.echo_client(&["--report=-"], &addr, 5_000);
    out.assert_success();
    let lines = report_lines(&out.stderr);
    assert!(
        find(&lines, "connection to").contains(&format!("connection to {addr} from ")),
        "{out}"
    );
    assert_line_ends(
        &lines,
        "connection to",
        ": TCP (MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0), 5000 bytes sent, 5000 bytes received",
    );
    assert_line_ends(
        &lines,
        "exit:",
        "exit: 0 sockets made MPTCP, 1 fell back to TCP (MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0); connections: 0 MPTCP, 0 fell back to TCP, 1 TCP",
    );

    let out = bed
        .client
        .echo_client(&["--report=-", "--report-format=json"], &addr, 5_000);
    out.assert_success();
    let objs = json_lines(&out.stderr);
    let c = only(&objs, "connection");
    let unavailable = "MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0";
    assert_eq!(
        (&c["outcome"], &c["reason"]),
        (&"tcp".into(), &unavailable.into())
    );
    assert!(
        c["token"].is_null() && c["subflow_bytes"].is_null(),
        "{c:#}"
    );
    assert_eq!(
        (&c["bytes_sent"], &c["bytes_received"]),
        (&5000.into(), &5000.into())
    );
    assert_eq!(c["bytes_exact"], true);
    let p = only(&objs, "process");
    assert_eq!(
        (&p["sockets_mptcp"], &p["sockets_fallback"]),
        (&0.into(), &1.into())
    );
    assert_eq!(p["fallback_reason"], unavailable);
    assert_eq!(p["connections_tcp"], 1);
}

#[test]
fn children_append_whole_lines_to_one_report_file() {
    require_root_mptcp!();
    let bed = Testbed::new(1);
    let dir = ScratchDir::new();
    let report = dir.join("tree.report");
    let addr = bed.server_addr(7103);
    let _server = bed.server.echo_server(&addr, true, &[]);

    // A shell (no sockets: no report) starts three clients at once.
    let client = bin("echo-client").display().to_string();
    let script =
        format!("{client} {addr} 100000 & {client} {addr} 200000 & {client} {addr} 300000; wait");
    let mut cmd = bed.client.mptcpize(&["run"]);
    cmd.arg(format!("--report={}", report.display()))
        .args(["sh", "-c", &script]);
    run(cmd, T).assert_success();

    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "3 clients × (connection + exit):\n{text}");
    assert_eq!(report_lines(&text).len(), 6, "{text}");
    let mut pids: Vec<&str> = lines.iter().map(|l| &l[..l.find(']').unwrap()]).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "one pid per client:\n{text}");
    for bytes in ["100000", "200000", "300000"] {
        find(
            &lines,
            &format!(
                "MPTCP negotiated, 1 subflow (0 extra), {bytes} bytes sent, {bytes} bytes received"
            ),
        );
    }
}

#[test]
fn report_lines_never_go_to_a_connection_that_took_fd_2() {
    require_root_mptcp!();
    require_program!("python3");
    let bed = Testbed::new(1);
    let addr = bed.server_addr(7105);
    let mut server = bed.server.echo_server(&addr, false, &["--once"]);

    // A daemon-like client: stderr closed, so its connection gets fd 2;
    // closing a second connection makes a report line while it is open.
    let script = format!(
        "import os, socket\n\
         os.close(2)\n\
         s = socket.create_connection(('{0}', 7105))\n\
         assert s.fileno() == 2, s.fileno()\n\
         s.sendall(b'ping')\n\
         other = socket.create_connection(('{0}', 7105))\n\
         other.close()\n\
         s.shutdown(socket.SHUT_WR)\n\
         got = b''\n\
         while True:\n\
         \x20   b = s.recv(100)\n\
         \x20   if not b: break\n\
         \x20   got += b\n\
         print('got', got, flush=True)\n",
        bed.server_ip()
    );
    let out = python_with_report(&bed.client, &script);
    assert!(out.stdout.contains("got b'ping'"), "{out}");
    let closed = server.wait_for_line("closed", T);
    assert!(
        closed.ends_with("echoed 4 bytes"),
        "the report wrote into the connection: {closed}"
    );
}

#[test]
fn an_unwritable_report_file_is_refused_before_the_program_runs() {
    let dir = ScratchDir::new();
    let marker = dir.join("ran");
    let mut cmd = mptcpize(&["run"]);
    cmd.arg(format!(
        "--report={}",
        dir.join("no/such/dir/r.txt").display()
    ))
    .args(["touch"])
    .arg(&marker);
    let out = run(cmd, T);
    assert_eq!(out.code(), 125, "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        out.stderr
            .starts_with("mptcpize-rs: cannot write the report to ")
            && out.stderr.contains("No such file or directory"),
        "{out}"
    );
    assert!(!marker.exists(), "the program ran");
}

#[test]
fn connections_closed_by_dup2_and_close_range_are_reported() {
    require_root_mptcp!();
    require_program!("python3");
    let bed = Testbed::new(1);
    let addr = bed.server_addr(7106);
    let _server = bed.server.echo_server(&addr, true, &[]);

    // Python's os.closerange() calls close_range(); os.dup2() dup2().
    let script = format!(
        "import os, socket\n\
         a = socket.create_connection(('{0}', 7106))\n\
         b = socket.create_connection(('{0}', 7106))\n\
         for s, n in ((a, 1111), (b, 2222)):\n\
         \x20   s.sendall(b'x' * n)\n\
         \x20   got = 0\n\
         \x20   while got < n: got += len(s.recv(65536))\n\
         null = os.open('/dev/null', os.O_RDONLY)\n\
         os.dup2(null, a.fileno())\n\
         os.closerange(b.fileno(), b.fileno() + 1)\n\
         print('done', flush=True)\n\
         os._exit(0)\n",
        bed.server_ip()
    );
    let out = python_with_report(&bed.client, &script);
    let lines = report_lines(&out.stderr);
    for n in ["1111", "2222"] {
        let line = find(&lines, &format!("{n} bytes sent"));
        assert!(
            line.contains(&format!(
                "MPTCP negotiated, 1 subflow (0 extra), {n} bytes sent, {n} bytes received"
            )),
            "{line}"
        );
        assert!(!line.contains("open at exit"), "{line}");
    }
    // The JSON form names how each end was seen.
    let out = run(
        bed.client.mptcpize(&[
            "run",
            "--report",
            "--report-format",
            "json",
            "python3",
            "-c",
            &script,
        ]),
        T,
    );
    out.assert_success();
    let closed: Vec<(u64, String)> = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "connection")
        .map(|v| (v["bytes_sent"].as_u64().unwrap(), v["closed"].to_string()))
        .collect();
    assert_eq!(
        closed,
        [(1111, "\"dup2\"".into()), (2222, "\"close_range\"".into())],
        "{}",
        out.stderr
    );
}

/// A Python program under `run --report=…` (or with `vars`) that makes one
/// MPTCP connection to itself on loopback, moves 1000 bytes, and then runs
/// `then` before closing it.
fn self_connection(then: &str) -> String {
    format!(
        "import os, socket\n\
         srv = socket.socket()\n\
         srv.bind(('127.0.0.1', 0))\n\
         srv.listen()\n\
         c = socket.create_connection(srv.getsockname())\n\
         a, _ = srv.accept()\n\
         c.sendall(b'x' * 1000)\n\
         got = 0\n\
         while got < 1000: got += len(a.recv(65536))\n\
         {then}\n\
         c.close()\n\
         a.close()\n\
         print('done', flush=True)\n"
    )
}

/// `LD_PRELOAD` as `run --report` sets it, and `MPTCPIZE_REPORT=value`, for
/// `socket-threads 1 2` (two MPTCP sockets: an exit line), in `dir`.
fn report_to(dir: &ScratchDir, value: &std::path::Path) -> mptcpize_tests::Output {
    let mut cmd = std::process::Command::new(bin("socket-threads"));
    cmd.current_dir(dir.path())
        .args(["1", "2"])
        .env("LD_PRELOAD", mptcpize_tests::preload_with_report())
        .env("MPTCPIZE_REPORT", value);
    run(cmd, T)
}

/// The report file is opened once, when the library loads, and kept: a
/// program that changes directory and drops its privileges still reports
/// (the shim that opened the path for each line could not open it again
/// as nobody).
#[test]
fn the_report_file_is_kept_across_chdir_and_dropped_privileges() {
    require_root_mptcp!();
    mptcpize_tests::require_program!("python3");
    let dir = ScratchDir::new();
    let report = dir.join("r.txt");
    let script =
        self_connection("os.chdir('/')\nos.setgroups([])\nos.setgid(65534)\nos.setuid(65534)");
    let mut cmd = mptcpize(&["run"]);
    cmd.arg(format!("--report={}", report.display()))
        .args(["python3", "-c", &script]);
    let out = run(cmd, T);
    out.assert_success();
    let text = std::fs::read_to_string(&report).unwrap();
    let lines = report_lines(&text);
    assert!(
        find(&lines, "connection to 127.0.0.1:")
            .contains("MPTCP negotiated, 1 subflow (0 extra), 1000 bytes sent, 0 bytes received"),
        "{text}"
    );
    find(&lines, "connection from 127.0.0.1:");
    find(&lines, "exit: 2 sockets made MPTCP");
}

/// A program that closes every descriptor (as daemons do) closes the
/// report's too, and its next file takes that number: the file gets only
/// the program's bytes, and the report goes on in the report file.
#[test]
fn a_program_closing_every_descriptor_keeps_its_files_and_the_report() {
    require_root_mptcp!();
    mptcpize_tests::require_program!("python3");
    let dir = ScratchDir::new();
    let report = dir.join("r.txt");
    let data = dir.join("data");
    let then = format!(
        "keep = {{0, 1, 2, c.fileno(), a.fileno()}}\n\
         for fd in range(3, 256):\n\
         \x20   if fd not in keep:\n\
         \x20       try: os.close(fd)\n\
         \x20       except OSError: pass\n\
         f = os.open('{}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n\
         os.write(f, b'program bytes\\n')",
        data.display()
    );
    let mut cmd = mptcpize(&["run"]);
    cmd.arg(format!("--report={}", report.display())).args([
        "python3",
        "-c",
        &self_connection(&then),
    ]);
    let out = run(cmd, T);
    out.assert_success();
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "program bytes\n");
    let text = std::fs::read_to_string(&report).unwrap();
    let lines = report_lines(&text);
    find(&lines, "connection to 127.0.0.1:");
    find(&lines, "exit: 2 sockets made MPTCP");
}

/// A report file the library (or the launcher) creates is 0600 (less the
/// umask), and an existing one is appended to, never truncated.
#[test]
fn a_new_report_file_is_private_and_an_old_one_is_appended_to() {
    require_root_mptcp!();
    let dir = ScratchDir::new();
    let new = dir.join("new.txt");
    let out = report_to(&dir, &new);
    out.assert_success();
    let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    // The launcher, which checks --report=FILE first, creates it the same way.
    let by_launcher = dir.join("by-launcher.txt");
    let mut cmd = mptcpize(&["run"]);
    cmd.arg(format!("--report={}", by_launcher.display()))
        .arg(bin("socket-threads"))
        .args(["1", "2"]);
    run(cmd, T).assert_success();
    let mode = std::fs::metadata(&by_launcher)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let text = std::fs::read_to_string(&by_launcher).unwrap();
    find(&report_lines(&text), "exit: 2 sockets made MPTCP");
    let old = dir.join("old.txt");
    std::fs::write(&old, "the user's line\n").unwrap();
    report_to(&dir, &old).assert_success();
    let text = std::fs::read_to_string(&old).unwrap();
    assert!(text.starts_with("the user's line\nmptcpize["), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
}

/// `MPTCPIZE_REPORT` naming a symbolic link: refused, in one line; the
/// link's target is left as it was.
#[test]
fn a_report_path_that_is_a_symlink_is_refused() {
    require_root_mptcp!();
    let dir = ScratchDir::new();
    let target = dir.join("target.txt");
    std::fs::write(&target, "precious\n").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = report_to(&dir, &link);
    out.assert_success();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(
        out.stderr
            .contains(": a symbolic link (refused: name the file itself); nothing is reported"),
        "{out}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
}

/// `MPTCPIZE_REPORT` naming a block device: refused before it is opened;
/// the device's bytes are unchanged (O_APPEND means nothing there: the shim
/// before wrote its lines over the device's first bytes).
#[test]
fn a_report_path_that_is_a_block_device_is_refused() {
    require_root_mptcp!();
    mptcpize_tests::require_program!("losetup");
    let dir = ScratchDir::new();
    let backing = dir.join("disk.img");
    let zeros = vec![0u8; 64 * 1024];
    std::fs::write(&backing, &zeros).unwrap();
    let loop_dev = LoopDevice::attach(&backing);
    let out = report_to(&dir, &loop_dev.0);
    drop(loop_dev);
    out.assert_success();
    assert!(
        out.stderr
            .contains(": a block device (refused); nothing is reported"),
        "{out}"
    );
    assert!(
        std::fs::read(&backing).unwrap() == zeros,
        "the device's bytes changed"
    );
}

/// A loop device over a file, detached on drop.
struct LoopDevice(std::path::PathBuf);

impl LoopDevice {
    fn attach(file: &std::path::Path) -> LoopDevice {
        let out = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(file)
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {out:?}");
        LoopDevice(String::from_utf8(out.stdout).unwrap().trim().into())
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .arg("-d")
            .arg(&self.0)
            .status();
    }
}

/// A FIFO never blocks the program: without a reader the report is
/// refused at once; with a reader whose pipe is full, the line is dropped
/// (the shim before blocked in open(2), or in write(2), forever).
#[test]
fn a_report_fifo_never_blocks_the_program() {
    require_root_mptcp!();
    let dir = ScratchDir::new();
    let fifo = dir.join("fifo");
    let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);

    let out = report_to(&dir, &fifo);
    out.assert_success();
    assert!(out.stderr.contains(": a FIFO nobody reads"), "{out}");

    // A reader that never reads, and a pipe already full.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    while std::io::Write::write(&mut writer, &[b'f'; 4096]).is_ok() {}
    let out = report_to(&dir, &fifo);
    out.assert_success();
    assert_eq!(out.stderr, "", "{out}");
    drop((reader, writer));
}
