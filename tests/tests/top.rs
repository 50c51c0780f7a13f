//! `mptcpize-rs top` on the two-path testbed, during a transfer under
//! `mptcpize-rs run`: the JSON snapshot lists the client's pid with one
//! subflow on each path, both moving bytes, under the token `ss -Mi`
//! prints; a path taken down shows as that subflow gone or failing; the
//! plain lines and the terminal view show the same connection.

use mptcpize_tests::netns::TestbedConfig;
use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, launcher, require_root_mptcp, Child, ScratchDir, Testbed};
use serde_json::Value;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// A testbed with two 20 Mbit/s paths, a server, and a client sending for
/// `seconds` under `mptcpize-rs run`; returns them once bytes flow.
fn transfer(port: u16, seconds: u32) -> (Testbed, Child, Child) {
    transfer_with(port, seconds, &[])
}

/// [`transfer`], with more `run` flags for the client.
fn transfer_with(port: u16, seconds: u32, run_flags: &[&str]) -> (Testbed, Child, Child) {
    let bed = Testbed::with(TestbedConfig {
        paths: 2,
        rate_mbit: Some(20),
        ..TestbedConfig::default()
    });
    let addr = format!("{}:{port}", bed.server_ip());
    let mut server = Child::spawn({
        let mut c = bed.server.cmd(launcher());
        c.args(["run", "--"])
            .arg(bin("bulk"))
            .args(["serve", &addr, "--once"]);
        c
    });
    server.wait_for_line("listening on", T);
    let client = Child::spawn({
        let mut c = bed.client.cmd(launcher());
        c.arg("run")
            .args(run_flags)
            .arg("--")
            .arg(bin("bulk"))
            .args(["send", &addr, "--seconds", &seconds.to_string()]);
        c
    });
    (bed, server, client)
}

/// `top --once --json` in the client's namespace.
fn snapshot(bed: &Testbed) -> Vec<Value> {
    let mut cmd = bed.client.cmd(launcher());
    cmd.args(["top", "--once", "--json"]);
    let out = run(cmd, T);
    out.assert_success();
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    v.as_array().expect("an array of connections").clone()
}

/// The client's connection (by pid) in a snapshot.
fn of_pid(conns: &[Value], pid: u32) -> Option<Value> {
    conns.iter().find(|c| c["pid"] == pid).cloned()
}

/// Waits until the client's connection has `n` subflows.
fn wait_for_subflows(bed: &Testbed, pid: u32, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let conns = snapshot(bed);
        if let Some(c) =
            of_pid(&conns, pid).filter(|c| c["subflows"].as_array().unwrap().len() == n)
        {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "no connection of pid {pid} with {n} subflows in:\n{conns:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The subflow whose local address is on path `k`.
fn on_path<'a>(bed: &Testbed, conn: &'a Value, k: usize) -> Option<&'a Value> {
    let ip = bed.paths[k].client_ip.to_string();
    conn["subflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"].as_str().unwrap().starts_with(&format!("{ip}:")))
}

/// The token `ss -Mni` prints for the MPTCP socket with `local` address.
fn ss_token(bed: &Testbed, local: &str) -> String {
    let text = bed.client.ss(&["-Mni"]);
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.split_whitespace().any(|w| w == local) {
            let info = lines.next().unwrap_or_default();
            if let Some(t) = info
                .split_whitespace()
                .find_map(|w| w.strip_prefix("token:"))
            {
                return t.to_string();
            }
        }
    }
    panic!("no token for {local} in ss -Mni:\n{text}")
}

