//! `run --report`: who reports a connection and when, with real programs
//! whose connections end past `close()`: a C client closing through stdio
//! (`fdopen` + `fclose`), a `vfork()` child closing the socket before it
//! executes a program, a forking Python server (each connection reported
//! once, by the child that closed it last, with all its bytes), node (libuv
//! closes with `syscall(SYS_close)`), and raw close and socket system calls
//! (as the Go runtime makes), which are counted and named at exit. Every
//! byte count is checked against what the echo server says arrived.

use mptcpize_tests::artifacts::{built, workspace};
use mptcpize_tests::gobuild::go_program;
use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, require_program, require_root_mptcp, Child, Netns, ScratchDir};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The report lines (`mptcpize[PID] report: …`) of some output.
fn report_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("mptcpize[") && l.contains("] report: "))
        .collect()
}

/// The pid a report line names.
fn pid_of(line: &str) -> u32 {
    line["mptcpize[".len()..line.find(']').unwrap()]
        .parse()
        .unwrap()
}

/// The report lines about connections.
fn connection_lines<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .copied()
        .filter(|l| l.contains(" report: connection "))
        .collect()
}

/// Asserts that a connection line names its end (`to 127.0.0.1:7201`,
/// `from 127.0.0.1:`), says `outcome` (`MPTCP negotiated, 1 subflow`) and
/// ends with `end` (`, 4000 bytes sent, 4000 bytes received`): what the
/// text form says whatever else it adds (local address, token, joins).
#[track_caller]
fn assert_connection(line: &str, end_named: &str, outcome: &str, end: &str, all: &str) {
    assert!(
        line.contains(&format!(" report: connection {end_named}"))
            && line.contains(outcome)
            && line.ends_with(end),
        "{end_named:?}, {outcome:?}, {end:?} in:\n{all}"
    );
}

/// The exit line of process `pid`.
fn exit_line<'a>(lines: &[&'a str], pid: u32) -> &'a str {
    lines
        .iter()
        .copied()
        .find(|l| pid_of(l) == pid && l.contains(" report: exit: "))
        .unwrap_or_else(|| panic!("no exit line of {pid} in:\n{}", lines.join("\n")))
}

/// `tests/fixtures/closes.c`, compiled once.
fn closes() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = built().join("fixtures");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("closes");
        let mut cc = Command::new("gcc");
        cc.args(["-O1", "-Wall", "-Werror", "-o"])
            .arg(&out)
            .arg(workspace().join("tests/fixtures/closes.c"));
        run(cc, T).assert_success();
        out
    })
}

/// An echo server under the shim (MPTCP) in a fresh namespace, on `port`.
fn echo_server(port: u16) -> (Netns, Child, String) {
    let ns = Netns::new();
    let addr = format!("127.0.0.1:{port}");
    let server = ns.echo_server(&addr, true, &[]);
    (ns, server, addr)
}

/// Runs `closes HOW 127.0.0.1 PORT BYTES` in `ns` under `run --report`;
/// its pid and report lines (on stderr).
fn closes_client(ns: &Netns, how: &str, port: u16, bytes: u64) -> (u32, String) {
    let mut cmd = ns.mptcpize(&["run", "--report"]);
    cmd.arg(closes())
        .args([how, "127.0.0.1", &port.to_string(), &bytes.to_string()]);
    let out = run(cmd, T);
    out.assert_success();
    let pid = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .unwrap_or_else(|| panic!("no pid line: {out}"))
        .parse()
        .unwrap();
    (pid, out.stderr)
}

/// What the echo server says it echoed, connection by connection.
fn echoed(server: &mut Child, connections: usize) -> Vec<u64> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + T;
    while got.len() < connections && std::time::Instant::now() < deadline {
        let (stdout, _) = server.output_so_far();
        got = stdout
            .lines()
            .filter_map(|l| l.split(": echoed ").nth(1))
            .map(|n| n.trim_end_matches(" bytes").parse().unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(20));
    }
    got
}

