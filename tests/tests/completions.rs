//! The shell completions `mptcpize-rs generate-assets` renders, used in the
//! real shells: bash completes options after a subcommand, `--mode`'s
//! values, PROG after `run` and `check` as a command, and unit names after
//! `enable`, `disable` and `status` from the systemctl of a booted systemd;
//! zsh and fish load the scripts without an error (and fish completes from
//! its script). None of them offers the hidden `generate-assets`, which the
//! man pages do not document either.

use mptcpize_tests::artifacts::ScratchDir;
use mptcpize_tests::proc::run;
use mptcpize_tests::systemd::BootedSystemd;
use mptcpize_tests::{launcher, require_program, require_root};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// The assets, rendered into a scratch directory; and a directory on PATH
/// holding one program, `mzcompleteprog`, for command-name completion.
struct Assets {
    dir: ScratchDir,
}

impl Assets {
    fn new() -> Assets {
        let dir = ScratchDir::new();
        let mut cmd = Command::new(launcher());
        cmd.arg("generate-assets").arg(dir.join("assets"));
        run(cmd, T).assert_success();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let prog = bin.join("mzcompleteprog");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        Assets { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join("assets/completions").join(name)
    }

    fn path_env(&self) -> String {
        format!("{}:/usr/bin:/bin", self.dir.join("bin").display())
    }

    /// The bash script that asks for completions of `words` (the last one
    /// being completed), as bash's programmable completion would.
    fn bash_script(&self, words: &[&str]) -> String {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let cword = words.len() - 1;
        let prev = if cword > 0 { words[cword - 1] } else { "" };
        format!(
            "source '{}' || exit 9; COMP_WORDS=({}); COMP_CWORD={cword}; \
             COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
             _mptcpize-rs mptcpize-rs '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            self.file("mptcpize-rs.bash").display(),
            quoted.join(" "),
            words.join(" "),
            words[cword],
        )
    }

    /// What bash offers for `words`.
    fn bash(&self, words: &[&str]) -> Vec<String> {
        let mut cmd = Command::new("bash");
        cmd.env("PATH", self.path_env()).args([
            "--norc",
            "--noprofile",
            "-c",
            &self.bash_script(words),
        ]);
        let out = run(cmd, T);
        out.assert_success();
        assert!(out.stderr.is_empty(), "bash said:\n{out}");
        out.stdout.lines().map(String::from).collect()
    }
}

fn has(offered: &[String], word: &str) -> bool {
    offered.iter().any(|w| w == word)
}

#[test]
fn bash_completes_subcommands_options_values_and_programs() {
    require_program!("bash");
    let a = Assets::new();

    let subs = a.bash(&["mptcpize-rs", ""]);
    for sub in [
        "run",
        "preload-path",
        "check",
        "enable",
        "disable",
        "status",
    ] {
        assert!(has(&subs, sub), "{sub} in {subs:?}");
    }
    assert!(!has(&subs, "generate-assets"), "{subs:?}");

    // Below the first word (clap_complete's labels were wrong there).
    let opts = a.bash(&["mptcpize-rs", "run", "--"]);
    for opt in ["--debug", "--no-fallback", "--report", "--mode"] {
        assert!(has(&opts, opt), "{opt} in {opts:?}");
    }
    assert_eq!(
        a.bash(&["mptcpize-rs", "run", "--mode", ""]),
        ["auto", "preload", "seccomp"]
    );
    let check = a.bash(&["mptcpize-rs", "check", "--"]);
    assert!(has(&check, "--json"), "{check:?}");
    let enable = a.bash(&["mptcpize-rs", "enable", "--r"]);
    assert!(
        has(&enable, "--root") && has(&enable, "--runtime"),
        "{enable:?}"
    );

    // PROG is a command, also after run's options; check's too.
    for words in [
        &["mptcpize-rs", "run", "mzcomplete"][..],
        &[
            "mptcpize-rs",
            "run",
            "-d",
            "--mode",
            "seccomp",
            "mzcomplete",
        ],
        &[
            "mptcpize-rs",
            "run",
            "--report",
            "=",
            "out.log",
            "--",
            "mzcomplete",
        ],
        &["mptcpize-rs", "check", "mzcomplete"],
        &["mptcpize-rs", "check", "--role", "server", "mzcomplete"],
    ] {
        assert_eq!(a.bash(words), ["mzcompleteprog"], "{words:?}");
    }
    // After PROG, the words are PROG's: run's options are not offered.
    let after = a.bash(&["mptcpize-rs", "run", "mzcompleteprog", "--"]);
    assert!(!has(&after, "--debug"), "{after:?}");
}

#[test]
fn bash_completes_unit_names_from_the_booted_systemd() {
    require_root!();
    require_program!("systemd");
    require_program!("bash");
    let a = Assets::new();
    let systemd = BootedSystemd::boot(&[
        (
            "mzcomplete-web.service",
            "[Service]\nExecStart=/bin/sleep infinity\n",
        ),
        (
            "mzcomplete-web.socket",
            "[Socket]\nListenStream=127.0.0.1:7999\n",
        ),
    ]);
    for sub in ["enable", "disable", "status"] {
        let mut cmd = systemd.cmd("bash");
        cmd.env("PATH", a.path_env()).args([
            "--norc",
            "--noprofile",
            "-c",
            &a.bash_script(&["mptcpize-rs", sub, "mzcomplete-w"]),
        ]);
        let out = run(cmd, T);
        out.assert_success();
        let offered: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            offered,
            ["mzcomplete-web.service", "mzcomplete-web.socket"],
            "{sub}:\n{out}"
        );
    }
}

