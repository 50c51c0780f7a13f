//! `mptcpize-rs generate-assets DIR` (hidden): renders the man pages and the
//! bash, zsh and fish completions from the clap definition in [`crate::cli`],
//! so they can never disagree with the program. `make install` and the
//! Debian package install what it writes:
//!
//! - `DIR/man/mptcpize-rs.1`, `DIR/man/mptcpize-rs-run.1`, … (one per subcommand)
//! - `DIR/completions/mptcpize-rs.bash`, `_mptcpize-rs`, `mptcpize-rs.fish`

use crate::cli::Cli;
use crate::failure::{Failure, Outcome, FAILED, SUCCESS};
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;

pub fn generate(dir: &Path) -> Outcome {
    let fail = |what: &str, e: std::io::Error| {
        Failure::new(
            FAILED,
            format!("cannot write {what} under {}: {e}", dir.display()),
        )
    };
    let man = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).map_err(|e| fail("a directory", e))?;
    }
    clap_mangen::generate_to(Cli::command(), &man).map_err(|e| fail("the man pages", e))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, "mptcpize-rs", &completions)
            .map_err(|e| fail("the completions", e))?;
    }
    Ok(SUCCESS)
}
