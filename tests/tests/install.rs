//! `make install` into a DESTDIR, then the installed launcher used as a user
//! would: it must find the installed shim from its own location and make the
//! program's sockets MPTCP; the man pages and completions must be there and
//! rendered from the current command line (they name `check` and
//! `--report`); `enable` must put the installed shim into a service. `make
//! uninstall` must take every file away again.

use mptcpize_tests::artifacts::{built, workspace};
use mptcpize_tests::proc::run;
use mptcpize_tests::{bin, require_program, require_root_mptcp, Child, Netns, ScratchDir};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn make(dest: &Path, target: &str) {
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(workspace())
        .arg(target)
        .arg(format!("DESTDIR={}", dest.display()))
        .arg("PREFIX=/usr")
        // The tests' own build: no release build inside a test.
        .arg("BUILD=no")
        .arg(format!("BUILD_DIR={}", built().display()));
    run(cmd, T).assert_success();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn installed_launcher_finds_its_shim_and_makes_mptcp_sockets() {
    require_root_mptcp!();
    require_program!("make");
    let dest = ScratchDir::new();
    let root = dest.path();
    make(root, "install");

    let exe = root.join("usr/bin/mptcpize-rs");
    let shim = root.join("usr/lib/mptcpize-rs/libmptcpize.so");
    assert_eq!(
        std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(shim.is_file());

    // Generated from the clap definition: every subcommand and option is there.
    let man = read(&root.join("usr/share/man/man1/mptcpize-rs.1"));
    assert!(
        man.starts_with(".ie") || man.contains(".TH mptcpize-rs"),
        "{man}"
    );
    assert!(man.contains("check"), "{man}");
    let run_man = read(&root.join("usr/share/man/man1/mptcpize-rs-run.1"));
    assert!(run_man.contains("report"), "{run_man}");
    assert!(root
        .join("usr/share/man/man1/mptcpize-rs-check.1")
        .is_file());
    assert!(
        !root
            .join("usr/share/man/man1/mptcpize-rs-generate-assets.1")
            .exists(),
        "the hidden subcommand has no man page"
    );
    let bash = read(&root.join("usr/share/bash-completion/completions/mptcpize-rs"));
    assert!(
        bash.contains("check") && bash.contains("--report"),
        "{bash}"
    );
    let zsh = read(&root.join("usr/share/zsh/vendor-completions/_mptcpize-rs"));
    assert!(zsh.starts_with("#compdef mptcpize-rs"), "{zsh}");
    let fish = read(&root.join("usr/share/fish/vendor_completions.d/mptcpize-rs.fish"));
    assert!(
        fish.contains("complete -c mptcpize-rs") && fish.contains("report"),
        "{fish}"
    );

    // The installed launcher finds the installed shim (../lib/mptcpize-rs/).
    let mut cmd = Command::new(&exe);
    cmd.arg("preload-path").env_remove("MPTCPIZE_LIB");
    let out = run(cmd, T);
    out.assert_success();
    assert_eq!(
        out.stdout.trim(),
        std::fs::canonicalize(&shim).unwrap().to_str().unwrap()
    );

    // …and a program run with it gets MPTCP sockets, end to end.
    let ns = Netns::new();
    let mut server = ns.cmd(&exe);
    server
        .env_remove("MPTCPIZE_LIB")
        .args(["run", "--"])
        .arg(bin("echo-server"))
        .args(["127.0.0.1:7200", "--once"]);
    let mut server = Child::spawn(server);
    let listening = server.wait_for_line("listening on", T);
    assert!(listening.contains("socket: MPTCP"), "{listening}");
    let mut client = ns.cmd(&exe);
    client
        .env_remove("MPTCPIZE_LIB")
        .args(["run", "--report"])
        .arg(bin("echo-client"))
        .args(["127.0.0.1:7200", "10000"]);
    let out = run(client, T);
    out.assert_success();
    assert!(out.stdout.contains("MPTCP negotiated"), "{out}");
    assert!(
        out.stderr
            .contains("connection to 127.0.0.1:7200 from 127.0.0.1:")
            && out
                .stderr
                .contains(": MPTCP negotiated, 1 subflow (0 extra)"),
        "the installed shim reports too:\n{out}"
    );
    server.finish(T).assert_success();

    // `enable` puts the installed shim into a service (offline, on the
    // DESTDIR as an image), and `disable` takes it out again.
    let units = root.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(
        units.join("mzdemo.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    let mut enable = Command::new(&exe);
    enable.args(["enable", "--root"]).arg(root).args([
        "--shim",
        "/usr/lib/mptcpize-rs/libmptcpize.so",
        "mzdemo",
    ]);
    run(enable, T).assert_success();
    let dropin = read(&units.join("mzdemo.service.d/90-mptcpize.conf"));
    assert!(
        dropin.contains("Environment=\"LD_PRELOAD=/usr/lib/mptcpize-rs/libmptcpize.so\""),
        "{dropin}"
    );
    let mut disable = Command::new(&exe);
    disable.args(["disable", "--root"]).arg(root).arg("mzdemo");
    run(disable, T).assert_success();
    std::fs::remove_file(units.join("mzdemo.service")).unwrap();
    std::fs::remove_dir_all(root.join("etc")).unwrap();

    make(root, "uninstall");
    let left: Vec<_> = walk(root);
    assert!(left.is_empty(), "uninstall left {left:?}");
}

/// The files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