/// A server (under the shim: MPTCP) that reads BYTES, sends BYTES back,
/// then reads until the end and says how many bytes it received in all:
/// bytes that come after the echo get no answer.
const COUNTING_SERVER: &str = r#"
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', int(sys.argv[1])))
srv.listen()
print('listening', flush=True)
c, _ = srv.accept()
n, got = int(sys.argv[2]), 0
while got < n:
    got += len(c.recv(n - got))
c.sendall(b'y' * n)
while True:
    b = c.recv(65536)
    if not b: break
    got += len(b)
print('received', got, flush=True)
"#;

#[test]
fn a_connection_closed_with_fclose_is_reported_with_the_bytes_the_stream_held() {
    require_root_mptcp!();
    require_program!("gcc");
    require_program!("python3");
    let ns = Netns::new();
    let server = ns.mptcpize(&["run", "python3", "-c", COUNTING_SERVER, "7201", "100000"]);
    let mut server = Child::spawn(server);
    server.wait_for_line("listening", T);
    let (pid, stderr) = closes_client(&ns, "fclose", 7201, 100_000);
    // The 3 bytes left in the stream's buffer went out with fclose().
    server.wait_for_line("received 100003", T);
    let lines = report_lines(&stderr);
    let conns = connection_lines(&lines);
    assert_eq!(conns.len(), 1, "{stderr}");
    assert_eq!(pid_of(conns[0]), pid, "{stderr}");
    assert_connection(
        conns[0],
        "to 127.0.0.1:7201",
        "MPTCP negotiated, 1 subflow",
        ", 100003 bytes sent, 100000 bytes received",
        &stderr,
    );
    assert!(
        exit_line(&lines, pid).contains("connections: 1 MPTCP"),
        "{stderr}"
    );
}

/// Runs `closes HOW` against an echo server on `port` moving `bytes`, and
/// asserts that every byte came back and that its one connection was
/// reported once, by its pid, with those bytes, and nothing named unseen;
/// its report lines.
fn reported_once(how: &str, port: u16, bytes: u64) -> Vec<String> {
    let (ns, mut server, _) = echo_server(port);
    let (pid, stderr) = closes_client(&ns, how, port, bytes);
    assert_eq!(echoed(&mut server, 1), [bytes]);
    let lines = report_lines(&stderr);
    let conns = connection_lines(&lines);
    assert_eq!(conns.len(), 1, "{stderr}");
    assert_eq!(pid_of(conns[0]), pid, "{stderr}");
    assert_connection(
        conns[0],
        &format!("to 127.0.0.1:{port}"),
        "MPTCP negotiated, 1 subflow",
        &format!(", {bytes} bytes sent, {bytes} bytes received"),
        &stderr,
    );
    let exit = exit_line(&lines, pid);
    assert!(
        exit.contains("connections: 1 MPTCP") && !exit.contains("without the C library"),
        "{stderr}"
    );
    lines.iter().map(|l| l.to_string()).collect()
}

