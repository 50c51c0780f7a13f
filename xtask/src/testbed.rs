//! `xtask testbed up|down`: the tests' [`Testbed`] from the command line.

use crate::TestbedArgs;
use mptcpize_tests::netns::{remove_stale, stale_names, TestbedConfig};
use mptcpize_tests::Testbed;

/// Checks that this process can make namespaces and MPTCP sockets.
pub fn preflight() -> Result<(), String> {
    mptcpize_tests::require::root_mptcp()
}

/// Sets a testbed up, prints it, and waits for SIGINT/SIGTERM (whose handler
/// tears it down).
pub fn up(args: &TestbedArgs) -> Result<(), String> {
    preflight()?;
    // Only named: removing them is `testbed down`'s job, asked for.
    let stale = stale_names();
    if !stale.is_empty() {
        eprintln!(
            "xtask: namespaces of killed runs are left: {} (`cargo run -p xtask -- testbed down` removes them)",
            stale.join(" ")
        );
    }
    let bed = Testbed::with(TestbedConfig {
        paths: args.paths.into(),
        rate_mbit: args.rate,
        delay_ms: args.delay,
        server_signal: args.signal,
        tso: false,
    });
    print!("{}", bed.describe());
    println!(
        "\nTry:\n  ip netns exec {s} mptcpize-rs run iperf3 -s -B {ip}\n  ip netns exec {c} mptcpize-rs run iperf3 -c {ip}\n  ip netns exec {c} ss -Mtin   ip netns exec {s} nstat -az 'MPTcp*'\n\nCtrl-C tears it down.",
        s = bed.server.name,
        c = bed.client.name,
        ip = bed.server_ip()
    );
    loop {
        std::thread::park();
    }
}

/// Removes what killed runs left behind.
pub fn down() -> Result<(), String> {
    let removed = remove_stale();
    if removed.is_empty() {
        println!("no namespaces of killed runs");
    } else {
        println!("removed {}", removed.join(" "));
    }
    Ok(())
}
