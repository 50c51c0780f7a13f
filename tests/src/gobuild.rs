//! Statically linked Go programs for the seccomp tests, built from the
//! sources in `tests/go/` with the system's Go (`CGO_ENABLED=0`), once per
//! test process, into `target/<profile>/go/`. Go's cache and home point
//! under `target/` too, never at /tmp or the user's home.

use crate::artifacts::{built, workspace};
use crate::proc::run;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// Builds `tests/go/<name>.go` (once) and returns the executable's path.
pub fn go_program(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built_map = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let map = built_map.get_or_insert_with(HashMap::new);
    if let Some(path) = map.get(name) {
        return path.clone();
    }
    let dir = built().join("go");
    let out = dir.join(name);
    let source = workspace().join("tests/go").join(format!("{name}.go"));
    let mut cmd = Command::new("go");
    cmd.current_dir(workspace())
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("path"))
        .env("HOME", dir.join("home"))
        // No downloads: the sources use the standard library only.
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-o"])
        .arg(&out)
        .arg(&source);
    let result = run(cmd, Duration::from_secs(240));
    assert!(
        result.status.success(),
        "go build of {}:\n{result}",
        source.display()
    );
    map.insert(name.to_string(), out.clone());
    out
}
