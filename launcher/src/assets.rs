//! `mptcpize-rs generate-assets DIR` (a hidden subcommand, run by `make`):
//! renders the man pages and the bash, zsh and fish completions from the
//! clap definition in [`crate::cli`], so they can never disagree with the
//! program. `make install` and the packages install what it writes.
//!
//! - `DIR/man/mptcpize-rs.1`, `DIR/man/mptcpize-rs-run.1`, … (one per
//!   subcommand): clap_mangen's NAME, DESCRIPTION, OPTIONS and SUBCOMMANDS,
//!   our SYNOPSIS (clap_mangen's omits option values: `[--mode]`), and
//!   EXIT STATUS, ENVIRONMENT, EXAMPLES and SEE ALSO from each [`Doc`].
//! - `DIR/completions/mptcpize-rs.bash`, `_mptcpize-rs`, `mptcpize-rs.fish`:
//!   clap_complete's scripts; the bash one fixed up and extended (see
//!   [`bash_completion`]).

use crate::cli::{self, Cli, Doc};
use crate::error::{Error, SUCCESS};
use clap::{Arg, ArgAction, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;
use std::path::Path;

/// The program's name, as installed.
const BIN: &str = "mptcpize-rs";

pub fn generate(dir: &Path) -> Result<u8, Error> {
    let fail = |what: &'static str, source: std::io::Error| Error::Assets {
        what,
        dir: dir.to_path_buf(),
        source,
    };
    let man = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).map_err(|e| fail("a directory", e))?;
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![(man_page(&cmd, None), format!("{BIN}.1"))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push((
            man_page(sub, Some(sub.get_name())),
            format!("{BIN}-{}.1", sub.get_name()),
        ));
    }
    for (page, name) in pages {
        std::fs::write(man.join(name), page).map_err(|e| fail("the man pages", e))?;
    }
    for shell in [Shell::Zsh, Shell::Fish] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, BIN, &completions)
            .map_err(|e| fail("the completions", e))?;
    }
    std::fs::write(completions.join(format!("{BIN}.bash")), bash_completion())
        .map_err(|e| fail("the completions", e))?;
    Ok(SUCCESS)
}

/// The man page of `cmd` (the top-level command when `sub` is None).
fn man_page(cmd: &clap::Command, sub: Option<&str>) -> Vec<u8> {
    let doc = cli::doc(sub);
    let title = match sub {
        None => BIN.to_string(),
        Some(s) => format!("{BIN}-{s}"),
    };
    let man = Man::new(cmd.clone()).title(title).manual("User Commands");
    let mut out = Vec::new();
    let written: std::io::Result<()> = (|| {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        synopsis(cmd, sub).to_writer(&mut out)?;
        man.render_description_section(&mut out)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut out)?;
        }
        if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
            man.render_subcommands_section(&mut out)?;
        }
        doc_sections(doc, sub).to_writer(&mut out)?;
        if sub.is_none() {
            man.render_version_section(&mut out)?;
        }
        Ok(())
    })();
    written.expect("writing to a Vec cannot fail");
    out
}

/// SYNOPSIS: one line per subcommand on the top-level page, else the
/// command with each option and its value (`--mode <MODE>`,
/// `--report[=<FILE>]`) and its operands (`PROG [ARGS]...`).
fn synopsis(cmd: &clap::Command, sub: Option<&str>) -> Roff {
    let mut roff = Roff::default();
    roff.control("SH", ["SYNOPSIS"]);
    let commands: Vec<&clap::Command> = match sub {
        Some(_) => vec![cmd],
        None => cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect(),
    };
    for (i, c) in commands.iter().enumerate() {
        if i > 0 {
            roff.control("br", []);
        }
        let name = match sub {
            Some(s) => format!("{BIN} {s}"),
            None => format!("{BIN} {}", c.get_name()),
        };
        roff.text(synopsis_line(&name, c));
    }
    roff
}

fn synopsis_line(name: &str, cmd: &clap::Command) -> Vec<Inline> {
    let mut line = vec![bold(name)];
    // The options in the order they are declared (and listed by --help).
    for opt in cmd.get_arguments().filter(|a| !a.is_positional()) {
        if opt.is_hide_set() || matches!(opt.get_long(), Some("help" | "version")) {
            continue;
        }
        line.push(roman(" ["));
        if let Some(short) = opt.get_short() {
            line.push(bold(format!("-{short}")));
            line.push(roman("|"));
        }
        if let Some(long) = opt.get_long() {
            line.push(bold(format!("--{long}")));
        }
        if opt.get_action().takes_values() {
            let value = value_name(opt, 0);
            if opt.is_require_equals_set()
                && opt.get_num_args().is_some_and(|n| n.min_values() == 0)
            {
                line.push(roman("[="));
                line.push(italic(format!("<{value}>")));
                line.push(roman("]"));
            } else {
                line.push(roman(" "));
                line.push(italic(format!("<{value}>")));
            }
        }
        line.push(roman("]"));
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        line.push(roman(" "));
        let names = arg.get_value_names().map(|n| n.len()).unwrap_or(1);
        let repeated = matches!(arg.get_action(), ArgAction::Append)
            || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        if arg.is_trailing_var_arg_set() {
            line.push(roman("[--] "));
        }
        let first = value_name(arg, 0);
        if arg.is_required_set() {
            line.push(italic(first));
        } else {
            line.push(roman("["));
            line.push(italic(first));
            line.push(roman("]"));
        }
        if names > 1 {
            line.push(roman(" ["));
            line.push(italic(value_name(arg, 1)));
            line.push(roman("]"));
        }
        if repeated {
            line.push(roman("..."));
        }
    }
    line
}

