//! What the integration tests write again and again, in one place: the
//! launcher command as a user types it ([`mptcpize`]), the bytes a test
//! moves ([`pattern`]), the kernel's handshake counters before and after
//! ([`CounterWatch`]), the one-line refusal ([`assert_fails`]), and
//! scratch directories under `target/` ([`ScratchDir`]).

use crate::artifacts::{built, launcher};
use crate::proc::Output;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `mptcpize-rs ARGS…` as a user types it, in no namespace: the launcher
/// with the test process's own `LD_PRELOAD`, `GODEBUG` and `MPTCPIZE_*`
/// variables removed, so that only what a test sets reaches it.
pub fn mptcpize(args: &[&str]) -> Command {
    let mut cmd = Command::new(launcher());
    clean_env(&mut cmd);
    cmd.args(args);
    cmd
}

/// Removes the variables the launcher and the shim read from what `cmd`
/// inherits (for commands that run the launcher through another program:
/// `ip netns exec`, `nsenter`, `setpriv`).
pub fn clean_env(cmd: &mut Command) {
    cmd.env_remove("LD_PRELOAD").env_remove("GODEBUG");
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("MPTCPIZE_") || n.starts_with("MPTCPWRAP_") {
            cmd.env_remove(&name);
        }
    }
}

/// Asserts how a command refuses bad input, as env(1) does: exit `code`,
/// nothing on stdout, one `mptcpize-rs: …` line on stderr containing
/// `message`.
#[track_caller]
pub fn assert_fails(out: &Output, code: i32, message: &str) {
    assert_eq!(out.code(), code, "{out}");
    assert_eq!(out.stdout, "", "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {out}");
    assert!(
        lines[0].starts_with("mptcpize-rs: ") && lines[0].contains(message),
        "{out}"
    );
}

/// `len` bytes of the pattern the example programs send and check
/// ([`mptcpize_examples::fill_pattern`]): not periodic at any power-of-two
/// length, so a lost, repeated or reordered block shows.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut data = vec![0; len];
    mptcpize_examples::fill_pattern(&mut data, 0);
    data
}

/// Writes `len` pattern bytes to `path` and returns them.
pub fn write_pattern(path: &Path, len: usize) -> Vec<u8> {
    let data = pattern(len);
    std::fs::write(path, &data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    data
}

/// `len` characters of the pattern as hexadecimal digits: a text value
/// (for a command line or a text protocol) that shows damage the same way.
pub fn pattern_text(len: usize) -> String {
    pattern(len)
        .iter()
        .map(|b| char::from(b"0123456789abcdef"[usize::from(b & 15)]))
        .collect()
}

/// The server's kernel saw an MP_CAPABLE SYN: one MPTCP connection began.
pub const MP_CAPABLE_SYN_RX: &str = "MPTcpExtMPCapableSYNRX";
/// The server's kernel saw the third ACK of an MP_JOIN: a subflow joined.
pub const MP_JOIN_ACK_RX: &str = "MPTcpExtMPJoinAckRx";
/// The client's kernel sent the SYN of an MP_JOIN: it tried a subflow.
pub const MP_JOIN_SYN_TX: &str = "MPTcpExtMPJoinSynTx";
/// The client's kernel got the SYN-ACK of an MP_JOIN it sent.
pub const MP_JOIN_SYN_ACK_RX: &str = "MPTcpExtMPJoinSynAckRx";

/// Where a kernel counter is read: a network namespace, or the namespace
/// of a booted systemd.
pub trait Counters {
    /// The counter named as nstat names it (`MPTcpExtMPCapableSYNRX`), 0
    /// when the kernel does not have it.
    fn counter(&self, name: &str) -> u64;
}

/// One kernel counter read before what a test does, to assert afterwards
/// how much it grew: what the kernel, not the program, says happened.
pub struct CounterWatch<'a> {
    from: &'a dyn Counters,
    name: &'static str,
    before: u64,
}

impl<'a> CounterWatch<'a> {
    /// Reads `name` in `from` now.
    pub fn new(from: &'a dyn Counters, name: &'static str) -> CounterWatch<'a> {
        CounterWatch {
            from,
            name,
            before: from.counter(name),
        }
    }

    /// How much the counter grew since [`CounterWatch::new`].
    pub fn grown(&self) -> u64 {
        self.from.counter(self.name).saturating_sub(self.before)
    }

    /// Panics with `why` unless the counter grew by exactly `n`.
    #[track_caller]
    pub fn assert_grew_by(&self, n: u64, why: &str) {
        let grown = self.grown();
        assert_eq!(
            grown, n,
            "{why} ({} went up by {grown}, not {n})",
            self.name
        );
    }

    /// Panics with `why` unless the counter grew at all.
    #[track_caller]
    pub fn assert_grew(&self, why: &str) {
        assert!(self.grown() > 0, "{why} ({} did not go up)", self.name);
    }
}

/// A fresh directory under `target/<profile>/scratch` (tests keep their
/// files out of /tmp and out of the user's home), mode 0755 so that
/// programs a test starts as another user (nginx's workers) can read it
/// when its parents let them; removed with everything in it on drop.
pub struct ScratchDir(tempfile::TempDir);

impl ScratchDir {
    pub fn new() -> ScratchDir {
        let parent = built().join("scratch");
        std::fs::create_dir_all(&parent).expect("create target/…/scratch");
        let dir = tempfile::Builder::new()
            .prefix("mz-")
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir_in(&parent)
            .expect("create a scratch directory");
        ScratchDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(name)
    }
}

impl Default for ScratchDir {
    fn default() -> Self {
        ScratchDir::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_the_examples_stream_and_its_text_is_hex() {
        let data = pattern(1 << 16);
        assert_eq!(data[12345], mptcpize_examples::pattern_byte(12345));
        // Not periodic at 256 or 4096 bytes.
        assert_ne!(data[..256], data[256..512]);
        assert_ne!(data[..4096], data[4096..8192]);
        let text = pattern_text(64);
        assert_eq!(text.len(), 64);
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn scratch_dirs_are_under_target_and_removed_on_drop() {
        let dir = ScratchDir::new();
        let path = dir.path().to_path_buf();
        // Under the build's own directory (where the checkout is, which may
        // itself be under /tmp), never directly in /tmp.
        assert!(path.starts_with(built()), "{}", path.display());
        std::fs::write(dir.join("f"), "x").unwrap();
        drop(dir);
        assert!(!path.exists(), "{} is left behind", path.display());
    }

    #[test]
    fn the_launcher_command_drops_inherited_settings() {
        let cmd = mptcpize(&["run", "true"]);
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert!(removed.contains(&"LD_PRELOAD".to_string()), "{removed:?}");
        assert!(removed.contains(&"GODEBUG".to_string()), "{removed:?}");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args, ["run", "true"]);
    }
}
