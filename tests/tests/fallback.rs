//! Fallback to TCP where MPTCP is unavailable: in a namespace with
//! `net.mptcp.enabled=0`, programs under `mptcpize-rs run` keep working over
//! TCP, try MPTCP once per process, and fail hard only with `--no-fallback`.
//! Errors that do not mean "no MPTCP" reach the program unchanged.

use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, launcher, mptcpize, require_program, require_root_mptcp, Child, Netns};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn disabled_namespace_with_echo_server() -> (Netns, Child, String) {
    let ns = Netns::new();
    ns.set_mptcp(false);
    let server = ns.echo_server("127.0.0.1:7100", false, &[]);
    (ns, server, "127.0.0.1:7100".into())
}

#[test]
fn falls_back_to_tcp_when_mptcp_is_disabled() {
    require_root_mptcp!();
    let (ns, _server, addr) = disabled_namespace_with_echo_server();
    let out = ns.echo_client(&["--debug"], &addr, 2_000_000);
    out.assert_success();
    assert!(out.stdout.contains("socket TCP, plain TCP"), "{out}");
    assert!(
        out.stdout
            .contains("echoed 2000000 of 2000000 bytes intact"),
        "{out}"
    );
    assert!(
        out.stderr.contains(
            ": TCP, MPTCP unavailable (ENOPROTOOPT), fallback for the rest of the process"
        ),
        "{out}"
    );
}

#[test]
fn no_fallback_fails_with_enoprotoopt() {
    require_root_mptcp!();
    let (ns, _server, addr) = disabled_namespace_with_echo_server();
    for how in [vec!["run", "--no-fallback", "--"], vec!["run"]] {
        let mut client = ns.mptcpize(&how);
        client.arg(bin("echo-client")).arg(&addr);
        if how.len() == 1 {
            client.env("MPTCPIZE_FALLBACK", "0");
        }
        let out = run(client, T);
        assert_eq!(out.code(), 1, "{how:?}: {out}");
        assert!(
            out.stderr.contains("Protocol not available (os error 92)"),
            "{how:?}: {out}"
        );
    }
}

/// After the first fallback the process makes no second failing MPTCP
/// syscall: strace sees IPPROTO_MPTCP exactly once for five sockets.
#[test]
fn tries_mptcp_once_per_process() {
    require_root_mptcp!();
    require_program!("strace");
    let ns = Netns::new();
    ns.set_mptcp(false);
    let mut cmd = ns.cmd("strace");
    cmd.args(["-f", "-e", "trace=socket", "--"])
        .arg(launcher())
        .arg("run")
        .arg(bin("socket-threads"))
        .args(["1", "5"]);
    let out = run(cmd, T);
    out.assert_success();
    assert!(
        out.stdout.contains("sockets=5 mptcp=0 tcp=5 errors=0"),
        "{out}"
    );
    let attempts: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("IPPROTO_MPTCP"))
        .collect();
    assert_eq!(attempts.len(), 1, "{}", out.stderr);
    assert!(attempts[0].contains("ENOPROTOOPT"), "{attempts:?}");
}

/// EMFILE is not "no MPTCP": the program sees it as it is, and the next
/// socket is MPTCP again.
#[test]
fn other_errors_reach_the_program_unchanged() {
    require_program!("python3");
    let script = "\
import resource, socket
resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
socks = []
try:
    while True:
        socks.append(socket.socket())
except OSError as e:
    print('error', e.errno)
socks.pop().close()
print('then protocol', socket.socket().getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
";
    let out = run(mptcpize(&["run", "python3", "-c", script]), T);
    out.assert_success();
    assert!(out.stdout.contains("error 24\n"), "{out}");
    assert!(out.stdout.contains("then protocol 262"), "{out}");
}
