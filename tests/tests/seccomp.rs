//! Seccomp mode: statically linked programs (busybox, Go 1.19 built with
//! CGO_ENABLED=0) that LD_PRELOAD cannot reach, as clients and servers in
//! the testbed. Their connections must be MPTCP as the server's kernel
//! counts them, fall back to TCP where MPTCP is disabled, cover threads and
//! whole process trees, and the supervisor must pass signals and exit codes
//! through like the bare program.

use mptcpize_tests::gobuild::go_program;
use mptcpize_tests::proc::run;
use mptcpize_tests::{
    bin, launcher, mptcpize, require_program, require_root_mptcp, write_pattern, Child, Netns,
    ScratchDir, Testbed, MP_CAPABLE_SYN_RX,
};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// Starts `busybox httpd` serving `dir` under the launcher (auto mode) in
/// the server namespace, and waits until it listens.
fn httpd(bed: &Testbed, dir: &ScratchDir, port: u16) -> Child {
    let mut cmd = bed
        .server
        .mptcpize(&["run", "busybox", "httpd", "-f", "-p"]);
    cmd.arg(bed.server_addr(port)).arg("-h").arg(dir.path());
    let server = Child::spawn(cmd);
    let deadline = Instant::now() + T;
    while !bed.server.ss(&["-tln"]).contains(&format!(":{port}")) {
        assert!(Instant::now() < deadline, "busybox httpd is not listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// `busybox wget` under the launcher in the client namespace.
fn wget(bed: &Testbed, port: u16, out: &Path, extra: &[&str]) -> mptcpize_tests::Output {
    let url = format!("http://{}:{port}/blob", bed.server_ip());
    let mut cmd = bed.client.mptcpize(&["run"]);
    cmd.args(extra)
        .args(["busybox", "wget", "-q", "-O"])
        .arg(out)
        .arg(url);
    run(cmd, T)
}

#[test]
fn busybox_httpd_and_wget_move_a_file_over_mptcp() {
    require_root_mptcp!();
    require_program!("busybox");
    let bed = Testbed::new(2);
    let dir = ScratchDir::new();
    let data = write_pattern(&dir.join("blob"), 3_000_000);
    let _server = httpd(&bed, &dir, 8080);
    let listeners = bed.server.ss(&["-Mln"]);
    assert!(
        listeners.contains(":8080"),
        "busybox httpd's listener is not MPTCP:\n{listeners}"
    );

    let handshakes = bed.server.watch(MP_CAPABLE_SYN_RX);
    let out = wget(&bed, 8080, &dir.join("got"), &["-d"]);
    out.assert_success();
    assert!(
        out.stderr
            .contains("seccomp mode: /usr/bin/busybox is statically linked")
            || out
                .stderr
                .contains("seccomp mode: /bin/busybox is statically linked"),
        "auto mode did not choose seccomp for busybox:\n{out}"
    );
    assert!(out.stderr.contains(": MPTCP (seccomp)"), "{out}");
    assert!(
        std::fs::read(dir.join("got")).unwrap() == data,
        "the file arrived changed"
    );
    handshakes.assert_grew_by(1, "busybox wget's connection was not MPTCP");
}

/// `run --argv0 httpd busybox …` (systemd's `@` prefix, once
/// wrapped): busybox runs its httpd applet because argv[0] says so, auto
/// mode judges the static busybox and chooses seccomp, and the listener and
/// the connection to it are MPTCP.
#[test]
fn argv0_runs_a_busybox_applet_under_seccomp_mode() {
    require_root_mptcp!();
    require_program!("busybox");
    let bed = Testbed::new(1);
    let dir = ScratchDir::new();
    let data = write_pattern(&dir.join("blob"), 100_000);
    let mut cmd = bed.server.cmd(launcher());
    cmd.args(["run", "--argv0", "httpd", "busybox", "-f", "-p"])
        .arg(format!("{}:8081", bed.server_ip()))
        .arg("-h")
        .arg(dir.path());
    let _server = Child::spawn(cmd);
    let deadline = Instant::now() + T;
    while !bed.server.ss(&["-tln"]).contains(":8081") {
        assert!(
            Instant::now() < deadline,
            "busybox (as httpd) is not listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let listeners = bed.server.ss(&["-Mln"]);
    assert!(
        listeners.contains(":8081"),
        "not an MPTCP listener:\n{listeners}"
    );
    let syn_rx = bed.server.counter("MPTcpExtMPCapableSYNRX");
    wget(&bed, 8081, &dir.join("got"), &[]).assert_success();
    assert!(
        std::fs::read(dir.join("got")).unwrap() == data,
        "the file arrived changed"
    );
    assert_eq!(bed.server.counter("MPTcpExtMPCapableSYNRX"), syn_rx + 1);
}

#[test]
fn busybox_falls_back_to_tcp_without_mptcp_and_fails_with_no_fallback() {
    require_root_mptcp!();
    require_program!("busybox");
    let bed = Testbed::new(1);
    bed.client.set_mptcp(false);
    bed.server.set_mptcp(false);
    let dir = ScratchDir::new();
    let data = write_pattern(&dir.join("blob"), 200_000);
    let handshakes = bed.server.watch(MP_CAPABLE_SYN_RX);
    let _server = httpd(&bed, &dir, 8081);
    assert!(
        !bed.server.ss(&["-Mln"]).contains(":8081"),
        "an MPTCP listener with MPTCP disabled?"
    );

    let out = wget(&bed, 8081, &dir.join("got"), &[]);
    out.assert_success();
    assert!(
        std::fs::read(dir.join("got")).unwrap() == data,
        "the file arrived changed"
    );

    let out = wget(&bed, 8081, &dir.join("not"), &["--no-fallback"]);
    assert_ne!(
        out.code(),
        0,
        "wget succeeded without MPTCP and without fallback:\n{out}"
    );
    assert!(
        out.stderr.contains("Protocol not available"),
        "wget did not see ENOPROTOOPT:\n{out}"
    );
    handshakes.assert_grew_by(0, "an MPTCP handshake with MPTCP disabled");
}

#[test]
fn a_shell_script_starting_busybox_nc_is_covered_as_a_process_tree() {
    require_root_mptcp!();
    require_program!("busybox");
    let bed = Testbed::new(1);
    // nc's stdin stays open (busybox nc quits at EOF on stdin, maybe before
    // the client's bytes arrive).
    let server = bed.server.mptcpize(&[
        "run",
        "busybox",
        "sh",
        "-c",
        "busybox sleep 60 | busybox nc -l -p 7001",
    ]);
    let mut server = Child::spawn(server);
    let deadline = Instant::now() + T;
    while !bed.server.ss(&["-Mln"]).contains(":7001") {
        assert!(
            Instant::now() < deadline,
            "busybox nc has no MPTCP listener"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The script's shell is dynamically linked; the static client it starts
    // is reached only because the filter is inherited.
    let dir = ScratchDir::new();
    let script = dir.join("send.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'hello over mptcp\\n' | busybox nc \"$1\" 7001\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let handshakes = bed.server.watch(MP_CAPABLE_SYN_RX);
    let mut client = bed.client.mptcpize(&["run", "--mode", "seccomp"]);
    client.arg(&script).arg(bed.server_ip().to_string());
    run(client, T).assert_success();
    server.wait_for_line("hello over mptcp", T);
    handshakes.assert_grew_by(1, "the script's busybox nc did not connect over MPTCP");
}

/// The Go echo server under the launcher in the server namespace.
fn go_server(bed: &Testbed, addr: &str) -> (Child, String) {
    let mut cmd = bed.server.mptcpize(&["run", "-d"]);
    cmd.arg(go_program("gonet")).args(["server", addr]);
    let mut server = Child::spawn(cmd);
    let line = server.wait_for_line("listening on", T);
    (server, line)
}

fn go_client(bed: &Testbed, addr: &str, bytes: &str) -> mptcpize_tests::Output {
    let mut cmd = bed.client.mptcpize(&["run", "-d"]);
    cmd.arg(go_program("gonet")).args(["client", addr, bytes]);
    run(cmd, T)
}

#[test]
fn static_go_server_and_client_negotiate_mptcp() {
    require_root_mptcp!();
    require_program!("go");
    let bed = Testbed::new(2);
    let addr = bed.server_addr(7100);
    let (mut server, listening) = go_server(&bed, &addr);
    assert!(listening.contains("socket: MPTCP"), "{listening}");

    let handshakes = bed.server.watch(MP_CAPABLE_SYN_RX);
    let out = go_client(&bed, &addr, "4000000");
    out.assert_success();
    assert!(
        out.stderr.contains("seccomp mode:") && out.stderr.contains("go1.19"),
        "auto mode did not choose seccomp for a Go 1.19 program:\n{out}"
    );
    assert!(out.stdout.contains("socket: MPTCP"), "{out}");
    assert!(
        out.stdout
            .contains("echoed 4000000 of 4000000 bytes intact"),
        "{out}"
    );
    handshakes.assert_grew_by(1, "the server saw no MP_CAPABLE SYN");
    let accepted = server.wait_for_line("accepted", T);
    assert!(accepted.contains("socket: MPTCP"), "{accepted}");
}

#[test]
fn static_go_falls_back_to_tcp_without_mptcp() {
    require_root_mptcp!();
    require_program!("go");
    let bed = Testbed::new(1);
    bed.client.set_mptcp(false);
    bed.server.set_mptcp(false);
    let addr = bed.server_addr(7101);
    let (_server, listening) = go_server(&bed, &addr);
    assert!(listening.contains("socket: TCP"), "{listening}");
    let out = go_client(&bed, &addr, "500000");
    out.assert_success();
    assert!(out.stdout.contains("socket: TCP"), "{out}");
    assert!(
        out.stdout.contains("echoed 500000 of 500000 bytes intact"),
        "{out}"
    );
    assert!(
        out.stderr.contains("MPTCP unavailable (ENOPROTOOPT)"),
        "the supervisor did not log the fallback:\n{out}"
    );
}

#[test]
fn sockets_opened_by_many_threads_at_once_all_become_mptcp() {
    require_root_mptcp!();
    require_program!("go");
    // 32 goroutines, each locked to its own OS thread, of a static Go program.
    let out = run(
        mptcpize(&[
            "run",
            go_program("gonet").to_str().unwrap(),
            "threads",
            "32",
            "100",
        ]),
        T,
    );
    out.assert_success();
    assert!(
        out.stdout
            .contains("threads=32 sockets=3200 mptcp=3200 tcp=0 errors=0"),
        "{out}"
    );
    // 16 threads of a Rust program through libc's socket(), forced to seccomp.
    let out = run(
        mptcpize(&[
            "run",
            "--mode",
            "seccomp",
            bin("socket-threads").to_str().unwrap(),
            "16",
            "250",
        ]),
        T,
    );
    out.assert_success();
    assert!(
        out.stdout
            .contains("threads=16 sockets=4000 mptcp=4000 tcp=0 errors=0"),
        "{out}"
    );
}

#[test]
fn seccomp_mode_makes_the_same_sockets_as_the_preload_shim() {
    require_root_mptcp!();
    // Every family × type × flags × protocol, with SOCK_NONBLOCK and
    // SOCK_CLOEXEC read back from the fd.
    let matrix = bin("sockmatrix");
    let preload = run(
        mptcpize(&["run", "--mode", "preload", matrix.to_str().unwrap()]),
        T,
    );
    let seccomp = run(
        mptcpize(&["run", "--mode", "seccomp", matrix.to_str().unwrap()]),
        T,
    );
    preload.assert_success();
    seccomp.assert_success();
    assert!(
        seccomp.stdout.contains(
            "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC 0 -> protocol 262 nonblock=1 cloexec=1"
        ),
        "{seccomp}"
    );
    assert_eq!(preload.stdout, seccomp.stdout);
}

#[test]
fn auto_mode_reads_the_elf_and_follows_scripts() {
    require_program!("busybox");
    let dir = ScratchDir::new();
    let script = dir.join("bb.sh");
    std::fs::write(&script, "#!/bin/busybox sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cases = [
        (
            vec!["busybox", "true"],
            "seccomp mode:",
            "statically linked",
        ),
        (vec!["true"], "preload mode:", "dynamically linked"),
        (
            vec![script.to_str().unwrap()],
            "seccomp mode:",
            "run by /bin/busybox",
        ),
    ];
    for (argv, mode, why) in cases {
        let mut args = vec!["run", "-d"];
        args.extend(&argv);
        let out = run(mptcpize(&args), T);
        out.assert_success();
        assert!(
            out.stderr.contains(mode) && out.stderr.contains(why),
            "{argv:?}: expected {mode:?} … {why:?}:\n{out}"
        );
    }
    // Forcing the preload onto a static program runs it, with a warning.
    let out = run(
        mptcpize(&["run", "--mode", "preload", "busybox", "true"]),
        T,
    );
    out.assert_success();
    assert!(
        out.stderr.starts_with("mptcpize-rs: warning: ")
            && out
                .stderr
                .contains("is statically linked: LD_PRELOAD cannot reach it"),
        "{out}"
    );
}

/// Runs `busybox sh -c SCRIPT` under the launcher in seccomp mode.
fn supervised_shell(script: &str) -> Child {
    Child::spawn(mptcpize(&[
        "run", "--mode", "seccomp", "busybox", "sh", "-c", script,
    ]))
}

#[test]
fn sigterm_to_the_launcher_reaches_the_child() {
    require_program!("busybox");
    let mut child = supervised_shell(
        "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do busybox sleep 0.1; done",
    );
    child.wait_for_line("ready", T);
    child.signal(libc::SIGTERM);
    let out = child.finish(T);
    assert!(out.stdout.contains("got TERM"), "{out}");
    assert_eq!(out.code(), 42, "{out}");
}

#[test]
fn a_child_killed_by_sigkill_makes_the_launcher_exit_137() {
    require_program!("busybox");
    let mut child = supervised_shell("echo ready $$; exec busybox sleep 30");
    let line = child.wait_for_line("ready", T);
    let pid: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: kill() on the pid the child printed, our grandchild.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let out = child.finish(T);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{out}");
    assert_eq!(out.code(), 137);
}

#[test]
fn exit_codes_pass_through_the_supervisor() {
    require_program!("busybox");
    let out = supervised_shell("exit 3").finish(T);
    assert_eq!(out.code(), 3, "{out}");
    let out = run(
        mptcpize(&["run", "--mode", "seccomp", "no-such-program-mz"]),
        T,
    );
    assert_eq!(out.code(), 127, "{out}");
    assert_eq!(
        out.stderr.trim(),
        "mptcpize-rs: no-such-program-mz: command not found"
    );
    let dir = ScratchDir::new();
    let script = dir.join("bad");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(
        mptcpize(&["run", "--mode", "seccomp", script.to_str().unwrap()]),
        T,
    );
    assert_eq!(out.code(), 127, "{out}");
    assert_eq!(
        out.stderr.trim(),
        format!(
            "mptcpize-rs: {}: bad interpreter /no/such/interpreter: no such file",
            script.display()
        )
    );
}

/// Under seccomp mode PROG takes the launcher's place, as under preload: its
/// pid is the one the caller knows, so every signal, stop and continue
/// reaches PROG itself.
#[test]
fn every_signal_and_stop_and_continue_act_on_the_program() {
    require_program!("busybox");
    let mut child = supervised_shell(
        "trap 'echo got ALRM' ALRM; trap 'echo got USR1' USR1; echo ready $$; \
         while :; do echo tick; busybox sleep 0.05; done",
    );
    let line = child.wait_for_line("ready", T);
    let pid: u32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(pid, child.pid(), "PROG has the launcher's pid");
    // Before: SIGALRM killed the launcher, and PROG with it.
    child.signal(libc::SIGALRM);
    child.wait_for_line("got ALRM", T);
    child.signal(libc::SIGUSR1);
    child.wait_for_line("got USR1", T);
    let ticks = |c: &Child| c.output_so_far().0.matches("tick").count();
    // Before: SIGSTOP stopped the launcher alone, and PROG ran on.
    child.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(300));
    let stopped_at = ticks(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ticks(&child), stopped_at, "PROG ran on while stopped");
    child.signal(libc::SIGCONT);
    let deadline = Instant::now() + T;
    while ticks(&child) == stopped_at {
        assert!(Instant::now() < deadline, "PROG never continued");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.signal(libc::SIGTERM);
    let out = child.finish(T);
    assert_eq!(out.code(), 128 + libc::SIGTERM, "{out}");
}

#[test]
fn killing_the_launcher_kills_the_child() {
    require_program!("busybox");
    let mut child = supervised_shell("echo ready $$; exec busybox sleep 30");
    let line = child.wait_for_line("ready", T);
    let pid: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SIGKILL to the launcher alone (not its process group).
    child.signal(libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the child outlived its supervisor"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn a_nested_run_is_covered_by_the_outer_supervisor() {
    require_root_mptcp!();
    let threads = bin("socket-threads");
    let inner = launcher();
    let out = run(
        mptcpize(&[
            "run",
            "--mode",
            "seccomp",
            inner.to_str().unwrap(),
            "run",
            "--mode",
            "seccomp",
            threads.to_str().unwrap(),
            "2",
            "10",
        ]),
        T,
    );
    out.assert_success();
    assert!(out.stdout.contains("mptcp=20 tcp=0 errors=0"), "{out}");

    // Without the variable that says so (env -i, env -u), the kernel
    // refuses a second listener: one clear line, exit 125, naming our own
    // supervisor rather than blaming "a container runtime".
    let out = run(
        mptcpize(&[
            "run",
            "--mode",
            "seccomp",
            "env",
            "-u",
            "MPTCPIZE_SUPERVISOR",
            inner.to_str().unwrap(),
            "run",
            "--mode",
            "seccomp",
            threads.to_str().unwrap(),
            "1",
            "1",
        ]),
        T,
    );
    assert_eq!(out.code(), 125, "{out}");
    assert!(
        out.stderr
            .starts_with("mptcpize-rs: this process is already under a seccomp supervisor, and mptcpize-rs's own is running (mptcpize-notify, pid ")
            && !out.stderr.contains("container runtime"),
        "{out}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
}

#[test]
fn a_setuid_target_is_refused_with_one_line() {
    require_root_mptcp!();
    let dir = ScratchDir::new();
    let prog = dir.join("setuid-true");
    std::fs::copy("/bin/true", &prog).unwrap();
    // Owned by nobody, set-user-ID: exec would change our euid.
    std::os::unix::fs::chown(&prog, Some(65534), None).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o4755)).unwrap();
    for mode in ["preload", "auto", "seccomp"] {
        let out = run(
            mptcpize(&["run", "--mode", mode, prog.to_str().unwrap()]),
            T,
        );
        assert_eq!(out.code(), 125, "--mode {mode}:\n{out}");
        assert_eq!(out.stderr.lines().count(), 1, "--mode {mode}:\n{out}");
        let want = if mode == "seccomp" {
            "no_new_privs"
        } else {
            "secure-execution mode"
        };
        assert!(
            out.stderr.contains("set-user-ID (to uid 65534)") && out.stderr.contains(want),
            "--mode {mode}:\n{out}"
        );
    }
}

#[test]
fn a_descendant_left_running_keeps_getting_mptcp_after_the_launcher_exits() {
    require_root_mptcp!();
    require_program!("go");
    require_program!("busybox");
    let bed = Testbed::new(1);
    let addr = bed.server_addr(7102);
    let (_server, _) = go_server(&bed, &addr);
    let dir = ScratchDir::new();
    let log = dir.join("client.log");
    // The shell starts the client in the background and exits at once; the
    // client makes its socket a second later, when the launcher is gone.
    let script = format!(
        "(busybox sleep 1; exec {} client {addr} 100000) > {} 2>&1 &",
        go_program("gonet").display(),
        log.display()
    );
    let cmd = bed
        .client
        .mptcpize(&["run", "--mode", "seccomp", "busybox", "sh", "-c", &script]);
    let out = run(cmd, T);
    out.assert_success();
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("connected"),
        "the client ran before the launcher exited"
    );
    let deadline = Instant::now() + T;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("echoed") || Instant::now() > deadline {
            assert!(text.contains("socket: MPTCP"), "{text}");
            assert!(
                text.contains("echoed 100000 of 100000 bytes intact"),
                "{text}"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_descendant_in_another_network_namespace_gets_its_socket_there() {
    require_root_mptcp!();
    require_program!("busybox");
    let bed = Testbed::new(1);
    let dir = ScratchDir::new();
    let data = write_pattern(&dir.join("blob"), 100_000);
    let _server = httpd(&bed, &dir, 8082);
    // The launcher runs in this namespace, which has no route to the
    // server; `ip netns exec` moves its child into the client namespace. A
    // socket made in the supervisor's namespace could not connect.
    let handshakes = bed.server.watch(MP_CAPABLE_SYN_RX);
    let out = run(
        mptcpize(&[
            "run",
            "-d",
            "--mode",
            "seccomp",
            "ip",
            "netns",
            "exec",
            &bed.client.name,
            "busybox",
            "wget",
            "-q",
            "-O",
            dir.join("got").to_str().unwrap(),
            &format!("http://{}:8082/blob", bed.server_ip()),
        ]),
        T,
    );
    out.assert_success();
    assert!(
        std::fs::read(dir.join("got")).unwrap() == data,
        "the file arrived changed"
    );
    assert!(out.stderr.contains(": MPTCP (seccomp)"), "{out}");
    handshakes.assert_grew_by(1, "the connection from the other namespace was not MPTCP");
}

/// Counts the SIGINTs it receives while it sleeps about two seconds, then
/// prints `INT <count>`.
const COUNT_SIGINT_C: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile sig_atomic_t n;
static void on_int(int s) { (void)s; n++; }
int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, 0);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 20; i++) usleep(100000);
    printf("INT %d\n", (int)n);
    return 0;
}
"#;

#[test]
fn on_a_terminal_ctrl_c_arrives_once_and_ctrl_z_stops_the_whole_job() {
    require_program!("gcc");
    require_program!("bash");
    let dir = ScratchDir::new();
    std::fs::write(dir.join("count.c"), COUNT_SIGINT_C).unwrap();
    let prog = dir.join("count-sigint");
    let mut cc = Command::new("gcc");
    cc.arg("-o").arg(&prog).arg(dir.join("count.c"));
    run(cc, T).assert_success();

    // An interactive bash on a pseudo-terminal runs the launcher as a job,
    // with job control, as a user's shell does.
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two ints; the other arguments may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    use std::os::fd::FromRawFd;
    use std::os::unix::process::CommandExt;
    // SAFETY: openpty returned two fresh fds that we now own.
    let (master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    };
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-i"])
        .env("PS1", "$ ")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut shell = cmd.spawn().unwrap();
    drop(cmd);
    // If anything below fails: killing the session leader hangs the
    // terminal up, which ends the job.
    struct KillOnDrop(i32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            // SAFETY: kill() on our own child.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
    let _cleanup = KillOnDrop(shell.id() as i32);

    let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let screen = std::sync::Arc::clone(&screen);
        let mut master = master.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 256];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let wait_for = |what: &str| {
        let deadline = Instant::now() + T;
        while !screen.lock().unwrap().contains(what) {
            assert!(
                Instant::now() < deadline,
                "no {what:?} on the terminal:\n{}",
                screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    use std::io::Write;
    let mut keys = &master;
    let line = format!(
        "{} run --mode seccomp {}\n",
        launcher().display(),
        prog.display()
    );
    keys.write_all(line.as_bytes()).unwrap();
    wait_for("ready");
    keys.write_all(b"\x03").unwrap(); // Ctrl-C
    std::thread::sleep(Duration::from_millis(200));
    keys.write_all(b"\x1a").unwrap(); // Ctrl-Z
    wait_for("Stopped");
    // The job's exit status, as `fg` returns it.
    keys.write_all(b"fg; echo \"fg=$?\"\n").unwrap();
    wait_for("fg=");
    keys.write_all(b"exit\n").unwrap();
    let deadline = Instant::now() + T;
    while shell.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bash did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(master);
    let _ = reader.join();
    let screen = screen.lock().unwrap().clone();
    assert!(screen.contains("fg=0"), "{screen}");
    assert!(
        screen.contains("INT 1\r\n"),
        "Ctrl-C should reach the program exactly once:\n{screen}"
    );
}

/// `threads PER`: 16 threads open PER TCP sockets each (AF_INET and
/// AF_INET6), keep them open, and the program prints how many were MPTCP.
const THREADS_C: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#define THREADS 16
static int per;
static int counts[THREADS][2];
static void *opener(void *arg) {
    long t = (long)arg;
    int *fds = calloc(per, sizeof(int));
    for (int i = 0; i < per; i++) {
        fds[i] = socket(t % 2 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
        int p = -1;
        socklen_t len = sizeof p;
        getsockopt(fds[i], SOL_SOCKET, SO_PROTOCOL, &p, &len);
        counts[t][p == 262 ? 0 : 1]++;
    }
    for (int i = 0; i < per; i++) close(fds[i]);
    free(fds);
    return 0;
}
int main(int argc, char **argv) {
    per = argc > 1 ? atoi(argv[1]) : 100;
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++) pthread_create(&th[t], 0, opener, (void *)t);
    int mptcp = 0, other = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], 0);
        mptcp += counts[t][0];
        other += counts[t][1];
    }
    printf("mptcp=%d other=%d\n", mptcp, other);
    return 0;
}
"#;

#[test]
fn a_static_c_program_with_many_threads_gets_mptcp_in_auto_mode() {
    require_root_mptcp!();
    require_program!("gcc");
    let dir = ScratchDir::new();
    std::fs::write(dir.join("threads.c"), THREADS_C).unwrap();
    let prog = dir.join("threads-static");
    let mut cc = Command::new("gcc");
    cc.args(["-static", "-pthread", "-O2", "-o"])
        .arg(&prog)
        .arg(dir.join("threads.c"));
    run(cc, T).assert_success();
    let out = run(mptcpize(&["run", "-d", prog.to_str().unwrap(), "200"]), T);
    out.assert_success();
    assert!(
        out.stderr.contains("seccomp mode:") && out.stderr.contains("statically linked"),
        "{out}"
    );
    assert!(out.stdout.contains("mptcp=3200 other=0"), "{out}");
}

/// A static program that is its own server and clients: it listens on
/// 127.0.0.1, forks a child that connects CHILDREN times and exits (or
/// kills itself with SIGKILL when the third argument is `kill`), then
/// connects PARENTS times itself; each connection prints its pid and the
/// protocol of its socket (262: MPTCP).
const FORKCONN_C: &str = r#"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int protocol(int fd) {
    int p = 0;
    socklen_t len = sizeof p;
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &p, &len);
    return p;
}

static void connect_to(int port, const char *who) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        printf("%s socket: %s\n", who, strerror(errno));
        exit(1);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        printf("%s connect: %s\n", who, strerror(errno));
        exit(2);
    }
    printf("%s %d connected, protocol %d\n", who, getpid(), protocol(fd));
    fflush(stdout);
    close(fd);
}

int main(int argc, char **argv) {
    int children = atoi(argv[1]), parents = atoi(argv[2]);
    int killed = argc > 3 && strcmp(argv[3], "kill") == 0;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) {
        printf("listener socket: %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64) ||
        getsockname(l, (struct sockaddr *)&a, &len)) {
        printf("listen: %s\n", strerror(errno));
        return 1;
    }
    int port = ntohs(a.sin_port);
    printf("parent %d listening, protocol %d\n", getpid(), protocol(l));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < children; i++) connect_to(port, "child");
        if (killed) kill(getpid(), SIGKILL);
        exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    for (int i = 0; i < parents; i++) connect_to(port, "parent");
    return 0;
}
"#;

/// `forkconn` built static in `dir`.
fn forkconn(dir: &ScratchDir) -> String {
    std::fs::write(dir.join("forkconn.c"), FORKCONN_C).unwrap();
    let prog = dir.join("forkconn");
    let mut cc = Command::new("gcc");
    cc.args(["-static", "-O2", "-o"])
        .arg(&prog)
        .arg(dir.join("forkconn.c"));
    run(cc, T).assert_success();
    prog.to_str().unwrap().to_string()
}

/// The report tests' preconditions (root with MPTCP, gcc) and setup:
/// `forkconn` built in a scratch directory, and a fresh namespace.
macro_rules! forkconn_in_a_namespace {
    () => {{
        require_root_mptcp!();
        require_program!("gcc");
        let dir = ScratchDir::new();
        let prog = forkconn(&dir);
        (dir, prog, Netns::new())
    }};
}

/// The pids `forkconn` printed for its parent and its child, and the
/// protocols of the sockets each printed.
fn forkconn_pids(stdout: &str) -> (u32, u32, Vec<String>) {
    let pid_of = |who: &str| -> u32 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(who)?.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {who:?} line in:\n{stdout}"))
    };
    let protocols = stdout
        .lines()
        .filter_map(|l| l.rsplit_once("protocol ").map(|(_, p)| p.to_string()))
        .collect();
    (pid_of("parent "), pid_of("child "), protocols)
}

/// The report line of `pid` in `text` (exactly one).
fn report_line_of(text: &str, pid: u32) -> &str {
    let prefix = format!("mptcpize[{pid}] report: ");
    let lines: Vec<_> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "not one report line for {pid} in:\n{text}");
    lines[0]
}

