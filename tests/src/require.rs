//! Preconditions of the tests that need root and a kernel with MPTCP. Where
//! they are missing a test skips with a printed reason, except in CI
//! (`CI=true`), which runs as root on an MPTCP kernel: there a missing
//! precondition fails the test, so that no test silently stops running.

/// Skips the calling test (returns from it) unless this process is root and
/// the kernel can make MPTCP sockets.
#[macro_export]
macro_rules! require_root_mptcp {
    () => {
        if let Err(why) = $crate::require::root_mptcp() {
            if $crate::require::in_ci() {
                panic!("CI must run this test, but: {why}");
            }
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// Skips the calling test (returns from it) unless this process is root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::require::is_root() {
            if $crate::require::in_ci() {
                panic!("CI must run this test, but it needs root");
            }
            eprintln!("SKIPPED: needs root");
            return;
        }
    };
}

/// Skips the calling test unless `program` is on PATH (fails in CI).
#[macro_export]
macro_rules! require_program {
    ($program:expr) => {
        if !$crate::require::on_path($program) {
            let why = format!("{} is not installed", $program);
            if $crate::require::in_ci() {
                panic!("CI must run this test, but: {why}");
            }
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// True when this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// True in CI.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Root, network namespaces and MPTCP sockets, or the reason why not.
pub fn root_mptcp() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root (network namespaces)".into());
    }
    if !on_path("ip") {
        return Err("needs iproute2's `ip`".into());
    }
    // SAFETY: socket() takes integers; the fd is closed right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_MPTCP) };
    if fd < 0 {
        return Err(format!(
            "this kernel makes no MPTCP socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: closing the fd just created.
    unsafe { libc::close(fd) };
    Ok(())
}

/// True when `program` is an executable file in a PATH directory.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
