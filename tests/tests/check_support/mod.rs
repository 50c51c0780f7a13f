//! What the `check` test files share: running `mptcpize-rs check` in a
//! namespace, as text or as JSON, and setting the path manager's limits.

use mptcpize_tests::proc::{run, Output};
use mptcpize_tests::Netns;
use std::time::Duration;

pub const T: Duration = Duration::from_secs(60);

/// `mptcpize-rs check ARGS…` inside `ns`.
pub fn check(ns: &Netns, args: &[&str]) -> Output {
    let mut cmd = ns.mptcpize(&["check"]);
    cmd.args(args);
    run(cmd, T)
}

/// `mptcpize-rs check --json ARGS…` inside `ns`, parsed.
pub fn check_json(ns: &Netns, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = check(ns, &all);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

/// `ip mptcp limits set subflow N add_addr_accepted M` inside `ns`.
pub fn set_limits(ns: &Netns, subflow: u32, add_addr_accepted: u32) {
    ns.ip(&[
        "mptcp",
        "limits",
        "set",
        "subflow",
        &subflow.to_string(),
        "add_addr_accepted",
        &add_addr_accepted.to_string(),
    ]);
}