/// `run --report` on a static program (seccomp mode): one line per
/// process, the forked child under its own pid, with the sockets each made
/// MPTCP, the connections really MPTCP as the kernel counts them; the
/// up-front line says what is reported and points to `top`.
#[test]
fn seccomp_mode_reports_each_processs_sockets() {
    let (_dir, prog, ns) = forkconn_in_a_namespace!();
    let handshakes = ns.watch(MP_CAPABLE_SYN_RX);
    let out = run(ns.mptcpize(&["run", "--report", &prog, "2", "3"]), T);
    out.assert_success();
    let (parent, child, protocols) = forkconn_pids(&out.stdout);
    assert_ne!(parent, child);
    assert_eq!(protocols, ["262"; 6], "{out}");
    handshakes.assert_grew_by(5, "forkconn's 5 connections were not all MPTCP");
    assert!(
        out.stderr
            .contains("seccomp mode: the report counts, for each process")
            && out.stderr.contains("mptcpize-rs top"),
        "no up-front line about what seccomp mode reports:\n{out}"
    );
    // The listener and 3 connections; the child's 2 connections.
    assert_eq!(
        report_line_of(&out.stderr, parent),
        format!("mptcpize[{parent}] report: exit: 4 sockets made MPTCP, 0 fell back to TCP")
    );
    assert_eq!(
        report_line_of(&out.stderr, child),
        format!("mptcpize[{child}] report: exit: 2 sockets made MPTCP, 0 fell back to TCP")
    );
    // Without --report, nothing of it.
    let out = run(ns.mptcpize(&["run", &prog, "1", "1"]), T);
    out.assert_success();
    assert!(!out.stderr.contains("report"), "{out}");
}