#[test]
fn zsh_and_fish_load_the_scripts() {
    require_program!("zsh");
    require_program!("fish");
    let a = Assets::new();

    let mut zsh = Command::new("zsh");
    zsh.args(["-f", "-c"]).arg(format!(
        "autoload -U compinit && compinit -u -d '{}' && source '{}' && print -r -- ${{_comps[mptcpize-rs]}}",
        a.dir.join("zcompdump").display(),
        a.file("_mptcpize-rs").display()
    ));
    let out = run(zsh, T);
    out.assert_success();
    assert!(out.stderr.is_empty(), "zsh said:\n{out}");
    assert_eq!(
        out.stdout.trim(),
        "_mptcpize-rs",
        "registered for mptcpize-rs:\n{out}"
    );

    let fish_complete = |line: &str| {
        let mut fish = Command::new("fish");
        fish.env("PATH", a.path_env())
            .env("HOME", a.dir.path())
            .args(["--no-config", "-c"])
            .arg(format!(
                "source '{}'; complete -C '{line}'",
                a.file("mptcpize-rs.fish").display()
            ));
        let out = run(fish, T);
        out.assert_success();
        assert!(out.stderr.is_empty(), "fish said:\n{out}");
        out.stdout
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let subs = fish_complete("mptcpize-rs ");
    assert!(has(&subs, "run") && has(&subs, "enable"), "{subs:?}");
    assert!(!has(&subs, "generate-assets"), "{subs:?}");
    let modes = fish_complete("mptcpize-rs run --mode ");
    assert_eq!(modes, ["auto", "preload", "seccomp"]);

    for file in ["_mptcpize-rs", "mptcpize-rs.fish", "mptcpize-rs.bash"] {
        let text = std::fs::read_to_string(a.file(file)).unwrap();
        assert!(!text.contains("generate-assets"), "{file}");
    }
    let man = a.dir.join("assets/man");
    assert!(!Path::new(&man.join("mptcpize-rs-generate-assets.1")).exists());
}

#[test]
fn man_pages_have_the_sections_users_look_for() {
    let a = Assets::new();
    let man = a.dir.join("assets/man");
    let page = |name: &str| std::fs::read_to_string(man.join(name)).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "mptcpize-rs-check.1",
            "mptcpize-rs-disable.1",
            "mptcpize-rs-enable.1",
            "mptcpize-rs-preload-path.1",
            "mptcpize-rs-run.1",
            "mptcpize-rs-status.1",
            "mptcpize-rs-top.1",
            "mptcpize-rs.1"
        ],
        "one page per subcommand, none for the hidden one"
    );
    for name in &names {
        let text = page(name);
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "EXIT STATUS",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(
                text.contains(&format!(".SH \"{section}\""))
                    || text.contains(&format!(".SH {section}\n")),
                "{name}: no {section} section:\n{text}"
            );
        }
        for see in ["ss", "ip\\-mptcp", "nstat", "systemd.exec"] {
            assert!(
                text.contains(&format!("\\fB{see}\\fR(")),
                "{name}: SEE ALSO {see}:\n{text}"
            );
        }
    }
    for name in ["mptcpize-rs.1", "mptcpize-rs-run.1"] {
        let text = page(name);
        assert!(text.contains(".SH ENVIRONMENT"), "{name}:\n{text}");
        assert!(text.contains("MPTCPIZE_DEBUG"), "{name}:\n{text}");
    }
}
