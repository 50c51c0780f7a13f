//! The Debian and RPM packages, built as `make deb` and `make rpm` build
//! them (so a packaging break fails the tests, and CI): their files and
//! where they go, their dependencies no stricter than the glibc floor, no
//! error from lintian or rpmlint, every ELF file in them within the floor;
//! then each installed into the Debian 11 root (the .deb with dpkg, which
//! checks its Depends against bullseye's libc6 2.31; the .rpm with
//! `rpm -i --root`) and its launcher run there, finding its libraries where
//! the package put them.

use mptcpize_tests::artifacts::workspace;
use mptcpize_tests::proc::run;
use mptcpize_tests::shipped::{
    assert_glibc_floor, built_package, glibc_version, make, show_version, unpack_deb, unpack_rpm,
    Debian11, GLIBC_FLOOR, PRELOAD_LIBRARIES,
};
use mptcpize_tests::{require_program, require_root};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(600);

/// Prints the protocol of a new TCP socket: 262 for MPTCP.
const PERL_PROTOCOL: &str = r#"perl -MSocket -e 'socket(my $s, AF_INET, SOCK_STREAM, 0) or die "socket: $!\n"; print unpack("i", getsockopt($s, SOL_SOCKET, 38)), "\n"'"#;

fn output(program: &str, args: &[&str], file: &Path) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args).arg(file);
    let out = run(cmd, T);
    out.assert_success();
    out.stdout
}

/// The files a package must hold, under the prefix /usr and its libraries'
/// directory.
fn expected_files(libdir: &str, zsh: &str) -> Vec<String> {
    let mut files = vec!["/usr/bin/mptcpize-rs".to_string()];
    files.extend(PRELOAD_LIBRARIES.iter().map(|l| format!("{libdir}/{l}")));
    for page in [
        "",
        "-run",
        "-preload-path",
        "-check",
        "-enable",
        "-disable",
        "-status",
    ] {
        files.push(format!("/usr/share/man/man1/mptcpize-rs{page}.1.gz"));
    }
    files.push("/usr/share/bash-completion/completions/mptcpize-rs".into());
    files.push(format!("{zsh}/_mptcpize-rs"));
    files.push("/usr/share/fish/vendor_completions.d/mptcpize-rs.fish".into());
    files
}

#[test]
fn deb_package_installs_and_runs_on_debian_11() {
    require_root!();
    require_program!("cargo-deb");
    require_program!("dpkg-deb");
    require_program!("lintian");
    require_program!("debootstrap");
    make(&["deb"]);
    let deb = built_package(&workspace().join("target/debian"), ".deb");

    let listing = output("dpkg-deb", &["-c"], &deb);
    for file in expected_files("/usr/lib/mptcpize-rs", "/usr/share/zsh/vendor-completions") {
        assert!(
            listing.contains(&format!(".{file}\n")),
            "{file} in:\n{listing}"
        );
    }
    let depends = {
        let mut cmd = Command::new("dpkg-deb");
        cmd.arg("-f").arg(&deb).arg("Depends");
        let out = run(cmd, T);
        out.assert_success();
        out.stdout.trim().to_string()
    };
    // Computed by dpkg-shlibdeps (cargo-deb's $auto) from the libraries.
    let libc = depends
        .split(',')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("libc6 (>= ")?.strip_suffix(')'))
        .unwrap_or_else(|| panic!("Depends names libc6 with a version: {depends}"));
    let version = glibc_version(&format!("GLIBC_{libc}")).unwrap();
    assert!(version <= GLIBC_FLOOR, "Depends: {depends}");

    let unpacked = unpack_deb(&deb);
    eprintln!("{}", assert_glibc_floor(unpacked.path()).join("\n"));

    let lintian = {
        let mut cmd = Command::new("lintian");
        cmd.args(["--tag-display-limit", "0"]).arg(&deb);
        run(cmd, T)
    };
    eprintln!("lintian:\n{lintian}");
    assert!(
        !lintian.stdout.lines().any(|l| l.starts_with("E: ")),
        "lintian errors:\n{lintian}"
    );
    assert!(
        !lintian.stdout.contains("no-md5sums-control-file"),
        "{lintian}"
    );

    eprintln!(
        "{}: {} bytes",
        deb.display(),
        std::fs::metadata(&deb).unwrap().len()
    );
    let debian = Debian11::new();
    std::fs::copy(&deb, debian.add().join("mptcpize-rs.deb")).unwrap();
    let out = debian.run(&format!(
        "set -e; dpkg -i /mptcpize-rs.deb; \
         echo path=$(mptcpize-rs preload-path); \
         echo run=$(mptcpize-rs run {PERL_PROTOCOL}); \
         dpkg -r mptcpize-rs >/dev/null; test ! -e /usr/lib/mptcpize-rs && test ! -e /usr/bin/mptcpize-rs && echo removed=yes"
    ));
    out.assert_success();
    assert!(
        out.stdout
            .contains("path=/usr/lib/mptcpize-rs/libmptcpize.so\n"),
        "{out}"
    );
    assert!(out.stdout.contains("run=262\n"), "{out}");
    assert!(
        out.stdout.contains("removed=yes\n"),
        "dpkg -r removes it all:\n{out}"
    );
}

