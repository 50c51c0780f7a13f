//! How each preload library of the workspace (`libmptcpize.so`,
//! `libmptcpize_report.so`) is linked: one call from its build script,
//!
//! ```ignore
//! fn main() { mptcpize_preload_link::link(mptcpize_preload_link::Libdl::Weak) }
//! ```
//!
//! and the library loads on every glibc since 2.17 although it is built on
//! a new one (the house rule: no versioned symbol newer than GLIBC_2.28;
//! `tests/tests/glibc_floor.rs` checks every file we ship).
//!
//! The only symbol our libraries import whose default version is too new
//! is `dlsym`: glibc 2.34 moved it from libdl.so.2 into libc.so.6 as
//! `dlsym@@GLIBC_2.34`, and a library linked against 2.34+ asks for that
//! version, which older loaders refuse ("version `GLIBC_2.34' not found").
//! Here the library imports `dlsym` *unversioned* and *weak*, which every
//! loader resolves to whatever default `dlsym` the process has: libc.so.6's
//! on glibc 2.34+, libdl.so.2's before (when the program loaded libdl), or
//! else nothing (NULL, not an error). Every other import keeps its version.
//!
//! - Unversioned: the linker records a symbol's version from the library it
//!   found it in, so `dlsym` is found first in a stub built here: a shared
//!   object that defines `dlsym` and nothing else. The linker drops it from
//!   the library's DT_NEEDED (`--as-needed`: only a weak reference uses
//!   it); its soname is `libdl.so.2`, so that the crate's unit-test
//!   programs, which link it too and call `dlsym` strongly, need a file
//!   every glibc has (their `dlsym` is then found in the process as well).
//! - Weak: Rust cannot declare a weak import, so the Rust code keeps calling
//!   `dlsym` and the linker redirects those calls (`--wrap=dlsym`) to
//!   `__wrap_dlsym`, a five-instruction trampoline assembled here that jumps
//!   to the weak `dlsym`, or returns NULL when it is not there.
//!
//! No zig, no old sysroot: the system's cc and ld. A *versioned* weak
//! reference (`dlsym@GLIBC_2.2.5`, the old version) does not work: glibc's
//! loader fails a versioned lookup outright when the file the version is
//! recorded for (libc.so.6) lacks the symbol, weak or not.
//!
//! Before 2.34 `dlsym` lives in libdl.so.2, which a program may not have
//! loaded. [`Libdl`] chooses what the library does about it.

use std::path::PathBuf;

/// Where `dlsym` comes from on glibc before 2.34.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Libdl {
    /// The reference is weak and libdl.so.2 is not needed: on glibc 2.34+
    /// (libc.so.6 has dlsym) and on older ones in programs that load
    /// libdl.so.2 themselves, `dlsym` works; otherwise `dlsym` returns NULL
    /// and the library must manage without it (the core shim then makes
    /// the system call itself). For the core shim, which every program of
    /// a service loads: libdl.so.2 would cost each process ~11,000
    /// instructions at start, almost doubling the shim's load cost.
    Weak,
    /// libdl.so.2 is a DT_NEEDED library: `dlsym` always works (on glibc
    /// 2.34+ libdl.so.2 is an empty stub). For libraries whose load cost
    /// does not matter (the report's, loaded only by `run --report`).
    Needed,
}

/// Emits the link arguments of a preload library: call it from the
/// cdylib's build script.
pub fn link(libdl: Libdl) {
    // No C start files (crti, crtbegin): the library has no C++
    // destructors, TM clones or gprof hooks for them to serve, and their
    // weak references (`__gmon_start__`, `_ITM_*`, `__cxa_finalize`) are
    // symbol look-ups every program would pay for when it loads the
    // library. libc is named explicitly so that the library still records
    // its DT_NEEDED and the symbol versions it was built against.
    arg("-nostartfiles");
    arg("-Wl,--push-state,--no-as-needed,-lc,--pop-state");
    if libdl == Libdl::Needed {
        arg("-Wl,--push-state,--no-as-needed,-l:libdl.so.2,--pop-state");
    }
    let Some(arch) = Arch::target() else {
        // Another architecture: the default binding (the floor test, which
        // runs on x86_64, does not cover it).
        return;
    };
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR (cargo sets it)"))
        .join("glibc-floor");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/glibc-floor");
    // The stub, found by the linker before libc.so.6 (a library of the
    // crate itself comes before those of its dependencies, such as the libc
    // crate's -lc).
    let stub_src = dir.join("dlsym-stub.s");
    std::fs::write(&stub_src, STUB).expect("write the stub's source");
    let stub = dir.join(format!("lib{STUB_NAME}.so"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = std::process::Command::new(&cc)
        .args(["-shared", "-nostdlib", "-o"])
        .arg(&stub)
        .arg("-Wl,-soname,libdl.so.2")
        .arg(&stub_src)
        .status()
        .unwrap_or_else(|e| panic!("run {cc} to build the dlsym stub: {e}"));
    assert!(status.success(), "{cc} failed to build the dlsym stub");
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib={STUB_NAME}");
    // The trampoline: the compiler driver assembles a .s file given on the
    // command line and links it in.
    let trampoline = dir.join("dlsym-trampoline.s");
    std::fs::write(&trampoline, arch.trampoline).expect("write the dlsym trampoline");
    arg(trampoline.to_str().expect("OUT_DIR is UTF-8"));
    arg("-Wl,--wrap=dlsym");
}

fn arg(a: &str) {
    println!("cargo:rustc-cdylib-link-arg={a}");
}

/// The name the stub is linked as (never installed).
const STUB_NAME: &str = "mptcpize_dlsym_stub";

/// A shared object defining `dlsym` (unversioned) and nothing else.
const STUB: &str = "\
\t.text
\t.globl dlsym
\t.type dlsym, @function
dlsym:
\tud2
\t.size dlsym, .-dlsym
\t.section .note.GNU-stack,\"\",@progbits
";

/// What differs between the architectures covered.
struct Arch {
    /// `__wrap_dlsym`, which every call to `dlsym` in the library reaches:
    /// it jumps to the weak `dlsym` (`__real_dlsym` under `--wrap`), or
    /// returns NULL when that is unresolved (glibc before 2.34 in a
    /// process without libdl.so.2).
    trampoline: &'static str,
}

impl Arch {
    fn target() -> Option<Arch> {
        match std::env::var("CARGO_CFG_TARGET_ARCH").ok()?.as_str() {
            "x86_64" => Some(Arch { trampoline: X86_64 }),
            _ => None,
        }
    }
}

const X86_64: &str = "\
\t.text
\t.globl __wrap_dlsym
\t.hidden __wrap_dlsym
\t.type __wrap_dlsym, @function
__wrap_dlsym:
\tmovq __real_dlsym@GOTPCREL(%rip), %rax
\ttestq %rax, %rax
\tjz 1f
\tjmp *%rax
1:\tret
\t.size __wrap_dlsym, .-__wrap_dlsym
\t.weak __real_dlsym
\t.section .note.GNU-stack,\"\",@progbits
";
