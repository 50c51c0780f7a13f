//! The preload library on its own (`LD_PRELOAD=libmptcpize.so prog`): which
//! sockets it converts, that it keeps flags and leaves everything else alone,
//! that it composes with other preloaded libraries in either order, that it
//! works from another library's constructor, and under many threads.

use mptcpize_tests::artifacts::built;
use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, mptcpize, require_program, require_root_mptcp, shim, ScratchDir};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn sockmatrix(preload: Option<&str>) -> Vec<String> {
    let mut cmd = Command::new(bin("sockmatrix"));
    cmd.env_remove("LD_PRELOAD");
    if let Some(p) = preload {
        cmd.env("LD_PRELOAD", p);
    }
    let out = run(cmd, T);
    out.assert_success();
    out.stdout.lines().map(str::to_string).collect()
}

/// Every family × type × flags × protocol: TCP streams of AF_INET and AF_INET6
/// become protocol 262 with their flags kept; every other line is exactly
/// what the kernel gives without the shim.
#[test]
fn socket_matrix_converts_exactly_tcp_streams() {
    let plain = sockmatrix(None);
    let shimmed = sockmatrix(Some(shim().to_str().unwrap()));
    assert_eq!(plain.len(), shimmed.len());
    assert_eq!(plain.len(), 5 * 4 * 4 * 5, "the matrix is incomplete");
    let mut converted = 0;
    for (p, s) in plain.iter().zip(&shimmed) {
        let (call, before) = p.split_once(" -> ").unwrap();
        let (call2, after) = s.split_once(" -> ").unwrap();
        assert_eq!(call, call2);
        let mut words = call.split(' ');
        let (family, ty, proto) = (
            words.next().unwrap(),
            words.next().unwrap(),
            words.next().unwrap(),
        );
        let tcp = (family == "AF_INET" || family == "AF_INET6")
            && (ty == "SOCK_STREAM" || ty.starts_with("SOCK_STREAM|"))
            && (proto == "0" || proto == "6");
        if tcp {
            converted += 1;
            let flags = before.split_once(' ').unwrap().1.split_once(' ').unwrap().1;
            assert!(before.starts_with("protocol 6 "), "{p}");
            assert_eq!(
                after,
                format!("protocol 262 {flags}"),
                "{call}: flags must be kept"
            );
        } else {
            assert_eq!(before, after, "{call} must pass through untouched");
        }
    }
    assert_eq!(converted, 2 * 4 * 2);
}

#[test]
fn sockets_from_many_threads_are_all_mptcp() {
    let mut cmd = Command::new(bin("socket-threads"));
    cmd.args(["32", "200"]).env("LD_PRELOAD", shim());
    let out = run(cmd, T);
    out.assert_success();
    assert!(
        out.stdout
            .contains("sockets=6400 mptcp=6400 tcp=0 errors=0"),
        "{out}"
    );
}

#[test]
fn debug_log_has_one_line_per_converted_socket() {
    for var in ["MPTCPIZE_DEBUG", "MPTCPWRAP_DEBUG"] {
        let mut cmd = Command::new(bin("socket-threads"));
        cmd.args(["4", "5"]).env("LD_PRELOAD", shim()).env(var, "1");
        let out = run(cmd, T);
        out.assert_success();
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("mptcpize["))
            .collect();
        assert_eq!(lines.len(), 20, "{var}: {out}");
        let pid = out.stderr.split(['[', ']']).nth(1).unwrap();
        for l in &lines {
            assert!(
                l.starts_with(&format!("mptcpize[{pid}]: socket(AF_INET")),
                "{l}"
            );
            assert!(
                l.contains("SOCK_STREAM|SOCK_CLOEXEC, 0) = ") && l.ends_with(": MPTCP"),
                "{l}"
            );
        }
    }
    let mut quiet = Command::new(bin("socket-threads"));
    quiet
        .args(["1", "3"])
        .env("LD_PRELOAD", shim())
        .env("MPTCPIZE_DEBUG", "0");
    assert_eq!(run(quiet, T).stderr, "", "MPTCPIZE_DEBUG=0 must be quiet");
}

/// The marker library, compiled once per test process.
fn marker() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let out = built().join("libmarker-test.so");
        let src = mptcpize_tests::artifacts::workspace().join("tests/fixtures/marker.c");
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&out)
            .arg(src)
            .status()
            .expect("run cc");
        assert!(status.success(), "cc failed on tests/fixtures/marker.c");
        out
    })
    .clone()
}

