//! `mptcpize-rs check` in network namespaces set up the ways a user meets
//! them: MPTCP enabled with a second path and a subflow endpoint, MPTCP
//! disabled, and a single-homed client without limits (the path-by-path
//! situations are in check_paths.rs). The exit status, the
//! lines and the `--json` fields must say what the kernel really has, and
//! the fix `check` suggests must be a command that works.

mod check_support;

use check_support::{check, check_json as json, set_limits, T};
use mptcpize_tests::proc::{run, Output};
use mptcpize_tests::{bin, require_root_mptcp, Netns, Testbed};

/// The line of `item`, panicking with the whole output when there is none.
fn line<'a>(out: &'a Output, item: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(item))
        })
        .unwrap_or_else(|| panic!("no {item:?} line:\n{out}"))
}

#[test]
fn multipath_namespace_is_ready() {
    require_root_mptcp!();
    let bed = Testbed::new(2);
    let peer = format!("{}:9", bed.server_ip());
    // --peer gives the destination the paths are judged against (the
    // testbed has no default route); nothing listens there, so the live
    // test fails (exit 1) while every path is fine.
    let out = check(&bed.client, &["--peer", &peer]);
    assert!(line(&out, "kernel:").starts_with("ok"), "{out}");
    assert_eq!(
        line(&out, "net.mptcp.enabled:"),
        "ok   net.mptcp.enabled: 1"
    );
    assert!(line(&out, "path manager:").starts_with("ok"), "{out}");
    assert_eq!(
        line(&out, "limits:"),
        "ok   limits: subflows 2, add_addr_accepted 2"
    );
    let c1 = &bed.paths[1].client_if;
    let endpoint = line(&out, &format!("path {c1} 10.231.1.1: endpoint"));
    assert!(
        endpoint.starts_with("ok") && endpoint.contains("endpoint id 1 subflow"),
        "{out}"
    );
    let route = line(&out, &format!("path {c1} 10.231.1.1: a packet"));
    assert!(
        route.starts_with("ok") && route.ends_with(&format!("is routed dev {c1} (table 101)")),
        "{out}"
    );
    assert_eq!(out.code(), 1, "the live test fails:\n{out}");
    assert!(
        line(&out, &format!("peer {peer}:")).starts_with("FAIL"),
        "{out}"
    );

    let j = json(&bed.client, &["--peer", &peer]);
    assert_eq!(j["usable"], true);
    assert_eq!(j["sysctl"]["enabled"], "1");
    assert_eq!(j["kernel"]["mptcp"], "works");
    assert_eq!(j["limits"]["subflows"], 2);
    assert_eq!(j["limits"]["add_addr_accepted"], 2);
    let eps = j["endpoints"].as_array().expect("endpoints array");
    assert_eq!(eps.len(), 1, "{j}");
    assert_eq!(eps[0]["address"], "10.231.1.1");
    assert_eq!(eps[0]["dev"], c1.as_str());
    assert_eq!(eps[0]["flags"], serde_json::json!(["subflow"]));
    assert_eq!(j["interfaces"].as_array().unwrap().len(), 2, "{j}");
    assert_eq!(j["connection"]["connected"], false, "{j}");
}

#[test]
fn disabled_namespace_fails_with_the_sysctl_that_fixes_it() {
    require_root_mptcp!();
    let ns = Netns::new();
    ns.set_mptcp(false);
    let out = check(&ns, &[]);
    assert_eq!(out.code(), 1, "{out}");
    let enabled = line(&out, "net.mptcp.enabled:");
    assert!(enabled.starts_with("FAIL"), "{out}");
    assert!(
        enabled.ends_with("fix: sysctl -w net.mptcp.enabled=1"),
        "{out}"
    );
    assert!(out.stdout.contains("MPTCP cannot be used"), "{out}");

    let j = json(&ns, &[]);
    assert_eq!(j["usable"], false);
    assert_eq!(j["kernel"]["mptcp"], "disabled");
    let item = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "net.mptcp.enabled")
        .expect("net.mptcp.enabled item");
    assert_eq!(item["status"], "fail");
    assert_eq!(item["fix"], "sysctl -w net.mptcp.enabled=1");

    // The fix works.
    ns.exec("sysctl", &["-qw", "net.mptcp.enabled=1"]);
    assert_eq!(check(&ns, &[]).code(), 0);
}