#[test]
fn a_vfork_child_closing_the_socket_leaves_the_connection_to_its_parent() {
    require_root_mptcp!();
    require_program!("gcc");
    // Once, by the parent, with every byte; the child (true) made no line.
    let lines = reported_once("vfork", 7202, 150_000);
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn a_connection_closed_with_syscall_sys_close_is_reported() {
    require_root_mptcp!();
    require_program!("gcc");
    reported_once("syscall", 7203, 120_000);
}

#[test]
fn raw_closes_and_raw_sockets_are_counted_and_named_at_exit() {
    require_root_mptcp!();
    require_program!("gcc");
    let (ns, mut server, _) = echo_server(7204);
    // A connection closed with the raw system call, then a second one that
    // gets its number, left open at exit.
    let (pid, stderr) = closes_client(&ns, "raw", 7204, 50_000);
    assert_eq!(echoed(&mut server, 2), [50_000, 50_000]);
    let lines = report_lines(&stderr);
    let conns = connection_lines(&lines);
    assert_eq!(conns.len(), 1, "{stderr}");
    assert_connection(
        conns[0],
        "to 127.0.0.1:7204",
        "MPTCP negotiated, 1 subflow",
        ", 50000 bytes sent, 50000 bytes received, open at exit",
        &stderr,
    );
    let exit = exit_line(&lines, pid);
    assert!(
        exit.contains("connections: 1 MPTCP")
            && exit.ends_with("; 1 connection closed without the C library (raw close system calls): their bytes are unknown"),
        "{stderr}"
    );

    // A connection made with the raw socket system call: never seen made,
    // named at exit.
    let (pid, stderr) = closes_client(&ns, "rawsocket", 7204, 1_000);
    let lines = report_lines(&stderr);
    assert!(connection_lines(&lines).is_empty(), "{stderr}");
    assert!(
        exit_line(&lines, pid).ends_with(
            "; 1 TCP or MPTCP connection open at exit made without the C library (raw system calls): not reported, `mptcpize-rs top` shows such connections"
        ),
        "{stderr}"
    );
}

#[test]
fn the_json_process_object_counts_what_the_library_could_not_report() {
    require_root_mptcp!();
    require_program!("gcc");
    let (ns, mut server, _) = echo_server(7205);
    // The process object of `closes HOW` under `--report-format json`.
    let process = |how: &str| {
        let mut cmd = ns.mptcpize(&["run", "--report", "--report-format", "json"]);
        cmd.arg(closes()).args([how, "127.0.0.1", "7205", "2000"]);
        let out = run(cmd, T);
        out.assert_success();
        out.stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["kind"] == "process")
            .unwrap_or_else(|| panic!("no process object: {out}"))
    };
    let raw = process("raw");
    assert_eq!(echoed(&mut server, 2), [2_000, 2_000]);
    assert_eq!(
        (
            &raw["closed_unseen"],
            &raw["never_seen"],
            &raw["handed_over"]
        ),
        (&1.into(), &0.into(), &0.into()),
        "{raw}"
    );
    let rawsocket = process("rawsocket");
    assert_eq!(rawsocket["never_seen"], 1, "{rawsocket}");
    assert_eq!(rawsocket["closed_unseen"], 0, "{rawsocket}");
}

/// A `socketserver.ForkingTCPServer` echoing two connections: the parent
/// closes each right after the fork, the child echoes, then closes it
/// last. It prints `child PID` per connection.
const FORKING_SERVER: &str = r#"
import os, socketserver, sys, time
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        print('child', os.getpid(), flush=True)
        # The parent has closed its copy long before this one ends.
        time.sleep(0.2)
        while True:
            b = self.request.recv(65536)
            if not b: break
            self.request.sendall(b)
class Server(socketserver.ForkingTCPServer):
    allow_reuse_address = True
with Server(('127.0.0.1', 7205), Echo) as s:
    print('listening', flush=True)
    for _ in range(3):
        s.handle_request()
    s.server_close()
"#;