/// One TCP socket from `socket-threads` (a program that starts no others),
/// with `preload` and `extra` in its environment.
fn one_socket(preload: String, extra: &[(&str, &str)]) -> mptcpize_tests::Output {
    let mut cmd = Command::new(bin("socket-threads"));
    cmd.args(["1", "1"]).env("LD_PRELOAD", preload);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = run(cmd, T);
    out.assert_success();
    out
}

/// Both libraries see the call, and the socket is MPTCP, whichever is first.
#[test]
fn composes_with_another_preloaded_library_in_both_orders() {
    require_program!("cc");
    let (ours, theirs) = (shim().display().to_string(), marker().display().to_string());
    // Marker first: it sees the program's TCP request, then ours converts it.
    let out = one_socket(format!("{theirs}:{ours}"), &[]);
    assert!(out.stdout.contains("mptcp=1 tcp=0"), "{out}");
    assert!(out.stderr.contains("marker: socket(2, 524289, 0)"), "{out}");
    // Ours first: we call the marker's socket() (the next in the chain, not a
    // raw syscall), so it sees the MPTCP request.
    let out = one_socket(format!("{ours} {theirs}"), &[]);
    assert!(out.stdout.contains("mptcp=1 tcp=0"), "{out}");
    assert!(
        out.stderr.contains("marker: socket(2, 524289, 262)"),
        "{out}"
    );
    // The same for setsockopt(): one SO_KEEPALIVE on one converted socket
    // reaches the marker's, after ours or before.
    for (preload, seen) in [
        (format!("{ours}:{theirs}"), "marker: socket(2, 1, 262)"),
        (format!("{theirs}:{ours}"), "marker: socket(2, 1, 0)"),
    ] {
        let mut cmd = Command::new(bin("socket-loop"));
        cmd.args(["1", "tcp", "1"]).env("LD_PRELOAD", &preload);
        let out = run(cmd, T);
        out.assert_success();
        assert!(out.stderr.contains(seen), "{preload}: {out}");
        assert_eq!(
            out.stderr.matches("marker: setsockopt(1, 9)").count(),
            1,
            "{preload}: {out}"
        );
    }
}

/// Another library's constructor calls socket(): in one order this runs
/// before the shim's constructor, which must not matter.
#[test]
fn works_from_another_librarys_constructor() {
    require_program!("cc");
    let (ours, theirs) = (shim().display().to_string(), marker().display().to_string());
    for preload in [format!("{theirs}:{ours}"), format!("{ours}:{theirs}")] {
        let out = one_socket(
            preload.clone(),
            &[("MARKER_CTOR_SOCKET", "1"), ("MPTCPIZE_DEBUG", "1")],
        );
        // The option set from that constructor went through the shim's
        // setsockopt() (before its constructor, in one order) to the kernel.
        assert!(
            out.stderr.contains("marker-ctor: protocol 262 keepalive 1"),
            "{preload}: {out}"
        );
        // The configuration was read for that early call, too: it is logged.
        let logged = out.stderr.lines().filter(|l| l.contains(": MPTCP")).count();
        assert_eq!(logged, 2, "{preload}: {out}");
    }
}

fn tool_output(program: &str, args: &[&str], file: &std::path::Path) -> String {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} {}",
        file.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A preload library as users install it: a release build, stripped.
fn release_library(name: &str) -> (ScratchDir, std::path::PathBuf) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(mptcpize_tests::artifacts::workspace())
        .args(["build", "--quiet", "--release"])
        .args(["-p", "mptcpize-shim", "-p", "mptcpize-report"])
        .status()
        .unwrap();
    assert!(status.success());
    let dir = ScratchDir::new();
    let lib = dir.join(name);
    let release = built().parent().unwrap().join("release").join(name);
    std::fs::copy(&release, &lib).unwrap();
    tool_output("strip", &[], &lib);
    (dir, lib)
}

/// The symbols `lib` imports (undefined dynamic symbols, without versions).
fn imported(lib: &std::path::Path) -> Vec<String> {
    tool_output("nm", &["-D", "--undefined-only"], lib)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap_or(s).to_string())
        .collect()
}

/// What `lib` needs (`NEEDED`) and exports (defined dynamic symbols).
fn needed_and_exported(lib: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let dynamic = tool_output("readelf", &["-dW"], lib);
    let needed = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .map(|l| l.split_whitespace().last().unwrap().to_string())
        .collect();
    let syms = tool_output("nm", &["-D", "--defined-only"], lib);
    let exported = syms
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_string)
        .collect();
    (needed, exported)
}

