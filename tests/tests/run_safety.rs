//! What `run`, `preload-path` and `check` do when the user's side is
//! hostile or broken (issue 12): a report destination that is no plain
//! file, our own stdout or stderr full or closed, a shim that cannot load,
//! a PROG the system refuses. Each test asserts what the user sees: the
//! exit status, the one line on stderr, the bytes of the files involved.

use mptcpize_tests::proc::run;
use mptcpize_tests::{launcher, mptcpize, require_program, require_root, shim, Output, ScratchDir};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Exit `code`, nothing on stdout, one `mptcpize-rs: …` line on stderr
/// containing `message`.
#[track_caller]
fn assert_fails(out: &Output, code: i32, message: &str) {
    assert_eq!(out.code(), code, "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert_one_line(out, "mptcpize-rs: ", message);
}

/// Exactly one line on stderr, starting with `prefix` and containing
/// `message`.
#[track_caller]
fn assert_one_line(out: &Output, prefix: &str, message: &str) {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {out}");
    assert!(
        lines[0].starts_with(prefix) && lines[0].contains(message),
        "{out}"
    );
}

/// `sh -c SCRIPT` with the launcher as `$0`: for redirections like
/// `2>/dev/full`, which is how a user meets them.
fn shell(script: &str) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg(launcher());
    cmd.env_remove("LD_PRELOAD").env_remove("MPTCPIZE_LIB");
    run(cmd, T)
}

// --- 1. The report destination is checked before PROG starts. ---

#[test]
fn a_report_symlink_is_refused_and_its_target_untouched() {
    let dir = ScratchDir::new();
    let target = dir.join("precious");
    std::fs::write(&target, b"keep me\n").unwrap();
    let link = dir.join("report.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let arg = format!("--report={}", link.display());
    let out = run(mptcpize(&["run", &arg, "true"]), T);
    assert_fails(&out, 125, "is a symbolic link");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me\n");
}

#[test]
fn a_report_on_a_block_device_is_refused_and_the_device_untouched() {
    require_root!();
    require_program!("losetup");
    let dir = ScratchDir::new();
    let backing = dir.join("disk.img");
    let pattern: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&backing, &pattern).unwrap();
    let out = run(
        {
            let mut c = Command::new("losetup");
            c.args(["--find", "--show"]).arg(&backing);
            c
        },
        T,
    );
    out.assert_success();
    let device = out.stdout.trim().to_string();
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = Command::new("losetup").args(["-d", &self.0]).status();
        }
    }
    let _detach = Detach(device.clone());
    let arg = format!("--report={device}");
    let out = run(mptcpize(&["run", &arg, "true"]), T);
    assert_fails(&out, 125, "is a block device");
    assert_eq!(std::fs::read(&backing).unwrap(), pattern);
}

#[test]
fn a_report_fifo_without_a_reader_never_blocks() {
    let dir = ScratchDir::new();
    let fifo = dir.join("fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let arg = format!("--report={}", fifo.display());
    // Before: the launcher hung in open(2) until a reader came.
    let out = run(mptcpize(&["run", &arg, "true"]), Duration::from_secs(10));
    assert_fails(&out, 125, "no reader");
}

#[test]
fn a_report_directory_or_missing_parent_is_refused_and_a_new_file_is_made() {
    let dir = ScratchDir::new();
    let arg = format!("--report={}", dir.path().display());
    assert_fails(
        &run(mptcpize(&["run", &arg, "true"]), T),
        125,
        "is a directory",
    );
    let arg = format!("--report={}", dir.join("no/such/dir/r.log").display());
    assert_fails(
        &run(mptcpize(&["run", &arg, "true"]), T),
        125,
        "No such file or directory",
    );
    // A regular file is appended to, never truncated.
    let file = dir.join("r.log");
    std::fs::write(&file, b"earlier run\n").unwrap();
    let arg = format!("--report={}", file.display());
    let out = run(mptcpize(&["run", &arg, "true"]), T);
    out.assert_success();
    assert!(std::fs::read(&file).unwrap().starts_with(b"earlier run\n"));
}

// --- 2. Our own output failing never stops PROG. ---

#[test]
fn a_full_stderr_never_stops_the_program() {
    // Before: the debug line panicked, abort, 134.
    let out = shell("\"$0\" run -d sh -c 'exit 7' 2>/dev/full; echo status=$?");
    assert_eq!(out.stdout, "status=7\n", "{out}");
    let out = shell("\"$0\" run -d true 2>/dev/full; echo status=$?");
    assert_eq!(out.stdout, "status=0\n", "{out}");
}

#[test]
fn a_closed_stderr_pipe_never_kills_the_program() {
    for mode in ["preload", "seccomp"] {
        if mode == "seccomp" && !mptcpize_tests::require::on_path("busybox") {
            continue;
        }
        let mut fds = [0; 2];
        // SAFETY: pipe() fills two ints we own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: two fresh fds nothing else owns; the read end is closed
        // at once, so writing to the other fails with EPIPE (or SIGPIPE).
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let mut cmd = mptcpize(&["run", "-d", "--mode", mode, "busybox", "sh", "-c", "exit 7"]);
        if mode == "preload" {
            cmd = mptcpize(&["run", "-d", "--mode", mode, "sh", "-c", "exit 7"]);
        }
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(write))
            .status()
            .unwrap();
        // Before: killed by SIGPIPE (141).
        assert_eq!(out.code(), Some(7), "--mode {mode}: {out:?}");
    }
}