#[test]
fn single_homed_client_without_limits_warns_with_a_command_that_works() {
    require_root_mptcp!();
    let ns = Netns::new();
    // One interface with an address (its veth peer has none).
    ns.ip(&[
        "link", "add", "mzd0", "type", "veth", "peer", "name", "mzd1",
    ]);
    ns.ip(&["addr", "add", "10.232.0.1/24", "dev", "mzd0"]);
    ns.ip(&["link", "set", "mzd1", "up"]);
    ns.ip(&["link", "set", "mzd0", "up"]);
    set_limits(&ns, 0, 0);
    let out = check(&ns, &["--role", "client"]);
    assert_eq!(out.code(), 0, "a warning is no failure:\n{out}");
    let limits = line(&out, "limits:");
    assert!(limits.starts_with("WARN"), "{out}");
    let limits_fix = limits.split("; fix: ").nth(1).expect("a fix");
    assert_eq!(
        limits_fix,
        "ip mptcp limits set subflow 2 add_addr_accepted 2"
    );
    // One address and no default route: one line, no endpoint to add.
    assert!(
        line(&out, "path mzd0 10.232.0.1:").starts_with("info"),
        "{out}"
    );
    assert!(!out.stdout.contains("endpoint add"), "{out}");

    let j = json(&ns, &["--role", "client"]);
    assert_eq!(j["usable"], true);
    assert_eq!(j["ready"], false);
    assert_eq!(j["endpoints"], serde_json::json!([]));
    assert_eq!(j["limits"]["subflows"], 0);
    assert_eq!(j["paths"][0]["interface"], "mzd0");
    assert_eq!(j["paths"][0]["kind"], "any");
    let item = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "limits")
        .unwrap();
    assert_eq!(
        item["commands"],
        serde_json::json!([[
            "ip",
            "mptcp",
            "limits",
            "set",
            "subflow",
            "2",
            "add_addr_accepted",
            "2"
        ]])
    );

    // The fix as printed, run by a shell: check then sees the limits.
    ns.exec("sh", &["-c", limits_fix]);
    let out = check(&ns, &["--role", "client"]);
    assert!(line(&out, "limits:").starts_with("ok"), "{out}");
    assert!(
        out.stdout.contains("MPTCP is ready (one path here)"),
        "{out}"
    );
}

#[test]
fn check_prog_says_which_mode_run_would_use() {
    require_root_mptcp!();
    let ns = Netns::new();
    let server = bin("echo-server");
    let out = check(&ns, &[server.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{out}");
    let program = line(&out, "program:");
    assert!(
        program.starts_with("ok   program: run would use preload mode")
            && program.contains("dynamically linked"),
        "{out}"
    );
    let mut cmd = ns.mptcpize(&["check", "--json"]);
    cmd.arg(&server);
    let j: serde_json::Value = serde_json::from_str(&run(cmd, T).stdout).unwrap();
    assert_eq!(j["program"]["mode"], "preload");
    assert_eq!(j["program"]["dynamic"], true);
    assert_eq!(j["program"]["go"], serde_json::Value::Null);

    let out = check(&ns, &["no-such-program-mz"]);
    assert_eq!(out.code(), 127, "{out}");
    assert_eq!(
        out.stderr.trim(),
        "mptcpize-rs: no-such-program-mz: command not found"
    );
}

#[test]
fn bad_peer_or_wait_is_one_line_and_exit_2() {
    require_root_mptcp!();
    let ns = Netns::new();
    for (args, message) in [
        (
            vec!["--peer", "1.2.3.4"],
            "mptcpize-rs: --peer 1.2.3.4: invalid socket address (give HOST:PORT, [IPv6]:PORT)",
        ),
        (
            vec!["--peer", "127.0.0.1:1", "--wait", "99"],
            "mptcpize-rs: --wait 99: give seconds from 0 to 60",
        ),
    ] {
        let out = check(&ns, &args);
        assert_eq!(out.code(), 2, "{out}");
        assert_eq!(out.stderr.trim(), message);
        assert_eq!(out.stdout, "", "nothing half-written");
    }
}
