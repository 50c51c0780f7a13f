//! Finding the real programs of the compatibility matrix and asking them
//! their version.
//!
//! The distribution's directories come before PATH: the matrix tests the
//! Debian packages that `.ci/run` installs, so a locally built copy that
//! happens to be earlier in PATH (a pyenv `python3`, a `/usr/local/bin/git`)
//! must not make the table depend on the machine it was produced on.

use crate::proc::run;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where distribution packages put their programs, searched before PATH.
const SYSTEM_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/bin", "/sbin"];

/// The absolute path of `name`: the system directories, then PATH, then
/// (for `java`) `$JAVA_HOME/bin` and the JDKs under /usr/lib/jvm.
pub fn locate(name: &str) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut dirs: Vec<PathBuf> = SYSTEM_DIRS.iter().map(PathBuf::from).collect();
    dirs.extend(path_dirs);
    if name == "java" {
        if let Some(home) = std::env::var_os("JAVA_HOME") {
            dirs.push(Path::new(&home).join("bin"));
        }
        if let Ok(jdks) = std::fs::read_dir("/usr/lib/jvm") {
            dirs.extend(jdks.flatten().map(|jdk| jdk.path().join("bin")));
        }
    }
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|file| is_executable(file))
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The version `program` reports with `args` (`--version`, `-V`, …): the
/// first version-like word of the first line that says "version", else of
/// the whole output. "unknown" when there is none.
pub fn version(program: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = run(cmd, Duration::from_secs(30));
    let text = format!("{}\n{}", out.stdout, out.stderr);
    let said_version = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("version"))
        .find_map(version_word);
    said_version
        .or_else(|| text.lines().find_map(version_word))
        .unwrap_or_else(|| "unknown".into())
}

/// The first word that starts with a digit (not in the middle of a number)
/// and has a dot in it: `7.88.1` in "curl 7.88.1 (x86_64…)", `9.2p1` in
/// "OpenSSH_9.2p1", `20.20.2` in "v20.20.2".
pub fn version_word(line: &str) -> Option<String> {
    let bytes = line.as_bytes();
    let is_part = |b: u8| b.is_ascii_alphanumeric() || b"._+~-".contains(&b);
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && (i == 0 || !(bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'));
        if starts {
            let end = (i..bytes.len())
                .find(|&j| !is_part(bytes[j]))
                .unwrap_or(bytes.len());
            let word = line[i..end].trim_end_matches(['.', '-']);
            if word.contains('.') {
                return Some(word.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

/// A file of `tests/fixtures/compat/` (the node, Java and python programs).
pub fn fixture(name: &str) -> PathBuf {
    crate::artifacts::workspace()
        .join("tests/fixtures/compat")
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::version_word;

    #[test]
    fn finds_the_version_in_what_programs_print() {
        let cases = [
            ("curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1", "7.88.1"),
            ("GNU Wget 1.21.3 built on linux-gnu.", "1.21.3"),
            ("Ncat: Version 7.93 ( https://nmap.org/ncat )", "7.93"),
            ("socat version 1.7.4.4 on 06 Nov 2022 08:15:51", "1.7.4.4"),
            ("iperf 3.12 (cJSON 1.7.15)", "3.12"),
            ("OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19", "9.2p1"),
            ("Redis server v=7.0.15 sha=00000000:0", "7.0.15"),
            ("nginx version: nginx/1.22.1", "1.22.1"),
            ("v20.20.2", "20.20.2"),
            ("openjdk version \"17.0.15\" 2025-04-15", "17.0.15"),
            ("Python 3.11.2", "3.11.2"),
        ];
        for (line, want) in cases {
            assert_eq!(version_word(line).as_deref(), Some(want), "{line}");
        }
        assert_eq!(
            version_word("socat by Gerhard Rieger - see www.dest-unreach.org"),
            None
        );
    }
}