#[test]
fn a_forking_server_reports_each_connection_once_by_the_child_that_closed_it() {
    require_root_mptcp!();
    require_program!("python3");
    let ns = Netns::new();
    let dir = ScratchDir::new();
    let report = dir.join("server.report");
    let mut cmd = ns.mptcpize(&["run"]);
    cmd.arg(format!("--report={}", report.display()))
        .args(["python3", "-c", FORKING_SERVER]);
    let mut server = Child::spawn(cmd);
    server.wait_for_line("listening", T);
    // Two MPTCP clients, then a plain TCP one (not under the shim).
    for (bytes, shimmed) in [("100000", true), ("200000", true), ("300000", false)] {
        let mut client = if shimmed {
            ns.mptcpize(&["run", "--"])
        } else {
            ns.cmd("env")
        };
        client
            .arg(bin("echo-client"))
            .args(["127.0.0.1:7205", bytes]);
        let out = run(client, T);
        out.assert_success();
        assert!(out.stdout.contains("intact"), "{out}");
    }
    let out = server.finish(T);
    out.assert_success();
    let children: Vec<u32> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("child "))
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(children.len(), 3, "{out}");

    let text = std::fs::read_to_string(&report).unwrap();
    let lines = report_lines(&text);
    let conns = connection_lines(&lines);
    assert_eq!(conns.len(), 3, "each connection once:\n{text}");
    let outcomes = [
        ("MPTCP negotiated, 1 subflow", 100_000),
        ("MPTCP negotiated, 1 subflow", 200_000),
        (": TCP (the peer did not offer MPTCP), ", 300_000),
    ];
    for (child, (outcome, bytes)) in children.iter().zip(outcomes) {
        let line = conns
            .iter()
            .find(|l| pid_of(l) == *child)
            .unwrap_or_else(|| panic!("no line by child {child}:\n{text}"));
        assert_connection(
            line,
            "from 127.0.0.1:",
            outcome,
            &format!(", {bytes} bytes sent, {bytes} bytes received"),
            &text,
        );
    }
    // The parent made the listener and handed every connection over.
    let parent = lines
        .iter()
        .map(|l| pid_of(l))
        .find(|p| !children.contains(p))
        .unwrap_or_else(|| panic!("no line by the parent:\n{text}"));
    let exit = exit_line(&lines, parent);
    assert!(
        exit.contains("1 socket made MPTCP")
            && exit.contains(
                "; 3 connections handed over (another process still held them, and reports them)"
            ),
        "{text}"
    );
}

/// A client that forks after connecting to a server without MPTCP (its
/// connection falls back to TCP): the parent closes its copy at once, the
/// child moves the bytes and closes it last.
const FORKING_CLIENT: &str = r#"
import os, socket, sys, time
s = socket.create_connection(('127.0.0.1', 7207))
pid = os.fork()
if pid == 0:
    time.sleep(0.2)
    s.sendall(b'x' * 5000)
    got = 0
    while got < 5000:
        got += len(s.recv(65536))
    s.close()
    print('child', os.getpid(), flush=True)
    os._exit(0)
s.close()
os.waitpid(pid, 0)
print('parent', os.getpid(), flush=True)
"#;

#[test]
fn a_fallen_back_connection_shared_by_a_fork_is_reported_once_by_the_last_closer() {
    require_root_mptcp!();
    require_program!("python3");
    let ns = Netns::new();
    let mut server = ns.echo_server("127.0.0.1:7207", false, &[]);
    let out = run(
        ns.mptcpize(&["run", "--report", "python3", "-c", FORKING_CLIENT]),
        T,
    );
    out.assert_success();
    assert_eq!(echoed(&mut server, 1), [5000]);
    let pid = |who: &str| -> u32 {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(who))
            .unwrap_or_else(|| panic!("{out}"))
            .trim()
            .parse()
            .unwrap()
    };
    let (child, parent) = (pid("child "), pid("parent "));
    let lines = report_lines(&out.stderr);
    let conns = connection_lines(&lines);
    assert_eq!(conns.len(), 1, "{out}");
    assert_eq!(pid_of(conns[0]), child, "{out}");
    let exact = conns[0].ends_with(", 5000 bytes sent, 5000 bytes received");
    assert_connection(
        conns[0],
        "to 127.0.0.1:7207",
        ": fell back to TCP (the peer did not negotiate MPTCP)",
        if exact {
            ", 5000 bytes sent, 5000 bytes received"
        } else {
            ", at least 5000 bytes sent and 5000 received (counted at shutdown: the kernel drops a fallen-back connection's counts once both ends closed)"
        },
        &out.to_string(),
    );
    assert!(
        exit_line(&lines, parent).contains("; 1 connection handed over"),
        "{out}"
    );
}