/// MPTCP disabled in the namespace: the sockets fell back, with the reason
/// in the library's words; with --no-fallback the failed call is counted
/// and PROG's exit status is its own.
#[test]
fn seccomp_mode_reports_fallback_and_failure_with_the_reason() {
    let (_dir, prog, ns) = forkconn_in_a_namespace!();
    ns.set_mptcp(false);
    let out = run(ns.mptcpize(&["run", "--report", &prog, "2", "1"]), T);
    out.assert_success();
    let (parent, child, protocols) = forkconn_pids(&out.stdout);
    assert_eq!(protocols, ["6"; 4], "{out}");
    let why = "(MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0)";
    assert_eq!(
        report_line_of(&out.stderr, parent),
        format!("mptcpize[{parent}] report: exit: 0 sockets made MPTCP, 2 fell back to TCP {why}")
    );
    assert_eq!(
        report_line_of(&out.stderr, child),
        format!("mptcpize[{child}] report: exit: 0 sockets made MPTCP, 2 fell back to TCP {why}")
    );

    let out = run(
        ns.mptcpize(&["run", "--report", "--no-fallback", &prog, "2", "1"]),
        T,
    );
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("listener socket: Protocol not available"),
        "{out}"
    );
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("] report: "))
        .unwrap_or_else(|| panic!("no report line:\n{out}"));
    assert!(
        line.ends_with(&format!(
            "report: exit: 0 sockets made MPTCP, 0 fell back to TCP {why}, 1 failed (no fallback)"
        )),
        "{out}"
    );
}

