//! The mode policy, in one place: which way of reaching a program's sockets
//! works for it, and which systemd can make a listening socket MPTCP. `run`
//! (`--mode auto`, and its warning for a forced mode), `check PROG` and
//! `enable` all ask here.
//!
//! - A dynamically linked program: the preload library (`LD_PRELOAD`).
//! - Go 1.21 and later: `GODEBUG=multipathtcp=1`, which the preload mode
//!   sets too (the Go runtime then makes MPTCP sockets itself).
//! - A statically linked program, or Go before 1.21 (whatever its linking:
//!   it makes the socket system call itself): the seccomp supervisor.
//! - A program that changes credentials at exec: no mode (see
//!   [`privilege_obstacle`]).
//! - systemd 257 and later: `SocketProtocol=mptcp` for socket units.

use crate::target::{Elf, GoBuild, Target};
use std::fmt;

/// How the launcher makes a program's TCP sockets MPTCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `LD_PRELOAD` of the shim (and `GODEBUG=multipathtcp=1` for Go 1.21+):
    /// reaches dynamically linked programs that call libc's `socket()`.
    Preload,
    /// A seccomp filter and a supervisor process: reaches every `socket()`
    /// system call of the whole process tree, however it is made.
    Seccomp,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Preload => "preload",
            Mode::Seccomp => "seccomp",
        })
    }
}

/// The first Go release whose runtime reads `GODEBUG=multipathtcp=1`.
const GO_MULTIPATHTCP: (u32, u32) = (1, 21);

/// The first systemd release whose `SocketProtocol=` accepts `mptcp`.
pub const SYSTEMD_SOCKET_PROTOCOL_MPTCP: u32 = 257;

/// True when systemd `version` can give a socket unit `SocketProtocol=mptcp`.
pub fn systemd_has_socket_protocol_mptcp(version: u32) -> bool {
    version >= SYSTEMD_SOCKET_PROTOCOL_MPTCP
}

/// True when the Go runtime that built a program makes its sockets MPTCP
/// itself under `GODEBUG=multipathtcp=1` (Go 1.21 and later, and
/// development builds; not Go before 1.18, whose build info has no version).
pub fn go_reads_godebug(go: &GoBuild) -> bool {
    if go.version.is_empty() {
        return false;
    }
    go.release()
        .is_none_or(|release| release >= GO_MULTIPATHTCP)
}

/// The mode `--mode auto` picks, and why, in words for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub mode: Mode,
    pub reason: String,
}

/// The one rule: the mode that reaches `target`'s sockets, and why. A
/// script is judged by the program that runs it.
pub fn choose(target: &Target) -> Choice {
    let Some((program, elf)) = target.program() else {
        return Choice {
            mode: Mode::Preload,
            reason: format!(
                "{} is not an ELF program mptcpize-rs can read; using the preload library",
                target.path.display()
            ),
        };
    };
    let (mode, why) = needs(elf);
    let via = if program.path != target.path {
        format!(", run by {}", program.path.display())
    } else {
        String::new()
    };
    Choice {
        mode,
        reason: format!("{} is {why}{via}", program.path.display()),
    }
}

/// What an ELF program needs, and the words that say why.
fn needs(elf: &Elf) -> (Mode, String) {
    match (&elf.go, &elf.interpreter) {
        (Some(go), _) if !go_reads_godebug(go) => (
            Mode::Seccomp,
            format!(
                "{}: Go before 1.21 makes its own socket system calls",
                go.describe()
            ),
        ),
        (Some(go), _) => (
            Mode::Preload,
            format!(
                "{}: GODEBUG=multipathtcp=1 turns its sockets to MPTCP",
                go.describe()
            ),
        ),
        (None, None) => (
            Mode::Seccomp,
            "statically linked: LD_PRELOAD cannot reach it (no PT_INTERP)".to_string(),
        ),
        (None, Some(loader)) => (
            Mode::Preload,
            format!("dynamically linked (loader {})", loader.display()),
        ),
    }
}

/// Why a program that `forced` was chosen for by hand will keep TCP
/// sockets, or `None`: the policy wants seccomp and preload was forced.
/// (Seccomp reaches every program, so forcing it is never a mismatch.)
pub fn forced_mismatch(target: &Target, forced: Mode) -> Option<String> {
    let choice = choose(target);
    (forced == Mode::Preload && choice.mode == Mode::Seccomp).then(|| {
        format!(
            "{}; its sockets stay TCP under --mode preload (use --mode seccomp)",
            choice.reason
        )
    })
}