/// node's net module, as a server echoing one connection and as a client
/// sending BYTES and reading them back.
const NODE_ECHO: &str = r#"
const net = require('net');
const [mode, port, n] = [process.argv[1], +process.argv[2], +process.argv[3]];
if (mode === 'server') {
  const srv = net.createServer(c => { c.pipe(c); c.on('close', () => srv.close()); });
  srv.listen(port, '127.0.0.1', () => console.log('listening'));
} else {
  const c = net.connect(port, '127.0.0.1', () => c.end(Buffer.alloc(n, 120)));
  let got = 0;
  c.on('data', d => { got += d.length; });
  c.on('close', () => console.log('got', got));
}
"#;

#[test]
fn node_servers_and_clients_report_their_connections() {
    require_root_mptcp!();
    require_program!("node");
    let ns = Netns::new();
    let dir = ScratchDir::new();
    let report = dir.join("node-server.report");
    let mut server = ns.mptcpize(&["run"]);
    server
        .arg(format!("--report={}", report.display()))
        .args(["node", "-e", NODE_ECHO, "server", "7206", "0"]);
    let mut server = Child::spawn(server);
    server.wait_for_line("listening", T);
    let mut client = ns.mptcpize(&["run", "--report", "node", "-e", NODE_ECHO]);
    client.args(["client", "7206", "300000"]);
    let out = run(client, T);
    out.assert_success();
    assert!(out.stdout.contains("got 300000"), "{out}");
    server.finish(T).assert_success();

    let conns = connection_lines(&report_lines(&out.stderr));
    assert_eq!(conns.len(), 1, "{out}");
    assert_connection(
        conns[0],
        "to 127.0.0.1:7206",
        "MPTCP negotiated, 1 subflow",
        ", 300000 bytes sent, 300000 bytes received",
        &out.stderr,
    );
    let text = std::fs::read_to_string(&report).unwrap();
    let lines = report_lines(&text);
    let conns = connection_lines(&lines);
    assert_eq!(conns.len(), 1, "{text}");
    assert_connection(
        conns[0],
        "from 127.0.0.1:",
        "MPTCP negotiated, 1 subflow",
        ", 300000 bytes sent, 300000 bytes received",
        &text,
    );
    assert!(!text.contains("without the C library"), "{text}");
}

/// A Go 1.21+ program goes the GODEBUG way, past the C library: the
/// launcher says up front that the report will not show its connections.
/// This machine's Go is older, so a Go program's build-info version is
/// rewritten to go1.21.x, which is all the launcher reads.
#[test]
fn the_godebug_path_says_up_front_what_the_report_cannot_show() {
    require_program!("go");
    let dir = ScratchDir::new();
    let go = Command::new("go")
        .args(["env", "GOVERSION"])
        .output()
        .unwrap();
    let version = String::from_utf8(go.stdout).unwrap().trim().to_string();
    let (major_minor, patch) = version.rsplit_once('.').unwrap();
    // go1.19.8 -> go1.21.8: the same length, so the build info stays whole.
    let newer = format!("go1.21.{patch}");
    assert!(
        major_minor < "go1.21" && newer.len() == version.len(),
        "{version}"
    );
    let mut exe = std::fs::read(go_program("gonet")).unwrap();
    let mut found = 0;
    for at in 0..exe.len() - version.len() {
        if exe[at..].starts_with(version.as_bytes()) {
            exe[at..at + newer.len()].copy_from_slice(newer.as_bytes());
            found += 1;
        }
    }
    assert!(found > 0, "no {version} in the program");
    let prog = dir.join("gonet-1.21");
    std::fs::write(&prog, exe).unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = mptcpize_tests::mptcpize(&["run", "--report"]);
    cmd.arg(&prog).args(["threads", "1", "1"]);
    let out = run(cmd, T);
    out.assert_success();
    assert!(
        out.stderr.contains(&format!(
            "--report follows sockets through the C library, and {} is a Go program built with go1.21",
            prog.display()
        )) && out.stderr.contains("its connections will not be reported")
            && out.stderr.contains("`mptcpize-rs top` shows"),
        "{out}"
    );
    assert!(report_lines(&out.stderr).is_empty(), "{out}");
}