/// `--report=FILE`: the lines are in the file when `run` returns (each
/// process's line is written at its exit_group()), appended to what was
/// there; a child killed by a signal is reported when the tree ends; a
/// report file that cannot be written to stops nothing.
#[test]
fn seccomp_mode_appends_the_report_to_a_file() {
    let (dir, prog, ns) = forkconn_in_a_namespace!();
    let file = dir.join("report.txt");
    std::fs::write(&file, "earlier line\n").unwrap();
    let to = format!("--report={}", file.display());
    let mut cmd = ns.cmd(launcher());
    cmd.args(["run", &to, &prog, "1", "2"])
        .stdout(std::process::Stdio::null());
    let status = cmd.status().unwrap();
    assert!(status.success());
    // Read at once: no waiting for the supervisor.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("earlier line\n"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .ends_with("report: exit: 1 socket made MPTCP, 0 fell back to TCP"),
        "the child's line comes first:\n{text}"
    );
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .ends_with("report: exit: 3 sockets made MPTCP, 0 fell back to TCP"),
        "{text}"
    );

    // A child killed by SIGKILL never calls exit_group(): its line comes
    // when the tree has ended, written by the supervisor as it leaves
    // (shortly after run returns: waited for here).
    std::fs::write(&file, "").unwrap();
    let out = run(ns.mptcpize(&["run", &to, &prog, "2", "1", "kill"]), T);
    out.assert_success();
    let (parent, child, _) = forkconn_pids(&out.stdout);
    let deadline = Instant::now() + T;
    let text = loop {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.lines().count() >= 2 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        report_line_of(&text, child),
        format!("mptcpize[{child}] report: exit: 2 sockets made MPTCP, 0 fell back to TCP")
    );
    assert!(report_line_of(&text, parent).ends_with("2 sockets made MPTCP, 0 fell back to TCP"));
    assert!(!out.stderr.contains("] report: "), "{out}");

    // A FIFO already full (its reader reads nothing): each write fails
    // with EAGAIN, the lines are lost, and the program neither waits nor
    // changes its exit status.
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let open = |write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap()
    };
    let _reader = open(false);
    let mut writer = open(true);
    let mut filled = 0;
    while let Ok(n) = std::io::Write::write(&mut writer, &[b'x'; 4096]) {
        filled += n;
    }
    assert!(filled > 0);
    let out = run(
        ns.mptcpize(&[
            "run",
            &format!("--report={}", fifo.display()),
            &prog,
            "1",
            "1",
        ]),
        T,
    );
    out.assert_success();
    assert_eq!(forkconn_pids(&out.stdout).2, ["262"; 3], "{out}");
}