/// The core shim every preloaded program carries: small (the 48,000 bytes
/// of the shim that carried the report are its limit), needing nothing but
/// libc.so.6, and interposing socket() and setsockopt() (for the options
/// MPTCP refuses) and nothing else.
#[test]
fn release_shim_is_small_needs_only_libc_and_exports_only_socket_and_setsockopt() {
    require_program!("readelf");
    require_program!("strip");
    let (_dir, lib) = release_library("libmptcpize.so");
    let size = std::fs::metadata(&lib).unwrap().len();
    assert!(size <= 48_000, "stripped shim is {size} bytes");
    let (needed, exported) = needed_and_exported(&lib);
    assert_eq!(needed, ["[libc.so.6]"]);
    assert_eq!(exported, ["setsockopt", "socket"]);
    // Each import is a symbol look-up every program pays for when it loads
    // the shim: errno and dlsym only (system calls are made with the
    // instruction itself, and nothing may pull in memcpy or abort).
    assert_eq!(imported(&lib), ["__errno_location", "dlsym"]);
}

/// The report's library (`run --report` only): needing nothing but
/// libc.so.6 and libdl.so.2 (where dlsym lives before glibc 2.34; see
/// preload-link/), and exporting only the functions it follows sockets
/// through.
#[test]
fn release_report_library_needs_only_libc_and_exports_only_its_interposers() {
    require_program!("readelf");
    require_program!("strip");
    let (_dir, lib) = release_library("libmptcpize_report.so");
    let size = std::fs::metadata(&lib).unwrap().len();
    // 35,656 bytes before who reports a connection and when (sock_diag,
    // fclose, syscall(), /proc/self/fd at exit) and its JSON form
    // (addresses, tokens, subflows from MPTCP_FULL_INFO); 61,728 with them.
    assert!(size <= 64_000, "stripped report library is {size} bytes");
    let (needed, exported) = needed_and_exported(&lib);
    assert_eq!(needed, ["[libdl.so.2]", "[libc.so.6]"]);
    assert_eq!(
        exported,
        [
            "accept",
            "accept4",
            "close",
            "close_range",
            "dup2",
            "dup3",
            "fclose",
            "setsockopt",
            "shutdown",
            "socket",
            "syscall"
        ]
    );
}

/// Debug and report lines go only to the stderr the process started with:
/// a program that closed fd 2 and opened a data file there finds only its
/// own bytes in the file (the shim before wrote its lines into it).
#[test]
fn debug_and_report_lines_never_go_to_a_file_that_took_fd_2() {
    require_root_mptcp!();
    require_program!("python3");
    let dir = ScratchDir::new();
    let data = dir.join("data");
    let script = format!(
        "import os, socket\n\
         os.close(2)\n\
         fd = os.open('{}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n\
         assert fd == 2, fd\n\
         socket.socket().close()\n\
         os.write(fd, b'program bytes\\n')\n",
        data.display()
    );
    let cmd = mptcpize(&["run", "-d", "--report", "python3", "-c", &script]);
    let out = run(cmd, T);
    out.assert_success();
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "program bytes\n");
}

/// …nor into a connection that took fd 2: the peer receives exactly the
/// bytes the program sent (the shim before sent it its debug line).
#[test]
fn debug_lines_never_go_to_a_connection_that_took_fd_2() {
    require_root_mptcp!();
    require_program!("python3");
    let script = "import os, socket\n\
         srv = socket.socket()\n\
         srv.bind(('127.0.0.1', 0))\n\
         srv.listen()\n\
         os.close(2)\n\
         c = socket.create_connection(srv.getsockname())\n\
         assert c.fileno() == 2, c.fileno()\n\
         a, _ = srv.accept()\n\
         socket.socket().close()\n\
         c.sendall(b'ping')\n\
         c.shutdown(socket.SHUT_WR)\n\
         got = b''\n\
         while True:\n\
         \x20   b = a.recv(100)\n\
         \x20   if not b: break\n\
         \x20   got += b\n\
         print('got', got, flush=True)\n";
    let cmd = mptcpize(&["run", "-d", "python3", "-c", script]);
    let out = run(cmd, T);
    out.assert_success();
    assert!(out.stdout.contains("got b'ping'\n"), "{out}");
}
