//! `mptcpize-rs check` in network namespaces set up the ways a user meets
//! them: MPTCP enabled with a second path and a subflow endpoint, MPTCP
//! disabled, and MPTCP enabled without any endpoint. The exit status, the
//! lines and the `--json` fields must say what the kernel really has, and
//! the fix `check` suggests must be a command that works.

use mptcpize_tests::proc::{run, Output};
use mptcpize_tests::{bin, require_root_mptcp, Netns, Testbed};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn check(ns: &Netns, args: &[&str]) -> Output {
    let mut cmd = ns.mptcpize(&["check"]);
    cmd.args(args);
    run(cmd, T)
}

fn json(ns: &Netns) -> serde_json::Value {
    let out = check(ns, &["--json"]);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

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
    let out = check(&bed.client, &[]);
    assert_eq!(out.code(), 0, "{out}");
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
    let endpoint = line(&out, "endpoint:");
    assert!(
        endpoint.starts_with("ok")
            && endpoint.contains("10.231.1.1")
            && endpoint.contains(&format!("dev {}", bed.paths[1].client_if))
            && endpoint.ends_with(": subflow"),
        "{out}"
    );
    assert!(
        line(&out, "paths:").starts_with("ok   paths: 2 interfaces"),
        "{out}"
    );
    assert!(!out.stdout.contains("FAIL"), "{out}");

    let j = json(&bed.client);
    assert_eq!(j["usable"], true);
    assert_eq!(j["sysctl"]["enabled"], "1");
    assert_eq!(j["kernel"]["mptcp"], "works");
    assert_eq!(j["limits"]["subflows"], 2);
    assert_eq!(j["limits"]["add_addr_accepted"], 2);
    let eps = j["endpoints"].as_array().expect("endpoints array");
    assert_eq!(eps.len(), 1, "{j}");
    assert_eq!(eps[0]["address"], "10.231.1.1");
    assert_eq!(eps[0]["flags"], serde_json::json!(["subflow"]));
    assert_eq!(j["interfaces"].as_array().unwrap().len(), 2, "{j}");
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

    let j = json(&ns);
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
fn no_endpoint_warns_with_an_endpoint_command_that_works() {
    require_root_mptcp!();
    let ns = Netns::new();
    // One interface with an address (its veth peer has none).
    ns.ip(&[
        "link", "add", "mzd0", "type", "veth", "peer", "name", "mzd1",
    ]);
    ns.ip(&["addr", "add", "10.232.0.1/24", "dev", "mzd0"]);
    ns.ip(&["link", "set", "mzd1", "up"]);
    ns.ip(&["link", "set", "mzd0", "up"]);
    ns.ip(&[
        "mptcp",
        "limits",
        "set",
        "subflow",
        "0",
        "add_addr_accepted",
        "0",
    ]);
    let out = check(&ns, &[]);
    assert_eq!(out.code(), 0, "a warning is no failure:\n{out}");
    let endpoints = line(&out, "endpoints:");
    assert!(endpoints.starts_with("WARN"), "{out}");
    let fix = endpoints.split("fix: ").nth(1).expect("a fix");
    assert_eq!(fix, "ip mptcp endpoint add 10.232.0.1 dev mzd0 subflow");
    let limits = line(&out, "limits:");
    assert!(limits.starts_with("WARN"), "{out}");
    let limits_fix = limits.split("fix: ").nth(1).expect("a fix");
    assert_eq!(
        limits_fix,
        "ip mptcp limits set subflow 2 add_addr_accepted 2"
    );
    assert!(line(&out, "paths:").starts_with("WARN"), "{out}");

    let j = json(&ns);
    assert_eq!(j["usable"], true);
    assert_eq!(j["endpoints"], serde_json::json!([]));
    assert_eq!(j["limits"]["subflows"], 0);

    // Apply both fixes as printed: check then sees the endpoint and limits.
    let args: Vec<&str> = fix.split_whitespace().skip(1).collect();
    ns.ip(&args);
    let args: Vec<&str> = limits_fix.split_whitespace().skip(1).collect();
    ns.ip(&args);
    let out = check(&ns, &[]);
    assert!(
        line(&out, "endpoint:").ends_with("10.232.0.1 dev mzd0: subflow"),
        "{out}"
    );
    assert!(line(&out, "limits:").starts_with("ok"), "{out}");
    assert!(!out.stdout.contains("WARN endpoints"), "{out}");
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
