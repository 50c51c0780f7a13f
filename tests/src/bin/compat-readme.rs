//! `compat-readme`: copies the compatibility table of the last matrix run
//! (`target/compat.md`, written by `cargo test -p mptcpize-tests --test
//! compat`) into README.md, between `<!-- compat:begin -->` and
//! `<!-- compat:end -->`.
//!
//! Usage: `cargo run -q -p mptcpize-tests --bin compat-readme [TABLE [README]]`

use mptcpize_tests::artifacts::workspace;
use mptcpize_tests::compat::table::splice;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = workspace()
        .canonicalize()
        .unwrap_or_else(|_| workspace().to_path_buf());
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let table = args.next().unwrap_or_else(|| root.join("target/compat.md"));
    let readme = args.next().unwrap_or_else(|| root.join("README.md"));
    let result = (|| {
        let text = std::fs::read_to_string(&table).map_err(|e| {
            format!(
                "cannot read {}: {e}; run the matrix first: cargo test -p mptcpize-tests --test compat",
                table.display()
            )
        })?;
        let old = std::fs::read_to_string(&readme)
            .map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
        let new = splice(&old, &text).map_err(|e| format!("{}: {e}", readme.display()))?;
        std::fs::write(&readme, new).map_err(|e| format!("cannot write {}: {e}", readme.display()))
    })();
    match result {
        Ok(()) => {
            println!(
                "compat-readme: {} updated from {}",
                readme.display(),
                table.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("compat-readme: {e}");
            ExitCode::FAILURE
        }
    }
}