/// `--report-format json` (and `MPTCPIZE_REPORT_FORMAT=json`): one
/// `process` object per process, in the schema's key order, with
/// `"mode":"seccomp"`, the counts, and null for what the supervisor cannot
/// see (connections, options, closes).
#[test]
fn seccomp_mode_reports_json_process_objects() {
    let (dir, prog, ns) = forkconn_in_a_namespace!();
    let file = dir.join("report.jsonl");
    let to = format!("--report={}", file.display());
    let out = run(
        ns.mptcpize(&["run", &to, "--report-format", "json", &prog, "2", "1"]),
        T,
    );
    out.assert_success();
    let (parent, child, _) = forkconn_pids(&out.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|l| {
            assert!(l.starts_with(r#"{"kind":"process","pid":"#), "{l}");
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .collect();
    assert_eq!(objects.len(), 2, "{text}");
    let of = |pid: u32| {
        objects
            .iter()
            .find(|o| o["pid"] == pid)
            .unwrap_or_else(|| panic!("no object for {pid}:\n{text}"))
    };
    for (pid, mptcp) in [(parent, 2), (child, 2)] {
        let o = of(pid);
        assert_eq!(o["comm"], "forkconn", "{o}");
        assert_eq!(o["mode"], "seccomp", "{o}");
        assert_eq!(o["sockets_mptcp"], mptcp, "{o}");
        assert_eq!(o["sockets_fallback"], 0, "{o}");
        assert_eq!(o["sockets_failed"], 0, "{o}");
        assert!(o["fallback_reason"].is_null(), "{o}");
        for unseen in [
            "sockets_made_tcp",
            "connections_mptcp",
            "connections_fallback",
            "connections_tcp",
            "max_subflows",
            "closed_unseen",
            "handed_over",
            "never_seen",
        ] {
            assert!(o[unseen].is_null(), "{unseen}: {o}");
        }
    }

    // The variable, MPTCP disabled, on stderr.
    ns.set_mptcp(false);
    let mut cmd = ns.mptcpize(&["run", "--report", &prog, "0", "1"]);
    cmd.env("MPTCPIZE_REPORT_FORMAT", "json");
    let out = run(cmd, T);
    out.assert_success();
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line:\n{out}"));
    let o: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(o["sockets_mptcp"], 0, "{o}");
    assert_eq!(o["sockets_fallback"], 2, "{o}");
    assert_eq!(
        o["fallback_reason"],
        "MPTCP unavailable: ENOPROTOOPT, net.mptcp.enabled=0"
    );
}
