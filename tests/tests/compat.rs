//! The compatibility matrix (see `mptcpize_tests::compat`): every pair of
//! real programs in four modes. The test writes the table to
//! `target/compat.md` whatever happens, then fails listing every case that
//! went wrong.
//!
//! `MPTCPIZE_COMPAT_ONLY=curl,sshd` runs only the pairs whose "client ->
//! server" name contains one of those words (the table is then not written).

use mptcpize_tests::compat::{run_all, sockopts, table, table_path};
use mptcpize_tests::require_root_mptcp;

#[test]
fn real_clients_and_servers_work_over_mptcp_and_fall_back_to_tcp() {
    require_root_mptcp!();
    let only: Vec<String> = std::env::var("MPTCPIZE_COMPAT_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let (results, skipped) = run_all(&only);
    for why in &skipped {
        eprintln!("SKIPPED: {why}");
    }
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let md = table::render(&results, &sockopts::survey(), kernel.trim());
    eprintln!("{md}");
    if only.is_empty() && skipped.is_empty() {
        std::fs::write(table_path(), &md).expect("write target/compat.md");
        eprintln!("table written to {}", table_path().display());
    }
    assert!(
        skipped.is_empty() || !mptcpize_tests::require::in_ci(),
        "CI must run every pair, but: {skipped:?}"
    );
    let problems: Vec<String> = results.iter().flat_map(|r| r.problems()).collect();
    assert!(
        problems.is_empty(),
        "{} of the matrix's cases went wrong:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}
