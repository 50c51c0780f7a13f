//! The glibc floor (house rule: what we ship loads on glibc 2.28, RHEL 8):
//! no file that `make install` installs needs a versioned glibc symbol newer
//! than GLIBC_2.28, the launcher is statically linked, and the preload
//! libraries need nothing but the C library. The packages' contents are
//! checked the same way in `packages.rs`; `debian11.rs` runs them on glibc
//! 2.31.

use mptcpize_tests::shipped::{self, install, needs};
use mptcpize_tests::{require_program, shim};

#[test]
fn installed_files_need_glibc_2_28_at_most() {
    require_program!("make");
    let dest = install("/usr/local");
    let root = dest.path();
    let lines = shipped::assert_glibc_floor(root);
    eprintln!(
        "newest glibc version needed, per installed file:\n  {}",
        lines.join("\n  ")
    );

    // Not vacuous: the launcher and every preload library were checked.
    let launcher = root.join("usr/local/bin/mptcpize-rs");
    assert!(needs(&launcher).is_static(), "{:?}", needs(&launcher));
    for lib in shipped::PRELOAD_LIBRARIES {
        let path = root.join("usr/local/lib/mptcpize-rs").join(lib);
        let n = needs(&path);
        assert!(!n.interp, "{lib} is a library");
        assert!(
            n.newest_glibc().is_some(),
            "{lib} is linked against glibc: {n:?}"
        );
        // The C library only (the report library libdl.so.2 too, for dlsym
        // before glibc 2.34): nothing the link helper used leaks into them.
        let allowed: &[&str] = if lib.contains("report") {
            &["libc.so.6", "libdl.so.2"]
        } else {
            &["libc.so.6"]
        };
        let mut needed = n.libraries.clone();
        needed.sort();
        assert_eq!(needed, allowed, "{lib}: {n:?}");
    }
}

/// The tests' own build of the shim is linked the same way (one build
/// helper for every profile), so that `cargo build` users get it too.
#[test]
fn the_development_build_of_the_shim_meets_the_floor_too() {
    let n = needs(&shim());
    let newest = n.newest_glibc().expect("linked against glibc");
    assert!(
        newest <= shipped::GLIBC_FLOOR,
        "{}: needs GLIBC_{}: {n:?}",
        shim().display(),
        shipped::show_version(newest)
    );
}