/// Why no mode can work on `target` when the current user runs it, or
/// `None` when it can: the exec would change credentials (set-user-ID or
/// set-group-ID to someone else, file capabilities for a non-root user).
/// Under preload, ld.so then runs in secure-execution mode and ignores
/// `LD_PRELOAD`; under seccomp, `no_new_privs` makes the kernel ignore the
/// set-ID bits and capabilities, so the program would run without them.
/// The obstacle is the same in both modes: `check` never suggests the
/// other one.
pub fn privilege_obstacle(target: &Target, mode: Mode) -> Option<String> {
    let program = target.program().map_or(target, |(t, _)| t);
    let p = program.privileges;
    let (uid, gid) = (rustix::process::getuid(), rustix::process::getgid());
    let what = if let Some(owner) = p.setuid.filter(|&o| o != uid.as_raw()) {
        format!("set-user-ID (to uid {owner})")
    } else if let Some(group) = p.setgid.filter(|&g| g != gid.as_raw()) {
        format!("set-group-ID (to gid {group})")
    } else if p.file_caps && !uid.is_root() {
        "given file capabilities".to_string()
    } else {
        return None;
    };
    let name = program.path.display();
    Some(match mode {
        Mode::Preload => format!(
            "{name} is {what}: ld.so ignores LD_PRELOAD in secure-execution mode, so its sockets would stay TCP; run mptcpize-rs as that user instead"
        ),
        Mode::Seccomp => format!(
            "{name} is {what}: seccomp mode sets no_new_privs, so the kernel would run it without those privileges; run mptcpize-rs as that user instead"
        ),
    })
}

/// What `run --report` can say about `target` under `mode`, when that is
/// less than its connections: a Go 1.21+ program under preload mode (the
/// GODEBUG path) makes and closes its sockets in the Go runtime, past the C
/// library the report library follows. `None` for every other program.
pub fn report_reach(target: &Target, mode: Mode) -> Option<String> {
    let (program, elf) = target.program()?;
    let go = elf.go.as_ref().filter(|go| go_reads_godebug(go))?;
    (mode == Mode::Preload).then(|| {
        format!(
            "--report follows sockets through the C library, and {} is {}, whose runtime makes and closes its sockets without it (GODEBUG=multipathtcp=1 makes them MPTCP): its connections will not be reported, only those of C-library programs it starts; `mptcpize-rs top` shows its MPTCP connections and subflows live",
            program.path.display(),
            go.describe()
        )
    })
}

/// What seccomp mode costs a process tree that relies on set-ID programs:
/// said by `run -d` and `check PROG` whenever seccomp mode is used.
pub const NO_NEW_PRIVS_NOTE: &str = "seccomp mode sets no_new_privs: set-user-ID, set-group-ID and file-capability programs that PROG's descendants start (sudo, ping, su) run without their privileges";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{Kind, Privileges};
    use std::path::PathBuf;

    fn go(v: &str) -> GoBuild {
        GoBuild { version: v.into() }
    }

    #[test]
    fn go_121_and_later_read_godebug() {
        assert!(!go_reads_godebug(&go("go1.19.8")));
        assert!(!go_reads_godebug(&go("go1.20")));
        assert!(!go_reads_godebug(&go("")));
        assert!(go_reads_godebug(&go("go1.21.0")));
        assert!(go_reads_godebug(&go("go1.22rc1")));
        assert!(go_reads_godebug(&go("go2.0")));
        assert!(go_reads_godebug(&go("devel go1.23-abc")));
    }

    #[test]
    fn systemd_257_is_the_first_with_socket_protocol_mptcp() {
        assert!(!systemd_has_socket_protocol_mptcp(252));
        assert!(!systemd_has_socket_protocol_mptcp(256));
        assert!(systemd_has_socket_protocol_mptcp(257));
    }

    fn t(elf: Elf) -> Target {
        Target {
            path: "/p".into(),
            kind: Kind::Elf(elf),
            privileges: Privileges::default(),
        }
    }

    fn elf(v: Option<&str>, interp: Option<&str>) -> Elf {
        Elf {
            interpreter: interp.map(PathBuf::from),
            go: v.map(go),
            id: None,
        }
    }

    #[test]
    fn seccomp_for_static_and_old_go_and_preload_otherwise() {
        let cases = [
            (elf(None, Some("/lib/ld.so")), Mode::Preload),
            (elf(None, None), Mode::Seccomp),
            (elf(Some("go1.19.8"), None), Mode::Seccomp),
            (elf(Some("go1.20"), Some("/lib/ld.so")), Mode::Seccomp),
            (elf(Some("go1.21.1"), None), Mode::Preload),
        ];
        for (e, mode) in cases {
            let target = t(e);
            assert_eq!(choose(&target).mode, mode, "{target:?}");
            // Forcing preload where seccomp is needed is the one mismatch.
            assert_eq!(
                forced_mismatch(&target, Mode::Preload).is_some(),
                mode == Mode::Seccomp
            );
            assert_eq!(forced_mismatch(&target, Mode::Seccomp), None);
        }
    }

    #[test]
    fn the_report_says_up_front_that_it_cannot_follow_go_on_the_godebug_path() {
        let go = t(elf(Some("go1.21.1"), None));
        let note = report_reach(&go, Mode::Preload).unwrap();
        assert!(
            note.contains("/p is a Go program built with go1.21.1")
                && note.contains("its connections will not be reported")
                && note.contains("`mptcpize-rs top`"),
            "{note}"
        );
        // Seccomp mode says its own; C programs and old Go are followed or
        // go to seccomp mode.
        assert_eq!(report_reach(&go, Mode::Seccomp), None);
        assert_eq!(
            report_reach(&t(elf(None, Some("/lib/ld.so"))), Mode::Preload),
            None
        );
        assert_eq!(
            report_reach(&t(elf(Some("go1.19.8"), None)), Mode::Preload),
            None
        );
    }
}
