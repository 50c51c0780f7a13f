//! `mptcpize-rs run` and `preload-path` as a user meets them: the exit codes
//! and one-line messages of env(1), the program keeping its pid and status,
//! the environment it gets, and where the shim is looked for.

use mptcpize_tests::proc::run;
use mptcpize_tests::{assert_fails, launcher, mptcpize, shim, ScratchDir};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[test]
fn exit_codes_follow_env() {
    assert_fails(
        &run(mptcpize(&["run", "no-such-program-xyz"]), T),
        127,
        "no-such-program-xyz: command not found",
    );
    assert_fails(
        &run(mptcpize(&["run", "/no/such/file"]), T),
        127,
        "/no/such/file: no such file",
    );
    let dir = ScratchDir::new();
    let script = dir.join("not-executable");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_fails(
        &run(mptcpize(&["run", script.to_str().unwrap()]), T),
        126,
        "permission denied",
    );
    assert_fails(
        &run(mptcpize(&["run", dir.path().to_str().unwrap()]), T),
        126,
        "",
    );
    let orphan = dir.join("orphan");
    std::fs::write(&orphan, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&orphan, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_fails(
        &run(mptcpize(&["run", orphan.to_str().unwrap()]), T),
        127,
        "orphan: bad interpreter /no/such/interpreter: no such file",
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["run"][..],
        &["run", "--bogus", "true"],
        &["frobnicate"],
        &[],
    ] {
        let out = run(mptcpize(args), T);
        assert_eq!(out.code(), 2, "{args:?}: {out}");
        assert!(out.stderr.contains("Usage:"), "{out}");
    }
}

#[test]
fn missing_shim_exits_125_naming_what_was_tried() {
    let mut cmd = mptcpize(&["run", "true"]);
    cmd.env("MPTCPIZE_LIB", "/no/such/libmptcpize.so");
    let out = run(cmd, T);
    assert_fails(&out, 125, "cannot find the preload library libmptcpize.so; tried /no/such/libmptcpize.so (No such file or directory)");
}

#[test]
fn program_keeps_its_pid_arguments_and_exit_status() {
    // `$$` of the shell is the pid we started: exec, no fork.
    let cmd = mptcpize(&[
        "run",
        "sh",
        "-c",
        "echo $$ \"$1\" \"$2\"; exit 7",
        "sh",
        "--flag",
        "-x",
    ]);
    let child = mptcpize_tests::Child::spawn(cmd);
    let pid = child.pid();
    let out = child.finish(T);
    assert_eq!(out.code(), 7, "{out}");
    assert_eq!(out.stdout, format!("{pid} --flag -x\n"));
    // Death by a signal is reported as the shell reports it.
    let out = run(mptcpize(&["run", "sh", "-c", "kill -TERM $$"]), T);
    assert_eq!(out.code(), 128 + 15, "{out}");
}

fn env_of_program(vars: &[(&str, &str)], flags: &[&str]) -> String {
    let mut cmd = mptcpize(&["run"]);
    cmd.envs(vars.iter().copied()).args(flags);
    cmd.args([
        "sh",
        "-c",
        "echo \"$LD_PRELOAD|$GODEBUG|$MPTCPIZE_DEBUG|$MPTCPIZE_FALLBACK\"",
    ]);
    let out = run(cmd, T);
    out.assert_success();
    out.stdout.trim_end().to_string()
}

#[test]
fn environment_is_appended_never_overwritten() {
    let s = shim().display().to_string();
    assert_eq!(env_of_program(&[], &[]), format!("{s}|multipathtcp=1||"));
    assert_eq!(
        env_of_program(&[], &["-d", "--no-fallback"]),
        format!("{s}|multipathtcp=1|1|0")
    );
    let other = "/lib/x86_64-linux-gnu/libm.so.6";
    assert_eq!(
        env_of_program(&[("LD_PRELOAD", other), ("GODEBUG", "http2client=0")], &[]),
        format!("{other}:{s}|http2client=0,multipathtcp=1||")
    );
    // Ours is never added twice; a multipathtcp= the user chose is kept.
    let both = format!("{s} {other}");
    assert_eq!(
        env_of_program(&[("LD_PRELOAD", &both), ("GODEBUG", "multipathtcp=0")], &[]),
        format!("{both}|multipathtcp=0||")
    );
}

#[test]
fn help_and_version() {
    let out = run(mptcpize(&["--help"]), T);
    out.assert_success();
    assert!(
        out.stdout.contains("Examples:") && out.stdout.contains("mptcpize-rs run iperf3"),
        "{out}"
    );
    let out = run(mptcpize(&["run", "--help"]), T);
    out.assert_success();
    assert!(out.stdout.contains("127 if PROG was not found"), "{out}");
    let out = run(mptcpize(&["--version"]), T);
    out.assert_success();
    assert_eq!(
        out.stdout,
        format!("mptcpize-rs {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// An installed layout: bin/mptcpize-rs finds lib/mptcpize-rs/libmptcpize.so;
/// a shim beside the executable wins; MPTCPIZE_LIB wins over both and is
/// made absolute.
#[test]
fn shim_lookup_order() {
    let dir = ScratchDir::new();
    let bin = dir.join("bin");
    let lib = dir.join("lib/mptcpize-rs");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    // A hard link, not a copy: a file just written may still be open in a
    // process another test thread is forking, and exec of it then fails
    // with "Text file busy".
    std::fs::hard_link(launcher(), bin.join("mptcpize-rs")).unwrap();
    let installed = bin.join("mptcpize-rs");
    let preload_path = |env_lib: Option<&str>| {
        let mut cmd = Command::new(&installed);
        cmd.arg("preload-path")
            .env_remove("MPTCPIZE_LIB")
            .current_dir(dir.path());
        if let Some(l) = env_lib {
            cmd.env("MPTCPIZE_LIB", l);
        }
        run(cmd, T)
    };
    // Nothing installed yet (unless the compiled-in default exists here).
    let out = preload_path(None);
    if out.code() != 0 {
        assert_fails(
            &out,
            1,
            &format!("tried {}", bin.join("libmptcpize.so").display()),
        );
        assert!(
            out.stderr.contains("lib/mptcpize-rs/libmptcpize.so"),
            "{out}"
        );
    }
    std::fs::copy(shim(), lib.join("libmptcpize.so")).unwrap();
    let canonical =
        |p: std::path::PathBuf| std::fs::canonicalize(p).unwrap().display().to_string() + "\n";
    assert_eq!(
        preload_path(None).stdout,
        canonical(lib.join("libmptcpize.so"))
    );
    std::fs::copy(shim(), bin.join("libmptcpize.so")).unwrap();
    assert_eq!(
        preload_path(None).stdout,
        canonical(bin.join("libmptcpize.so"))
    );
    std::fs::copy(shim(), dir.join("mine.so")).unwrap();
    assert_eq!(
        preload_path(Some("./mine.so")).stdout,
        canonical(dir.join("mine.so"))
    );
}