#[test]
fn top_shows_the_clients_two_subflows_moving_bytes_under_ss_token() {
    require_root_mptcp!();
    let (bed, server, client) = transfer(6101, 8);
    let pid = client.pid();
    let first = wait_for_subflows(&bed, pid, 2);
    assert_eq!(first["comm"], "bulk");
    assert_eq!(first["via"], "shim");
    assert_eq!(first["remote"], format!("{}:6101", bed.server_ip()));
    let local = first["local"].as_str().unwrap();
    assert_eq!(first["token"], ss_token(&bed, local), "{first:#}");
    for k in 0..2 {
        let sf =
            on_path(&bed, &first, k).unwrap_or_else(|| panic!("no subflow on path {k}: {first:#}"));
        assert_eq!(sf["interface"], bed.paths[k].client_if.as_str(), "{sf:#}");
        assert_eq!(
            sf["remote"].as_str().unwrap().split(':').nth(1),
            Some("6101")
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    let later = of_pid(&snapshot(&bed), pid).expect("the connection a second later");
    for k in 0..2 {
        let (a, b) = (
            on_path(&bed, &first, k).unwrap(),
            on_path(&bed, &later, k).unwrap(),
        );
        let moved = b["bytes_sent"].as_u64().unwrap() - a["bytes_sent"].as_u64().unwrap();
        assert!(
            moved > 100_000,
            "path {k} moved {moved} bytes in a second:\n{a:#}\n{b:#}"
        );
    }
    assert!(later["bytes_sent"].as_u64().unwrap() > first["bytes_sent"].as_u64().unwrap());
    client.finish(T).assert_success();
    server.finish(T).assert_success();
}

/// The token of one connection is the same in the three places a user
/// reads it: `ss -Mni`, `top --once --json` during the transfer, and the
/// JSON report after it.
#[test]
fn the_report_top_and_ss_give_one_token() {
    require_root_mptcp!();
    let dir = ScratchDir::new();
    let report = dir.join("client.jsonl");
    let to = format!("--report={}", report.display());
    let (bed, server, client) = transfer_with(6104, 3, &[&to, "--report-format", "json"]);
    let pid = client.pid();
    let conn = wait_for_subflows(&bed, pid, 2);
    let local = conn["local"].as_str().unwrap().to_string();
    let ss = ss_token(&bed, &local);
    assert_eq!(conn["token"], ss, "{conn:#}");
    client.finish(T).assert_success();
    server.finish(T).assert_success();

    let text = std::fs::read_to_string(&report).expect("the report file");
    let reported: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let line = reported
        .iter()
        .find(|o| o["kind"] == "connection" && o["local"] == local.as_str())
        .unwrap_or_else(|| panic!("no connection from {local} in the report:\n{text}"));
    assert_eq!(line["token"], ss, "{line:#}");
    assert_eq!(line["pid"], pid);
    assert_eq!(line["remote"], conn["remote"]);
    assert_eq!(line["subflows"], 2, "{line:#}");
}

#[test]
fn a_path_taken_down_shows_its_subflow_gone_or_failing() {
    require_root_mptcp!();
    let (bed, server, client) = transfer(6102, 10);
    let pid = client.pid();
    wait_for_subflows(&bed, pid, 2);
    bed.set_path_up(1, false);
    let deadline = Instant::now() + Duration::from_secs(5);
    let seen = loop {
        let conn = of_pid(&snapshot(&bed), pid).expect("the connection goes on over path 0");
        match on_path(&bed, &conn, 1) {
            None => break "gone".to_string(),
            Some(sf) if !sf["failed"].is_null() => break sf["failed"].to_string(),
            Some(sf) => assert!(
                Instant::now() < deadline,
                "path 1 is down, and its subflow still looks healthy: {sf:#}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(seen == "gone" || seen.contains("down"), "{seen}");
    bed.set_path_up(1, true);
    client.finish(T).assert_success();
    server.finish(T).assert_success();
}

#[test]
fn plain_lines_and_the_terminal_view_show_the_connection() {
    require_root_mptcp!();
    let (bed, server, client) = transfer(6103, 6);
    let pid = client.pid();
    wait_for_subflows(&bed, pid, 2);

    // Not a terminal: plain lines, one block per look.
    let mut cmd = bed.client.cmd(launcher());
    cmd.args(["top", "-n", "2", "-d", "0.5", "-p", &pid.to_string()]);
    let out = run(cmd, T);
    out.assert_success();
    let text = &out.stdout;
    assert_eq!(
        text.matches("1 MPTCP connection, 2 subflows").count(),
        2,
        "{text}"
    );
    assert!(text.contains(&format!("pid {pid} bulk (shim)")), "{text}");
    for p in &bed.paths {
        assert!(
            text.contains(&format!("dev {} ESTAB", p.client_if)),
            "no subflow on {}:\n{text}",
            p.client_if
        );
    }
    // The second look has rates.
    assert!(text.contains("Mbit/s up"), "{text}");

    // A terminal (script(1) gives it one): the live view, for two looks.
    let mut cmd = bed.client.cmd("script");
    let top = format!(
        "stty cols 200 rows 30; exec {} top -n 2 -d 0.5 -p {pid}",
        launcher().display()
    );
    cmd.args(["-qfec", &top, "/dev/null"])
        .env("TERM", "xterm-256color");
    let out = run(cmd, T);
    out.assert_success();
    let screen = &screen_text(&out.stdout);
    assert!(
        out.stdout.contains("\x1b[?1049h"),
        "no alternate screen: {out}"
    );
    assert!(
        screen.contains(&format!("pid {pid} bulk (shim)")),
        "{screen:?}"
    );
    assert!(
        screen.contains("1 MPTCP connection, 2 subflows"),
        "{screen:?}"
    );
    for p in &bed.paths {
        assert!(screen.contains(&p.client_if), "{screen:?}");
    }
    // The second look draws each subflow's throughput sparkline.
    assert!(
        screen.contains(|c| ('\u{2581}'..='\u{2588}').contains(&c)),
        "no sparkline: {screen:?}"
    );
    client.finish(T).assert_success();
    server.finish(T).assert_success();
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let out = run(
        {
            let mut c = std::process::Command::new(launcher());
            c.args(["top", "-d", "0"]);
            c
        },
        T,
    );
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("not a number of seconds above 0"),
        "{out}"
    );
}

/// What a terminal shows of `raw`, roughly: escape sequences removed, a
/// cursor move (ratatui skips unchanged blanks with one) read as a blank.
fn screen_text(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            while let Some(&p) = chars.peek() {
                chars.next();
                if p.is_ascii_alphabetic() {
                    if p == 'H' {
                        out.push(' ');
                    }
                    break;
                }
            }
        }
    }
    out
}
