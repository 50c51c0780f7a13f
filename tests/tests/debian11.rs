//! What `make install` installs, run on Debian 11 (bullseye, glibc 2.31,
//! older than the 2.34 that moved dlsym into libc.so.6): a debootstrap'd
//! minbase root (see `shipped::Debian11`), entered with chroot in private
//! mount and PID namespaces. Its perl, a dynamically linked program of that
//! system, gets an MPTCP socket under `mptcpize-rs run` and with
//! `LD_PRELOAD=$(mptcpize-rs preload-path)`; programs that do not load
//! libdl.so.2 (where dlsym lives before 2.34) start, convert their sockets
//! (through the system call) and exit normally with the shim preloaded.

use mptcpize_tests::shipped::{install, Debian11};
use mptcpize_tests::{require_program, require_root_mptcp};

/// Prints the protocol of a new TCP socket (SO_PROTOCOL = 38): 6 for TCP,
/// 262 for MPTCP.
const PERL_PROTOCOL: &str = r#"perl -MSocket -e 'socket(my $s, AF_INET, SOCK_STREAM, 0) or die "socket: $!\n"; print unpack("i", getsockopt($s, SOL_SOCKET, 38)), "\n"'"#;

#[test]
fn installed_files_work_on_debian_11() {
    require_root_mptcp!();
    require_program!("debootstrap");
    require_program!("unshare");
    require_program!("make");
    let dest = install("/usr/local");
    let debian = Debian11::new();
    debian.add_tree(dest.path());
    // A TCP server (perl, not under the shim) that prints what it receives,
    // for logger, which has no libdl.so.2: its messages must arrive.
    let port = 20000 + std::process::id() % 10000;
    let out = debian.run(&format!(
        "set -e; echo debian=$(cat /etc/debian_version); ldd --version | head -n 1; \
         echo plain=$({PERL_PROTOCOL}); \
         echo run=$(mptcpize-rs run {PERL_PROTOCOL}); \
         echo preload=$(LD_PRELOAD=$(mptcpize-rs preload-path) {PERL_PROTOCOL}); \
         echo path=$(mptcpize-rs preload-path); \
         LD_PRELOAD=$(mptcpize-rs preload-path) /bin/true && echo true=$?; \
         mptcpize-rs run ls / >/dev/null && echo ls=$?; \
         timeout 60 perl -MIO::Socket::INET -e '$l = IO::Socket::INET->new(LocalAddr => \"127.0.0.1:{port}\", Listen => 1, ReuseAddr => 1) or die \"listen: $!\"; print \"listening\\n\"; STDOUT->flush; $c = $l->accept; print \"received: \", scalar <$c>' > /tmp/server.out & \
         for i in $(seq 300); do grep -q listening /tmp/server.out && break; sleep 0.1; done; \
         mptcpize-rs run -d logger --tcp -n 127.0.0.1 -P {port} hello-from-logger 2>/tmp/logger.err && echo logger=$?; \
         wait; cat /tmp/server.out /tmp/logger.err"
    ));
    out.assert_success();
    let said = |key: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= line:\n{out}"))
            .to_string()
    };
    assert!(
        said("debian").starts_with("11."),
        "a Debian 11 root:\n{out}"
    );
    assert!(out.stdout.contains("GLIBC 2.31"), "glibc 2.31:\n{out}");
    assert_eq!(said("plain"), "6", "without the shim, TCP:\n{out}");
    assert_eq!(said("run"), "262", "mptcpize-rs run perl: MPTCP:\n{out}");
    assert_eq!(said("preload"), "262", "LD_PRELOAD perl: MPTCP:\n{out}");
    assert_eq!(
        said("path"),
        "/usr/local/lib/mptcpize-rs/libmptcpize.so",
        "{out}"
    );
    assert_eq!(said("true"), "0", "{out}");
    assert_eq!(said("ls"), "0", "{out}");
    assert_eq!(said("logger"), "0", "{out}");
    assert!(
        out.stdout.contains("received: <") && out.stdout.contains("hello-from-logger"),
        "the logger's message arrived:\n{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("socket(AF_INET, SOCK_STREAM") && l.ends_with(": MPTCP")),
        "logger's socket was MPTCP:\n{out}"
    );
    assert!(!out.stderr.contains("GLIBC_"), "no version error:\n{out}");
}
