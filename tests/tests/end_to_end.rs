//! End to end: unmodified servers and clients under `mptcpize-rs run`, in two
//! network namespaces joined by veth. The connection must be MPTCP on both
//! ends, as the kernel sees it from outside the programs, and the bytes must
//! arrive intact.

use mptcpize_tests::{
    bin, require_program, require_root_mptcp, write_pattern, Child, ScratchDir, Testbed,
    MP_CAPABLE_SYN_RX, MP_JOIN_ACK_RX,
};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[test]
fn echo_pair_negotiates_mptcp_and_uses_the_second_path() {
    require_root_mptcp!();
    let bed = Testbed::new(2);
    let addr = bed.server_addr(7000);

    let mut server = bed.server.mptcpize(&["run", "--"]);
    server.arg(bin("echo-server")).arg(&addr);
    let mut server = Child::spawn(server);
    let listening = server.wait_for_line("listening on", T);
    assert!(listening.contains("socket: MPTCP"), "{listening}");
    let listeners = bed.server.ss(&["-Mln"]);
    assert!(
        listeners.contains(&addr),
        "ss -Mln in the server namespace lists no MPTCP listener:\n{listeners}"
    );

    let handshakes = bed.server.watch(MP_CAPABLE_SYN_RX);
    let joins = bed.server.watch(MP_JOIN_ACK_RX);
    let out = bed.client.echo_client(&[], &addr, 8_000_000);
    out.assert_success();
    assert!(
        out.stdout.contains("socket MPTCP, MPTCP negotiated"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("echoed 8000000 of 8000000 bytes intact"),
        "{out}"
    );

    handshakes.assert_grew_by(1, "the server saw no MP_CAPABLE SYN");
    joins.assert_grew("no subflow was established on the second path (MP_JOIN third ACK)");
    let accepted = server.wait_for_line("accepted", T);
    assert!(accepted.contains("MPTCP negotiated"), "{accepted}");
}

#[test]
fn python_http_server_and_curl_move_a_file_over_mptcp() {
    require_root_mptcp!();
    require_program!("python3");
    require_program!("curl");
    let bed = Testbed::new(2);
    let dir = ScratchDir::new();
    let data = write_pattern(&dir.join("blob"), 4_000_000);

    let mut server = bed.server.mptcpize(&[
        "run",
        "python3",
        "-u",
        "-m",
        "http.server",
        "8080",
        "--bind",
    ]);
    server.arg(bed.server_ip().to_string());
    server.current_dir(dir.path());
    let mut server = Child::spawn(server);
    server.wait_for_line("Serving HTTP", T);
    assert!(
        bed.server.ss(&["-Mln"]).contains(":8080"),
        "python's listener is not MPTCP"
    );

    let handshakes = bed.server.watch(MP_CAPABLE_SYN_RX);
    let url = format!("http://{}:8080/blob", bed.server_ip());
    let out_file = dir.join("got");
    let mut curl = bed
        .client
        .mptcpize(&["run", "curl", "-sS", "--max-time", "20", "-o"]);
    curl.arg(&out_file).arg(&url);
    mptcpize_tests::proc::run(curl, T).assert_success();
    assert!(
        std::fs::read(&out_file).unwrap() == data,
        "the file arrived changed"
    );
    handshakes.assert_grew_by(1, "curl's connection was not MPTCP");
}

/// The README's first run works and says what it should.
#[test]
fn demo_shows_tcp_then_mptcp() {
    require_root_mptcp!();
    let ns = mptcpize_tests::Netns::new();
    let out = mptcpize_tests::proc::run(ns.cmd(bin("demo")), T);
    out.assert_success();
    let (plain, mptcp) = out.stdout.split_once("2. Under").expect("two rounds");
    assert!(
        plain.contains("(socket: TCP)") && plain.contains("went from 0 to 0"),
        "{out}"
    );
    assert!(
        mptcp.contains("(socket: MPTCP)") && mptcp.contains("went from 0 to 1"),
        "{out}"
    );
    assert!(
        mptcp.contains("client: connected to 127.0.0.1:")
            && mptcp.contains("MPTCP negotiated with the peer"),
        "{out}"
    );
}
