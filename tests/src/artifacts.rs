//! The programs under test: the launcher, the shim and the example programs,
//! built once per test process with the same profile as the tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace's root directory.
pub fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `target/<profile>`: the directory of the running executable, or its
/// parent for a test (`target/<profile>/deps/test-hash`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("target/<profile>");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target/<profile>/deps").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Builds the workspace's binaries and the shim once, and returns
/// `target/<profile>`.
pub fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace()).args([
            "build",
            "--workspace",
            "--exclude",
            "xtask",
            "--bins",
            "--lib",
            "--quiet",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build of the workspace failed");
        dir
    })
}

/// A binary of the workspace (`mptcpize-rs`, `echo-server`, …).
pub fn bin(name: &str) -> PathBuf {
    let path = built().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The launcher, `mptcpize-rs`.
pub fn launcher() -> PathBuf {
    bin("mptcpize-rs")
}

/// The preload library, `libmptcpize.so`.
pub fn shim() -> PathBuf {
    bin("libmptcpize.so")
}

/// The report's preload library, `libmptcpize_report.so`.
pub fn report_library() -> PathBuf {
    bin("libmptcpize_report.so")
}

/// `LD_PRELOAD` for a report as `run --report` sets it: the report
/// library, then the shim.
pub fn preload_with_report() -> String {
    format!("{}:{}", report_library().display(), shim().display())
}

/// Scratch directories moved to [`crate::common`]; this name stays for
/// the tests that import it from here.
pub use crate::common::ScratchDir;
