//! Link the shim without the C runtime's start files (crti, crtbegin): it
//! has no C++ destructors, TM clones or gprof hooks for them to serve, and
//! their weak references (`__gmon_start__`, `_ITM_*`, `__cxa_finalize`) are
//! symbol look-ups every program pays for when it loads the shim. libc is
//! named explicitly so that the library still records its DT_NEEDED and
//! the symbol versions it was built against.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-nostartfiles");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--push-state,--no-as-needed,-lc,--pop-state");
}