#[test]
fn rpm_package_installs_and_runs_from_its_fedora_layout() {
    require_root!();
    require_program!("cargo-generate-rpm");
    require_program!("rpm");
    require_program!("rpmlint");
    require_program!("debootstrap");
    make(&["rpm"]);
    let rpm = built_package(&workspace().join("target/generate-rpm"), ".x86_64.rpm");
    let name = rpm.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        name,
        format!("mptcpize-rs-{}-1.x86_64.rpm", env!("CARGO_PKG_VERSION"))
    );

    eprintln!(
        "{}: {} bytes",
        rpm.display(),
        std::fs::metadata(&rpm).unwrap().len()
    );
    let listing = output("rpm", &["-qpl"], &rpm);
    for file in expected_files("/usr/lib64/mptcpize-rs", "/usr/share/zsh/site-functions") {
        assert!(listing.lines().any(|l| l == file), "{file} in:\n{listing}");
    }
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("/usr/share/licenses/mptcpize-rs/")),
        "a license file:\n{listing}"
    );
    let info = output("rpm", &["-qpi"], &rpm);
    assert!(info.contains("License     : MIT OR Apache-2.0"), "{info}");

    let requires = output("rpm", &["-qp", "--requires"], &rpm);
    for line in requires.lines() {
        // libc.so.6(GLIBC_2.2.5)(64bit), rpmlib(…), /bin/sh …
        if let Some(v) = line.split(['(', ')']).find_map(glibc_version) {
            assert!(
                v <= GLIBC_FLOOR,
                "Requires {line} (GLIBC_{})",
                show_version(v)
            );
        }
    }
    assert!(requires.contains("libc.so.6"), "{requires}");

    let unpacked = unpack_rpm(&rpm);
    eprintln!("{}", assert_glibc_floor(unpacked.path()).join("\n"));

    let rpmlint = {
        // The findings we chose against (a static launcher, no signature,
        // tags the tool cannot set) are filtered there, each with its reason.
        let mut cmd = Command::new("rpmlint");
        cmd.arg("-r")
            .arg(workspace().join("launcher/rpmlintrc"))
            .arg(&rpm);
        run(cmd, T)
    };
    eprintln!("rpmlint:\n{rpmlint}");
    assert!(
        rpmlint.stdout.contains(" 0 errors"),
        "rpmlint errors:\n{rpmlint}"
    );

    // Installed with rpm into a root of its own, then that root's files put
    // over Debian 11's: the launcher in /usr/bin must find the libraries in
    // /usr/lib64/mptcpize-rs (compiled in: ../lib/mptcpize-rs does not exist).
    let debian = Debian11::new();
    let mut install = Command::new("rpm");
    install
        .args(["-i", "--nodeps", "--nosignature", "--root"])
        .arg(debian.add())
        .arg(&rpm);
    run(install, T).assert_success();
    assert!(debian
        .add()
        .join("usr/lib64/mptcpize-rs/libmptcpize.so")
        .is_file());
    let out = debian.run(&format!(
        "set -e; echo path=$(mptcpize-rs preload-path); echo run=$(mptcpize-rs run {PERL_PROTOCOL})"
    ));
    out.assert_success();
    assert!(
        out.stdout
            .contains("path=/usr/lib64/mptcpize-rs/libmptcpize.so\n"),
        "{out}"
    );
    assert!(out.stdout.contains("run=262\n"), "{out}");
}
