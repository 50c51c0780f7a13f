//! `mptcpize-rs generate-assets DIR`: renders the man pages and the bash,
//! zsh and fish completions from the clap definition in [`crate::cli`], so
//! they can never disagree with the program. `make install` and the Debian
//! package install what it writes. The command itself is not part of that
//! definition (`main` checks for it first), so it appears in neither.
//!
//! - `DIR/man/mptcpize-rs.1`, `DIR/man/mptcpize-rs-run.1`, … (one per subcommand)
//! - `DIR/completions/mptcpize-rs.bash`, `_mptcpize-rs`, `mptcpize-rs.fish`

use crate::cli::Cli;
use crate::error::{Error, SUCCESS};
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// DIR when the command line is exactly `generate-assets DIR`.
pub fn requested() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next(), args.next()) {
        (Some(cmd), Some(dir), None) if cmd == "generate-assets" => Some(dir.into()),
        _ => None,
    }
}

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
    clap_mangen::generate_to(Cli::command(), &man).map_err(|e| fail("the man pages", e))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, "mptcpize-rs", &completions)
            .map_err(|e| fail("the completions", e))?;
    }
    Ok(SUCCESS)
}