#[test]
fn output_that_is_the_product_reports_a_write_error_in_one_line() {
    for args in ["preload-path", "check", "check --json"] {
        let out = shell(&format!("\"$0\" {args} >/dev/full; echo status=$?"));
        // Before: a panic ("failed printing to stdout"), abort, 134.
        assert_eq!(out.stdout, "status=1\n", "{args}: {out}");
        assert_one_line(
            &out,
            "mptcpize-rs: cannot write the output: ",
            "No space left on device",
        );
    }
}

// --- 4. If the shim cannot load, nobody is told MPTCP. ---

/// The shim at a path of our choosing (a hard link: no copy to go stale).
fn shim_at(dir: &ScratchDir, name: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::hard_link(shim(), &path).unwrap();
    path.to_str().unwrap().to_string()
}

/// An ELF shared object header of another machine (aarch64 on x86_64, and
/// x86_64 elsewhere): 64 bytes, enough for ld.so to refuse it.
fn foreign_elf(path: &Path) {
    let machine: u16 = if cfg!(target_arch = "x86_64") {
        183
    } else {
        62
    };
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1; // version
    h[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    std::fs::write(path, h).unwrap();
}

#[test]
fn a_shim_that_cannot_load_is_refused_with_no_fallback_and_warned_about_otherwise() {
    let dir = ScratchDir::new();
    let text = dir.join("not-elf.so");
    std::fs::write(&text, "not a library\n").unwrap();
    let foreign = dir.join("foreign.so");
    foreign_elf(&foreign);
    let cases = [
        (
            text.to_str().unwrap().to_string(),
            "is not an ELF shared library",
        ),
        (
            foreign.to_str().unwrap().to_string(),
            "is built for another machine",
        ),
        (
            shim_at(&dir, "with space/libmptcpize.so"),
            "LD_PRELOAD cannot carry",
        ),
        (
            shim_at(&dir, "with:colon/libmptcpize.so"),
            "LD_PRELOAD cannot carry",
        ),
    ];
    for (lib, why) in &cases {
        // Before: the program ran over TCP, exit 0, even with --no-fallback.
        let mut cmd = mptcpize(&["run", "--no-fallback", "sh", "-c", "echo ran"]);
        cmd.env("MPTCPIZE_LIB", lib);
        assert_fails(&run(cmd, T), 125, why);
        // Without --no-fallback: one warning, and the program runs.
        let mut cmd = mptcpize(&["run", "sh", "-c", "echo ran"]);
        cmd.env("MPTCPIZE_LIB", lib);
        let out = run(cmd, T);
        out.assert_success();
        assert_eq!(out.stdout, "ran\n", "{lib}: {out}");
        assert_one_line(&out, "mptcpize-rs: warning: ", why);
    }
}

// --- 8. Messages say the true cause; exit codes follow env(1). ---

#[test]
fn eloop_and_enametoolong_are_126_in_the_systems_words() {
    let dir = ScratchDir::new();
    let looped = dir.join("loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    // Before: 127, "no such file".
    assert_fails(
        &run(mptcpize(&["run", looped.to_str().unwrap()]), T),
        126,
        "too many levels of symbolic links",
    );
    let long = dir.join("x".repeat(300));
    assert_fails(
        &run(mptcpize(&["run", long.to_str().unwrap()]), T),
        126,
        "file name too long",
    );
    assert_fails(
        &run(mptcpize(&["check", looped.to_str().unwrap()]), T),
        126,
        "too many levels of symbolic links",
    );
}

#[test]
fn eacces_on_a_directory_of_prog_is_126_permission_denied() {
    require_root!();
    require_program!("setpriv");
    // The launcher where nobody can run it, whatever the checkout's mode.
    let top = Path::new("/run/mptcpize-tests-eacces");
    let _ = std::fs::remove_dir_all(top);
    std::fs::create_dir_all(top.join("closed")).unwrap();
    struct Gone(&'static Path);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0);
        }
    }
    let _gone = Gone(top);
    std::fs::set_permissions(top, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(launcher(), top.join("mptcpize-rs")).unwrap();
    std::fs::copy("/bin/true", top.join("closed/true")).unwrap();
    std::fs::set_permissions(top.join("closed"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(top.join("mptcpize-rs"))
        .args(["run", "/run/mptcpize-tests-eacces/closed/true"])
        .env("MPTCPIZE_LIB", shim());
    // Before: 127, "no such file".
    assert_fails(&run(cmd, T), 126, "closed/true: permission denied");
}

#[test]
fn env_s_scripts_are_judged_by_the_real_interpreter() {
    require_program!("busybox");
    let dir = ScratchDir::new();
    let script = dir.join("bb");
    std::fs::write(&script, "#!/usr/bin/env -S busybox sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let busybox = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("busybox"))
        .find(|p| p.is_file())
        .unwrap();
    // Before: "run by /usr/bin/env", preload mode, sockets left TCP.
    let out = run(mptcpize(&["run", "-d", script.to_str().unwrap()]), T);
    out.assert_success();
    assert!(
        out.stderr.contains("seccomp mode:")
            && out
                .stderr
                .contains(&format!("run by {}", busybox.display())),
        "{out}"
    );
    let out = run(mptcpize(&["check", script.to_str().unwrap()]), T);
    assert!(
        out.stdout.contains("run would use seccomp mode")
            && out
                .stdout
                .contains(&format!("run by {}", busybox.display())),
        "{out}"
    );
}

#[test]
fn check_never_suggests_a_mode_that_refuses_a_set_gid_program() {
    require_root!();
    let dir = ScratchDir::new();
    let prog = dir.join("setgid-true");
    std::fs::copy("/bin/true", &prog).unwrap();
    std::os::unix::fs::chown(&prog, None, Some(65534)).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o2755)).unwrap();
    let out = run(mptcpize(&["check", prog.to_str().unwrap()]), T);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("set-group-ID"))
        .unwrap_or_else(|| panic!("no set-group-ID line: {out}"));
    // Before: "try `mptcpize-rs run --mode seccomp`", which refuses it too.
    assert!(!line.contains("--mode"), "{out}");
    for mode in ["preload", "seccomp"] {
        let out = run(
            mptcpize(&["run", "--mode", mode, prog.to_str().unwrap()]),
            T,
        );
        assert_eq!(out.code(), 125, "--mode {mode}: {out}");
    }
}

#[test]
fn a_read_only_file_system_is_named_as_such() {
    require_root!();
    let img = mptcpize_tests::systemd::Image::new(Some(252));
    img.unit(
        "web.service",
        "[Service]\nExecStart=/usr/bin/python3 -m http.server\n",
    );
    let before = img.snapshot();
    // The image read-only, in a mount namespace of the test's own.
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(
            "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" \
             && exec \"$0\" enable web --root \"$1\"",
        )
        .arg(launcher())
        .arg(img.root());
    let out = run(cmd, T);
    // Before: "no permission to write in …; run as root".
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        out.stderr.contains("is on a read-only file system") && !out.stderr.contains("run as root"),
        "{out}"
    );
    assert_eq!(img.snapshot(), before);
}

/// The launcher ignores SIGPIPE for itself only: PROG gets the disposition
/// the launcher was started with, in both modes.
#[test]
fn the_program_keeps_the_sigpipe_disposition_it_was_given() {
    // SIGPIPE is signal 13: bit 12 of the SigIgn mask.
    let ignored = |mode: &str, trap: &str| {
        let out = shell(&format!(
            "{trap} exec \"$0\" run --mode {mode} busybox sh -c 'grep SigIgn /proc/self/status'"
        ));
        out.assert_success();
        let mask = out
            .stdout
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("{out}"));
        u64::from_str_radix(mask, 16).unwrap() & (1 << 12) != 0
    };
    require_program!("busybox");
    for mode in ["preload", "seccomp"] {
        assert!(!ignored(mode, ""), "--mode {mode}: SIGPIPE ignored");
        assert!(
            ignored(mode, "trap '' PIPE;"),
            "--mode {mode}: SIGPIPE not ignored"
        );
    }
}

// --- 7. What seccomp mode costs set-ID programs is said. ---

#[test]
fn run_d_and_check_say_that_set_id_programs_lose_their_privileges() {
    require_program!("busybox");
    let out = run(mptcpize(&["run", "-d", "busybox", "true"]), T);
    out.assert_success();
    assert!(
        out.stderr.contains("seccomp mode sets no_new_privs")
            && out.stderr.contains("run without their privileges"),
        "{out}"
    );
    let out = run(mptcpize(&["check", "busybox"]), T);
    assert!(
        out.stdout.lines().any(|l| l.starts_with("info program:")
            && l.contains("no_new_privs")
            && l.contains("run without their privileges")),
        "{out}"
    );
    // Preload mode says nothing of the kind.
    let out = run(mptcpize(&["run", "-d", "true"]), T);
    assert!(!out.stderr.contains("no_new_privs"), "{out}");
}
