//! The environment reads the same in every mode (`rules/src/env.rs`): an
//! empty value is unset, the same words mean off in every variable, and
//! mptcpd's `MPTCPWRAP_DEBUG` turns the debug lines on in seccomp mode as
//! in preload mode.

use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, mptcpize, preload_with_report, require_root_mptcp, Netns, ScratchDir};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);
const MODES: [&str; 2] = ["preload", "seccomp"];

/// `mptcpize-rs run --mode MODE socket-threads 1 N` with `vars` set, in `ns`
/// (or here).
fn threads(ns: Option<&Netns>, mode: &str, n: &str, vars: &[(&str, &str)]) -> Command {
    let run_args = ["run", "--mode", mode, "--"];
    let mut cmd = match ns {
        Some(ns) => ns.mptcpize(&run_args),
        None => mptcpize(&run_args),
    };
    cmd.arg(bin("socket-threads"))
        .args(["1", n])
        .envs(vars.iter().copied());
    cmd
}

/// Debug lines about converted sockets in `stderr`.
fn mptcp_lines(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("socket(AF_INET, SOCK_STREAM") && l.contains(": MPTCP"))
        .count()
}

#[test]
fn mptcpwrap_debug_logs_in_every_mode_and_mptcpize_debug_wins() {
    require_root_mptcp!();
    for mode in MODES {
        let out = run(threads(None, mode, "2", &[("MPTCPWRAP_DEBUG", "1")]), T);
        out.assert_success();
        assert!(out.stdout.contains("sockets=2 mptcp=2"), "{mode}: {out}");
        assert_eq!(mptcp_lines(&out.stderr), 2, "{mode}: {out}");

        let vars = [("MPTCPWRAP_DEBUG", "1"), ("MPTCPIZE_DEBUG", "off")];
        let out = run(threads(None, mode, "2", &vars), T);
        out.assert_success();
        assert_eq!(mptcp_lines(&out.stderr), 0, "{mode}: {out}");

        let out = run(threads(None, mode, "2", &[("MPTCPIZE_DEBUG", "")]), T);
        out.assert_success();
        assert_eq!(out.stderr, "", "{mode}: an empty value is unset: {out}");
    }
}

#[test]
fn an_empty_fallback_value_keeps_the_fallback_and_off_words_end_it_in_every_mode() {
    require_root_mptcp!();
    let ns = Netns::new();
    ns.set_mptcp(false);
    for mode in MODES {
        let out = run(
            threads(Some(&ns), mode, "3", &[("MPTCPIZE_FALLBACK", "")]),
            T,
        );
        out.assert_success();
        assert!(
            out.stdout.contains("sockets=3 mptcp=0 tcp=3 errors=0"),
            "{mode}: {out}"
        );
        for off in ["0", "No", "OFF", "false"] {
            let out = run(
                threads(Some(&ns), mode, "3", &[("MPTCPIZE_FALLBACK", off)]),
                T,
            );
            out.assert_success();
            assert!(
                out.stdout.contains("sockets=3 mptcp=0 tcp=0 errors=3"),
                "{mode} {off}: {out}"
            );
        }
    }
}

/// `MPTCPIZE_REPORT=0` is the report turned off, not a file named `0` in the
/// program's directory; an empty value is no report either; an on word is
/// stderr.
#[test]
fn report_off_words_and_empty_values_write_nothing_anywhere() {
    require_root_mptcp!();
    let dir = ScratchDir::new();
    let report_with = |value: &str| {
        let mut cmd = Command::new(bin("socket-threads"));
        cmd.current_dir(dir.path())
            .args(["1", "2"])
            .env("LD_PRELOAD", preload_with_report())
            .env("MPTCPIZE_REPORT", value);
        let out = run(cmd, T);
        out.assert_success();
        assert!(out.stdout.contains("mptcp=2"), "{value:?}: {out}");
        out.stderr
    };
    for value in ["0", "off", "No", ""] {
        assert_eq!(report_with(value), "", "{value:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{value:?} wrote {left:?}");
    }
    for value in ["1", "yes", "stderr"] {
        let stderr = report_with(value);
        assert!(
            stderr.contains("report: exit: 2 sockets made MPTCP"),
            "{value:?}: {stderr}"
        );
    }
}