fn value_name(arg: &Arg, i: usize) -> String {
    arg.get_value_names()
        .and_then(|n| n.get(i))
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase())
}

/// EXIT STATUS, ENVIRONMENT, EXAMPLES, SEE ALSO (and the notes, under
/// DESCRIPTION's heading "NOTES").
fn doc_sections(doc: &Doc, sub: Option<&str>) -> Roff {
    let mut roff = Roff::default();
    if !doc.notes.is_empty() {
        roff.control("SH", ["NOTES"]);
        roff.text([roman(doc.notes.replace('\n', " "))]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(doc.exit_status)]);
    if !doc.environment.is_empty() {
        roff.control("SH", ["ENVIRONMENT"]);
        for (name, what) in doc.environment {
            if name.is_empty() {
                roff.control("PP", []);
            } else {
                roff.control("TP", []);
                roff.text([bold(*name)]);
            }
            roff.text([roman(*what)]);
        }
    }
    roff.control("SH", ["EXAMPLES"]);
    for (i, (cmd, what)) in doc.examples.iter().enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        if !what.is_empty() {
            roff.text([roman(*what)]);
            roff.control("br", []);
        }
        roff.control("RS", ["4"]);
        roff.text([bold(*cmd)]);
        roff.control("RE", []);
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = Vec::new();
    if sub.is_some() {
        refs.push(format!("{BIN}(1)"));
    } else {
        refs.extend(
            Cli::command()
                .get_subcommands()
                .map(|s| format!("{BIN}-{}(1)", s.get_name())),
        );
    }
    refs.extend(cli::SEE_ALSO.iter().map(|s| s.to_string()));
    let mut line = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let (page, section) = r.split_once('(').unwrap();
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(page.to_string()));
        line.push(roman(format!("({section}")));
    }
    roff.text(line);
    roff
}

/// The bash completion: clap_complete's script, with its subcommand case
/// labels repaired, and a front function `_mptcpize-rs` for what it cannot
/// do: PROG (and its own arguments) after `run` and `check` completed as a
/// command, the way `env`, `nice` and `sudo` complete theirs, and unit names
/// after `enable`, `disable` and `status`.
///
/// The repair: for a binary name with a hyphen, clap_complete (4.6) sets
/// `cmd=mptcpize__rs__subcmd__run` but labels the case branch
/// `mptcpize__subcmd__rs__subcmd__run`, so nothing after a subcommand
/// completed. The labels are rewritten to the name `cmd` gets.
pub fn bash_completion() -> String {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(Shell::Bash, &mut cmd, BIN, &mut script);
    let script = String::from_utf8(script).expect("clap_complete writes UTF-8");
    let fn_name = BIN.replace('-', "__");
    let broken = BIN.replace('-', "__subcmd__");
    let script = script.replace(
        &format!("{broken}__subcmd__"),
        &format!("{fn_name}__subcmd__"),
    );
    // Our front function takes over the registration.
    let script = script.replace(&format!("-F _{fn_name} "), &format!("-F _{BIN} "));
    format!("{script}\n{}", include_str!("assets/complete.bash"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The man page's text with roff's escapes and fonts taken out.
    fn plain(page: &[u8]) -> String {
        String::from_utf8_lossy(page)
            .replace("\\-", "-")
            .replace("\\fB", "")
            .replace("\\fI", "")
            .replace("\\fR", "")
            .replace("\\fP", "")
    }

    #[test]
    fn bash_case_labels_match_the_names_cmd_gets() {
        let script = bash_completion();
        assert!(script.contains("mptcpize__rs__subcmd__run)"), "{script}");
        assert!(!script.contains("mptcpize__subcmd__rs"), "{script}");
        assert!(script.contains("complete -F _mptcpize-rs "), "{script}");
    }

    #[test]
    fn run_page_synopsis_shows_option_values_and_operands() {
        let mut cmd = Cli::command();
        cmd.build();
        let run = cmd.find_subcommand("run").unwrap();
        let page = plain(&man_page(run, Some("run")));
        let synopsis =
            &page[page.find(".SH SYNOPSIS").unwrap()..page.find(".SH DESCRIPTION").unwrap()];
        assert!(synopsis.contains("[--mode <MODE>]"), "{synopsis}");
        assert!(synopsis.contains("[--report[=<FILE>]]"), "{synopsis}");
        assert!(synopsis.contains("[-d|--debug]"), "{synopsis}");
        assert!(synopsis.contains("PROG [ARGS]..."), "{synopsis}");
    }
}
